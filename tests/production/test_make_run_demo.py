"""`make run` is one system: the web server, the worker and the CLI share the demo secret.

The worker signs the links in incident mail; the web server must open them. The mail of a
demo (no PANEL_SMTP_URL) is printed to the terminal and kept as .eml files, and its links
lead to the port the demo listens on.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest
from http_client import Browser
from mail_checks import problems

import ldap_server as L
from helpers import wait_port

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(sys.executable).parent.parent


def wait_for_mail(folder: Path, header: str, timeout: float = 90) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in sorted(folder.glob("*.eml")) if folder.exists() else []:
            if f"\n{header}:".encode() in path.read_bytes():
                return path
        time.sleep(0.2)
    raise AssertionError(f"no mail with {header} in {folder} within {timeout} s")


@pytest.mark.slow
def test_a_link_in_mail_the_worker_sent_opens_on_the_web_server(tmp_path):
    port = L.free_port()
    mail_dir = tmp_path / "mail"
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PANEL_SECRET_KEY", "PANEL_BASE_URL", "PANEL_SMTP_URL", "PANEL_LDAP_URL")
    }
    env.update(
        PANEL_DATABASE_URL=f"sqlite:///{tmp_path / 'panel.sqlite3'}",
        PANEL_QUEUE_URL=f"sqlite:///{tmp_path / 'queue.sqlite3'}",
        PANEL_MAIL_DIR=str(mail_dir),
        FLASK_APP="wsgi",
    )
    log = tmp_path / "make-run.log"
    process = subprocess.Popen(
        ["make", "run", f"PORT={port}", f"VENV={VENV}"],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_port(port, timeout=90)
        alice = Browser()
        assert alice.login(base, "alice").status == 302
        token = alice.token(f"{base}/incidents/subscribe")
        subscribed = alice.request(f"{base}/incidents/subscribe", {"csrf_token": token})
        assert subscribed.status == 302, subscribed.text[:500]
        # A third process of the same demo: the CLI opens an incident and wakes the worker.
        opened = subprocess.run(
            [
                *(str(VENV / "bin" / "flask"), "incidents", "open", "--service", "cloud"),
                *("--impact", "major", "Le cloud ne répond plus"),
            ],
            cwd=ROOT,
            env={**env, "PANEL_BASE_URL": base},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert opened.returncode == 0, opened.stderr
        kept = wait_for_mail(mail_dir, "List-Unsubscribe")
        raw = kept.read_bytes()
        assert problems(raw) == []
        news = message_from_bytes(raw, policy=default)
        unsubscribe = str(news["List-Unsubscribe"]).strip("<>")
        assert unsubscribe.startswith(f"{base}/incidents/unsubscribe/")  # PORT carried
        page = Browser().request(unsubscribe)
        assert page.status == 200, page.text[:500]  # signed by the worker, opened by the web
        gone = Browser().request(unsubscribe, {"List-Unsubscribe": "One-Click"})
        assert gone.status == 200
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    output = log.read_text(errors="replace")
    # Printed whole where the person running the demo looks.
    assert "Le cloud ne répond plus" in output and unsubscribe in output.replace("\n", "")
    secret = ROOT / "instance" / "secret_key"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
