"""Benchmark of the mail export against a bare imaplib loop and tar, in the same run.

    .venv/bin/python bench/mail_export.py              # 1 GiB of mail
    .venv/bin/python bench/mail_export.py --size 4G

Writes a Maildir of N GiB (folders, messages of 10 KiB to 4 MiB with base64 attachments)
for `alice`, starts Dovecot on a loopback port with a master user (as the tests do; needs
root and dovecot-imapd), serves the panel under gunicorn with an `imap` service, and
measures on the same mailbox:

- the panel: POST /account/export over HTTP as alice, received by curl; the gunicorn
  worker's CPU time and peak RSS (VmHWM), next to its RSS when idle (the floor: what
  importing the app costs, whatever the export does);
- a bare imaplib loop: the same master sign-in, every folder, `UID FETCH <500 uids>
  BODY.PEEK[]`, data discarded (the floor of any IMAP export in Python);
- `tar -cf - Maildir | cat >/dev/null` (reading the files, no IMAP at all).

Targets (issue 13): panel <= 1.5 x the bare imaplib loop; worker peak RSS <= 100 MiB.
Dovecot reads from the page cache: every measure runs once to warm it (and Dovecot's
index) before the timed rounds.
"""

from __future__ import annotations

import argparse
import base64
import imaplib
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "bench")]

from common import cpu_seconds, free_port, mail_size  # noqa: E402
from export import Client, download, peak_rss_kib, worker_pid  # noqa: E402

from imap_server import MASTER_PASSWORD, MASTER_USER, Dovecot, dovecot_available  # noqa: E402

VENV = ROOT / ".venv" / "bin"
UID = "alice"
MiB = 1024 * 1024
FOLDERS = ["", ".Envoy&AOk-s", ".Archives", ".Archives.2024", ".Listes"]


def parse_size(text: str) -> float:
    """`1G`, `4G`, `512M`, `1.5` (GiB) -> GiB."""
    text = text.strip().upper().removesuffix("IB").removesuffix("B")
    if text.endswith("G"):
        return float(text[:-1])
    if text.endswith("M"):
        return float(text[:-1]) / 1024
    return float(text)


def make_maildir(maildir: Path, gib: float, owner: tuple[int, int]) -> tuple[int, int]:
    """Messages straight into Maildir files (much faster than APPEND); LF line ends."""
    marker = maildir / ".bench-complete"
    if marker.exists():
        count, size = marker.read_text().split()
        return int(count), int(size)
    shutil.rmtree(maildir, ignore_errors=True)
    rng = random.Random(13)
    block = base64.encodebytes(os.urandom(6 * MiB))  # 76-column lines, like real mail
    total = int(gib * 1024 * MiB)
    written = count = 0
    for folder in FOLDERS:
        for sub in ("cur", "new", "tmp"):
            (maildir / folder / sub).mkdir(parents=True, exist_ok=True)
    while written < total:
        size = mail_size(rng)
        start = rng.randrange(0, len(block) - size)
        body = block[start : start + size]
        body = body[: body.rfind(b"\n") + 1]
        message = (
            (
                f"From: Bench <bench{count}@example.org>\n"
                f"To: {UID}@example.org\nSubject: message {count}\n"
                f"Date: Mon, 1 Jan 2024 00:00:00 +0000\nMessage-ID: <{count}@bench>\n"
                "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n"
                "--b\nContent-Type: text/plain\n\nHello.\nFrom here on, an attachment.\n"
                "--b\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
            ).encode()
            + body
            + b"--b--\n"
        )
        folder = FOLDERS[count % len(FOLDERS)]
        name = maildir / folder / "cur" / f"{1_700_000_000 + count}.M{count}P1.bench:2,S"
        name.write_bytes(message)
        written += len(message)
        count += 1
    for path in [maildir, *maildir.rglob("*")]:
        os.chown(path, *owner)
    marker.write_text(f"{count} {written}")
    return count, written


def bare_imap_loop(server: Dovecot) -> tuple[float, int]:
    """The floor: master sign-in, every folder, batches of 500 UIDs, data discarded."""
    start = time.perf_counter()
    conn = imaplib.IMAP4("127.0.0.1", server.port, timeout=60)
    conn.authenticate("PLAIN", lambda _: f"{UID}\0{MASTER_USER}\0{MASTER_PASSWORD}".encode())
    received = 0
    _typ, folders = conn.list()
    for line in folders:
        name = line.decode().rsplit(' "/" ', 1)[-1].strip('"')  # type: ignore[union-attr]
        conn.select(f'"{name}"', readonly=True)
        _typ, data = conn.uid("SEARCH", "ALL")
        uids = data[0].split()
        for first in range(0, len(uids), 500):
            which = b",".join(uids[first : first + 500]).decode()
            _typ, parts = conn.uid("FETCH", which, "(BODY.PEEK[])")
            received += sum(len(p[1]) for p in parts if isinstance(p, tuple))
        conn.close()
    conn.logout()
    return time.perf_counter() - start, received


def tar_maildir(maildir: Path) -> float:
    start = time.perf_counter()
    # Through a pipe: GNU tar writing to /dev/null itself skips reading the files.
    tar = subprocess.Popen(
        ["tar", "-C", str(maildir.parent), "-cf", "-", maildir.name], stdout=subprocess.PIPE
    )
    assert tar.stdout is not None
    subprocess.run(["cat"], stdin=tar.stdout, stdout=subprocess.DEVNULL, check=True)
    tar.stdout.close()
    assert tar.wait() == 0
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=parse_size, default=1.0, help="1G (default), 4G, 512M")
    # Dovecot's mail processes run as `nobody`: the folder must be reachable by it.
    parser.add_argument("--dir", type=Path, default=Path("/var/tmp/chatons-panel-bench"))
    parser.add_argument("--repeat", type=int, default=3, help="timed rounds of every measure")
    args = parser.parse_args()
    if not dovecot_available():
        sys.exit("needs root and dovecot-imapd (apt-get install dovecot-imapd)")
    load_start = ", ".join(f"{value:.2f}" for value in os.getloadavg())

    work = (args.dir / f"mail-{args.size:g}gib").resolve()
    (work / "dovecot").mkdir(parents=True, exist_ok=True)
    for parent in [work, *work.parents]:
        if parent == Path("/"):
            break
        parent.chmod(parent.stat().st_mode | 0o005)
    server = Dovecot(work / "dovecot")
    server.write_config()
    maildir = server.maildir(UID)
    print(f"== preparing {args.size:g} GiB of mail in {maildir}")
    count, size = make_maildir(maildir, args.size, (server.uid, server.gid))
    print(f"   {count} messages in {len(FOLDERS)} folders, {size / MiB:.0f} MiB on disk")
    server.start()

    run = work / "panel"
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir()
    hoster = (ROOT / "app" / "profile" / "demo.toml").read_text()
    hoster += f"""
[[services]]
slug = "post"
name = "Mail"
host = "main"
[services.software]
name = "Dovecot"
licence = "MIT"
[services.connector]
type = "imap"
url = "{server.url}"
admin_user = "{MASTER_USER}"
password_file = "{server.root / "master.secret"}"
timeout = 60
"""
    (run / "hoster.toml").write_text(hoster)
    env = {
        **os.environ,
        "PANEL_HOSTER_FILE": str(run / "hoster.toml"),
        "PANEL_DATABASE_URL": f"sqlite:///{run / 'panel.sqlite3'}",
        "PANEL_SECRET_KEY": "bench",
        "PANEL_EXPORT_LIMIT": "1000 per hour",
        "PANEL_QUEUE_URL": "immediate",
        "PYTHONPATH": str(ROOT),
    }
    subprocess.run(
        [str(VENV / "flask"), "db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True
    )
    port = free_port()
    gunicorn = subprocess.Popen(
        [str(VENV / "gunicorn"), "-w", "1", "-k", "gthread", "--threads", "2",
         "-b", f"127.0.0.1:{port}", "--timeout", "900", "wsgi:app"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    timings: dict[str, list[float]] = {"panel": [], "imaplib": [], "tar": []}
    cpu: list[float] = []  # the gunicorn worker's, per export
    bare_cpu: list[float] = []  # this process's, per bare imaplib loop
    try:
        worker = worker_pid(gunicorn.pid)
        client = Client(port)
        deadline = time.monotonic() + 30
        while True:
            try:
                token = client.token("/login")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        rss_floor, _hwm = peak_rss_kib(worker)  # the app imported, no request served yet
        conn, response = client.request(
            "POST", "/login", {"login": UID, "password": "demo", "csrf_token": token}
        )
        response.read()
        conn.close()
        print("== warming the page cache and Dovecot's index")
        _seconds, fetched = bare_imap_loop(server)
        tar_maildir(maildir)
        _rss_idle, hwm_idle = peak_rss_kib(worker)
        print("== a first export (loads what the first export needs: templates, locale data)")
        download(client, None)
        rss_warm, hwm_first = peak_rss_kib(worker)
        # Later exports: VmHWM restarts from the current RSS (Linux 4.0+).
        Path(f"/proc/{worker}/clear_refs").write_text("5")
        received = 0
        for round_ in range(args.repeat):
            before = cpu_seconds(worker)
            _first, total, received, _headers = download(client, None)
            cpu.append(cpu_seconds(worker) - before)
            timings["panel"].append(total)
            times = os.times()
            seconds, fetched = bare_imap_loop(server)
            bare_cpu.append(sum(os.times()[:2]) - sum(times[:2]))
            timings["imaplib"].append(seconds)
            timings["tar"].append(tar_maildir(maildir))
            print(
                f"   round {round_ + 1}: panel {total:.2f} s, imaplib {seconds:.2f} s, "
                f"tar {timings['tar'][-1]:.2f} s"
            )
        _rss, hwm = peak_rss_kib(worker)
    finally:
        gunicorn.send_signal(signal.SIGTERM)
        gunicorn.wait(timeout=30)
        server.stop()

    best = {name: min(values) for name, values in timings.items()}
    median = {name: statistics.median(values) for name, values in timings.items()}
    over_imap, archive = fetched / MiB, received / MiB
    print(f"\n== {count} messages, {over_imap:.0f} MiB over IMAP, archive {archive:.0f} MiB")
    for name in ("panel", "imaplib", "tar"):
        rate = fetched / MiB / best[name]
        print(
            f"{name:8s} best {best[name]:6.2f} s  median {median[name]:6.2f} s  {rate:6.0f} MiB/s"
        )
    print(f"panel / bare imaplib:   {best['panel'] / best['imaplib']:.2f} x   (target <= 1.5)")
    print(f"panel / tar of Maildir: {best['panel'] / best['tar']:.2f} x")
    print(f"panel / bare imaplib (medians): {median['panel'] / median['imaplib']:.2f} x")
    print(
        f"CPU: panel worker {min(cpu):.2f} s per export (median {statistics.median(cpu):.2f}),"
        f" bare imaplib client {min(bare_cpu):.2f} s; Dovecot's and curl's not counted"
    )
    print(
        f"worker RSS: idle (the floor: the app imported, a page served) {rss_floor / 1024:.0f} MiB;"
        f" peak before any export {hwm_idle / 1024:.0f} MiB; peak of the first export"
        f" {hwm_first / 1024:.0f} MiB; after it {rss_warm / 1024:.0f} MiB; peak of the timed"
        f" exports {hwm / 1024:.0f} MiB (+{(hwm - rss_warm) / 1024:.1f}); target <= 100"
    )
    load_end = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(
        f"load average (1, 5, 15 min) at the start: {load_start}; at the end: {load_end}"
        f" ({os.cpu_count()} CPUs, other jobs share them)"
    )


if __name__ == "__main__":
    main()
