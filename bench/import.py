"""Benchmark of the mail import (moving house) against a bare imaplib APPEND loop.

    .venv/bin/python bench/import.py              # 1024 MiB of mail
    .venv/bin/python bench/import.py --mib 256 --rounds 2

Writes N MiB of generated mail (messages of 2 KiB to 4 MiB with base64 attachments, CRLF
line ends as IMAP gives them, a few flags) as an export would: one mboxrd file per folder
inside a ZIP on disk. Starts Dovecot on a loopback port with a master user (as the tests
do; needs root and dovecot-imapd), then, in the same run and on the same server, each in a
process of its own so that its peak RSS (VmHWM) is its own:

- the panel: the ZIP opened, each folder's member read by app/moving/readers/mbox.py and
  handed to the `imap` connector's import_ as `bob` (master sign-in, folder created,
  Message-IDs read, APPEND with flags and dates, LITERAL+); then the same import again,
  which must write nothing (every message skipped);
- a bare imaplib loop: the same messages, generated in memory (no archive to read at all),
  `APPEND folder flags date message` one after the other as `carol`.

Targets (issue 23): panel <= 2 x the bare loop; the importing process's peak RSS <= 150 MiB.
Rounds alternate the two, each into a mailbox emptied before.
"""

from __future__ import annotations

import argparse
import base64
import imaplib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT), str(ROOT / "bench")]

from common import mail_size  # noqa: E402

from imap_server import (  # noqa: E402
    MASTER_PASSWORD,
    MASTER_USER,
    Dovecot,
    dovecot_available,
    free_port,
)

MiB = 1024 * 1024
FOLDERS = ["INBOX", "Envoyés", "Archives/2024", "Listes"]
FLAGS = [("\\Seen",), (), ("\\Seen", "\\Answered"), ("\\Seen", "\\Flagged", "$Label1")]
START = datetime(2020, 1, 1, tzinfo=UTC)


def messages(total: int) -> Iterator[tuple[str, bytes, tuple[str, ...], datetime]]:
    """(folder, message, flags, internal date), the same every run (seeded)."""
    rng = random.Random(23)
    block = base64.encodebytes(os.urandom(6 * MiB)).replace(b"\n", b"\r\n")
    written = count = 0
    while written < total:
        size = mail_size(rng)
        start = rng.randrange(0, len(block) - size)
        body = block[start : start + size]
        body = body[: body.rfind(b"\r\n") + 2]
        head = (
            f"From: Bench <bench{count}@example.org>\r\nTo: bob@example.org\r\n"
            f"Subject: message {count}\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
            f"Message-ID: <{count}@bench>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
            "Content-Type: text/plain\r\n\r\nHello.\r\nFrom here on, an attachment.\r\n--b\r\n"
            "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        ).encode()
        message = head + body + b"--b--\r\n"
        yield (
            FOLDERS[count % len(FOLDERS)],
            message,
            FLAGS[count % len(FLAGS)],
            START + timedelta(minutes=count),
        )
        written += len(message)
        count += 1


def make_archive(path: Path, total: int) -> tuple[int, int]:
    """The export's layout: services/post/<folder>.mbox in a ZIP (stored, as the export
    stores mail unless `compress` is set)."""
    marker = path.with_suffix(".done")
    if marker.exists() and path.exists():
        count, size = marker.read_text().split()
        return int(count), int(size)
    from app.connectors.imap.mbox import mboxrd_message

    count = size = 0
    # One member open at a time in a ZIP: one pass over the messages per folder.
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for folder in FOLDERS:
            with archive.open(f"services/post/{folder}.mbox", "w", force_zip64=True) as out:
                for where, message, flags, when in messages(total):
                    if where != folder:
                        continue
                    out.write(mboxrd_message(message, when, flags))
                    count += 1
                    size += len(message)
    marker.write_text(f"{count} {size}")
    return count, size


def peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


# The two contestants, each in a child process ----------------------------------------------


def run_panel(port: int, archive_path: Path, secret_file: Path) -> dict[str, float]:
    from app.connectors.imap import ImapConnector, ImapSettings
    from app.connectors.importing import ImportItem, ImportPart, Malformed, Outcome
    from app.connectors.secrets import Secret
    from app.directory import Person
    from app.moving.readers.mbox import read_mbox

    class Counter:
        def __init__(self) -> None:
            self.counts: dict[str, int] = {}

        def done(self, item: ImportItem | Malformed, outcome: Outcome, reason: str = "") -> None:
            self.counts[outcome] = self.counts.get(outcome, 0) + 1

    connector = ImapConnector(
        "post",
        name="Mail",
        settings=ImapSettings(
            "127.0.0.1", port, "none", MASTER_USER, Secret(secret_file.read_text().strip(), "f")
        ),
    )
    bob = Person(uid="bob", dn="uid=bob", display_name="Bob", email=None, language=None)
    floor = peak_rss_mib()
    result: dict[str, float] = {"rss_floor": floor}
    for run in ("first", "again"):
        progress = Counter()
        start = time.perf_counter()
        with zipfile.ZipFile(archive_path) as archive:
            for folder in FOLDERS:
                with archive.open(f"services/post/{folder}.mbox") as stream:
                    part = ImportPart("mail", folder, read_mbox(stream, folder), 0, 0)
                    connector.import_(bob, part, progress)
        result[f"{run}_seconds"] = time.perf_counter() - start
        for outcome, number in progress.counts.items():
            result[f"{run}_{outcome}"] = number
    result["available_bytes"] = float(connector.available_bytes(bob) or -1)
    result["rss_peak"] = peak_rss_mib()
    return result


def run_bare(port: int, total: int) -> dict[str, float]:
    from app.connectors.imap.names import encode_mailbox_name

    floor = peak_rss_mib()
    conn = imaplib.IMAP4("127.0.0.1", port, timeout=60)
    conn.authenticate("PLAIN", lambda _: f"carol\0{MASTER_USER}\0{MASTER_PASSWORD}".encode())
    names = {f: '"' + encode_mailbox_name(f) + '"' for f in FOLDERS}
    for folder in FOLDERS[1:]:
        conn.create(names[folder])
    count = 0
    start = time.perf_counter()
    for folder, message, flags, when in messages(total):
        typ, data = conn.append(names[folder], "(" + " ".join(flags) + ")", when, message)
        assert typ == "OK", data
        count += 1
    seconds = time.perf_counter() - start
    conn.logout()
    return {"seconds": seconds, "count": count, "rss_floor": floor, "rss_peak": peak_rss_mib()}


def child(kind: str, args: argparse.Namespace, server: Dovecot) -> dict[str, float]:
    command = [
        sys.executable,
        __file__,
        "--child",
        kind,
        "--port",
        str(server.port),
        "--mib",
        str(args.mib),
        "--work",
        str(args.work),
    ]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mib", type=int, default=1024, help="MiB of mail (default 1024)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--work", type=Path, default=Path("/tmp/panel-bench-import"))
    parser.add_argument("--child", choices=("panel", "bare"))
    parser.add_argument("--port", type=int)
    parser.add_argument(
        "--panel-only", action="store_true", help="no bare loop (the RSS at 4 GiB, say)"
    )
    args = parser.parse_args()
    total = args.mib * MiB
    archive_path = args.work / f"export-{args.mib}.zip"
    if args.child == "panel":
        print(json.dumps(run_panel(args.port, archive_path, args.work / "dovecot/master.secret")))
        return
    if args.child == "bare":
        print(json.dumps(run_bare(args.port, total)))
        return

    if not dovecot_available():
        sys.exit("needs root and dovecot-imapd (apt-get install dovecot-imapd)")
    args.work.mkdir(parents=True, exist_ok=True)
    print(f"== writing {args.mib} MiB of mail as an export ZIP in {args.work}", flush=True)
    count, size = make_archive(archive_path, total)
    zipped = archive_path.stat().st_size / MiB
    print(f"   {count} messages, {size / MiB:.0f} MiB, ZIP {zipped:.0f} MiB")
    shutil.rmtree(args.work / "dovecot", ignore_errors=True)
    (args.work / "dovecot").mkdir()
    os.chmod(args.work, 0o755)  # noqa: S103  # Dovecot's mail processes run as nobody
    server = Dovecot(args.work / "dovecot", port=free_port(), tls_port=free_port())
    server.write_config()
    server.start()
    panel: list[dict[str, float]] = []
    bare: list[dict[str, float]] = []
    try:
        for round_ in range(args.rounds):
            kinds = ("bare", "panel") if round_ % 2 else ("panel", "bare")
            for kind in ("panel",) if args.panel_only else kinds:
                server.reset("bob" if kind == "panel" else "carol")
                print(f"== round {round_ + 1}: {kind}", flush=True)
                found = child(kind, args, server)
                (panel if kind == "panel" else bare).append(found)
                print("  ", found, flush=True)
    finally:
        server.stop()
    best_panel = min(p["first_seconds"] for p in panel)
    if not bare:  # --panel-only
        bare = [{"seconds": float("nan"), "rss_peak": float("nan")}]
    best_bare = min(b["seconds"] for b in bare)
    print(f"\n== {count} messages, {size / MiB:.0f} MiB, {args.rounds} round(s)")
    print(f"panel import      best {best_panel:7.2f} s  {size / MiB / best_panel:6.1f} MiB/s")
    print(f"bare imaplib loop best {best_bare:7.2f} s  {size / MiB / best_bare:6.1f} MiB/s")
    print(f"panel / bare imaplib: {best_panel / best_bare:.2f} x   (target <= 2)")
    if len(panel) > 1:
        ratio = statistics.median(p["first_seconds"] for p in panel) / statistics.median(
            b["seconds"] for b in bare
        )
        print(f"panel / bare imaplib (medians): {ratio:.2f} x")
    again = min(p["again_seconds"] for p in panel)
    print(
        f"second import of the same archive: {again:.2f} s, "
        f"{int(panel[0].get('again_imported', 0))} written, "
        f"{int(panel[0].get('again_skipped', 0))} skipped"
    )
    peak = max(p["rss_peak"] for p in panel)
    print(
        f"importing process RSS: floor (modules imported) {panel[0]['rss_floor']:.0f} MiB, "
        f"peak {peak:.0f} MiB (target <= 150); bare loop peak "
        f"{max(b['rss_peak'] for b in bare):.0f} MiB"
    )
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
