"""Where the mail export's CPU goes, stage by stage, in one process (no HTTP).

    .venv/bin/python bench/mail_stages.py            # the 1 GiB Maildir of mail_export.py
    .venv/bin/python bench/mail_stages.py --profile  # and a cProfile of the full archive

Uses the Maildir that bench/mail_export.py prepared (run it once first), starts Dovecot
on it and measures, interleaved over the rounds, the CPU time of this process (every
thread, user + system) per GiB fetched:

- `imaplib`: the bare loop of mail_export.py (the floor);
- `stream`: the connector's streamed FETCH, each literal read into one reused buffer;
- `mbox`: the connector's export (mboxrd chunks), chunks dropped;
- `inline`: the export, SHA-256 and CRC-32 on one thread (what `archive` does, no hand-off);
- `archive`: the whole ZIP (ExportArchive: its reader thread, which hashes, and CRC-32),
  dropped;
- `archive+socket`: the same, sent through a local socket to a thread that drops it.

CPU time holds up under load much better than wall time; the load is printed beside it.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import socket
import statistics
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

from mail_export import UID, bare_imap_loop  # noqa: E402

from imap_server import MASTER_PASSWORD, MASTER_USER, Dovecot, dovecot_available  # noqa: E402

MiB = 1024 * 1024


def cpu() -> float:
    times = os.times()
    return times.user + times.system


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=Path("/var/tmp/chatons-panel-bench/mail-1gib"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", default="", help="comma-separated stage names")
    parser.add_argument("--profile", action="store_true", help="cProfile the archive stage")
    args = parser.parse_args()
    if not dovecot_available():
        sys.exit("needs root and dovecot-imapd")
    server = Dovecot(args.dir / "dovecot")
    server.write_config()
    if not (server.maildir(UID) / ".bench-complete").exists():
        sys.exit("run bench/mail_export.py first (it writes the Maildir)")
    server.start()

    from app import create_app
    from app.connectors.imap.client import ImapClient, ImapSettings
    from app.connectors.imap.connector import ImapConnector
    from app.connectors.secrets import Secret
    from app.directory.client import Person
    from app.export.archive import ExportArchive
    from app.export.plan import Part

    os.environ.setdefault("PANEL_SECRET_KEY", "bench")
    app = create_app()
    settings = ImapSettings(
        host="127.0.0.1", port=server.port, security="none", admin_user=MASTER_USER,
        secret=Secret(MASTER_PASSWORD, "bench"), timeout=60,
    )  # fmt: skip
    connector = ImapConnector("post", name="Mail", settings=settings)
    person = Person(uid=UID, dn=f"uid={UID},dc=example", display_name="Alice",
                    email=f"{UID}@example.org", language="en")  # fmt: skip

    def stream() -> int:
        client = ImapClient.connect(settings, UID)
        buf = memoryview(bytearray(512 * 1024))
        total = 0
        try:
            for folder in connector.mailbox(client).own:
                if not folder.selectable:
                    continue
                table = client.message_table(folder.name)
                for message in client.stream_messages(folder.name, table, batch_bytes=64 * MiB):
                    left = message.size
                    while left:
                        count = message.read_into(buf[: min(left, len(buf))])
                        left -= count
                        total += count
        finally:
            client.close()
        return total

    def mbox() -> int:
        total = 0
        for entry in connector.export(person):
            for chunk in entry.chunks:  # type: ignore[union-attr]
                total += len(chunk)
        return total

    def inline() -> int:
        """mbox, SHA-256 and CRC-32 on one thread: the work of `archive` without hand-offs."""
        import hashlib

        from app.export.zipping import zipstream

        total = 0
        for entry in connector.export(person):
            digest, crc = hashlib.sha256(), 0
            for chunk in entry.chunks:  # type: ignore[union-attr]
                digest.update(chunk)
                crc = zipstream.ng.crc32(chunk, crc)
                total += len(chunk)
        return total

    def archive() -> ExportArchive:
        part = Part(service="post", name="Mail", folder="services/post/",
                    stream=connector.export(person))  # fmt: skip
        return ExportArchive(
            head=[], parts=[part], render_trailer=lambda report, room: [],
            timezone=UTC, announce_length=False,
        )  # fmt: skip

    def dropped() -> int:
        return sum(len(piece) for piece in archive())

    def sent() -> int:
        left, right = socket.socketpair()
        received = [0]

        def drain() -> None:
            buf = bytearray(256 * 1024)
            while count := right.recv_into(buf):
                received[0] += count

        sink = threading.Thread(target=drain)
        sink.start()
        for piece in archive():
            left.sendall(piece)
        left.close()
        sink.join()
        right.close()
        return received[0]

    stages: dict[str, Callable[[], int]] = {
        "imaplib": lambda: bare_imap_loop(server)[1],
        "stream": stream,
        "mbox": mbox,
        "inline": inline,
        "archive": dropped,
        "archive+socket": sent,
    }
    if args.only:
        stages = {name: stages[name] for name in args.only.split(",")}
    load_start = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    cpu_per_gib: dict[str, list[float]] = {name: [] for name in stages}
    wall: dict[str, list[float]] = {name: [] for name in stages}
    try:
        with app.test_request_context():
            for run in stages.values():  # warm the page cache and Dovecot's index
                run()
            for _round in range(args.repeat):
                for name, run in stages.items():
                    start, before = time.perf_counter(), cpu()
                    size = run()
                    used = cpu() - before
                    wall[name].append(time.perf_counter() - start)
                    cpu_per_gib[name].append(used / (size / 1024 / MiB))
            if args.profile:
                profile = cProfile.Profile()
                profile.enable()
                dropped()
                profile.disable()
                out = io.StringIO()
                pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(25)
                print(out.getvalue())
    finally:
        server.stop()
    floor = min(cpu_per_gib.get("imaplib", [0.0])) or None
    print(f"{'stage':16s} CPU s/GiB best (median)   wall best   x imaplib CPU")
    for name in stages:
        best, median = min(cpu_per_gib[name]), statistics.median(cpu_per_gib[name])
        ratio = f"{best / floor:.2f}" if floor else "-"
        print(f"{name:16s} {best:6.2f} ({median:5.2f})         {min(wall[name]):6.2f} s    {ratio}")
    load_end = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"load average at the start: {load_start}; at the end: {load_end}")


if __name__ == "__main__":
    main()
