"""SSO behind gunicorn's unix socket (PANEL_BIND=unix:…, as docs/deployment.md sets it)."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from production.conftest import GUNICORN, ROOT


class UnixConnection(http.client.HTTPConnection):
    """HTTP over a unix socket, as nginx's `proxy_pass http://unix:…` talks to gunicorn."""

    def __init__(self, path: Path) -> None:
        super().__init__("localhost", timeout=60)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(60)
        self.sock.connect(str(self.path))


@pytest.fixture
def socket_panel(database_url: str, feature_profile: Path, tmp_path: Path) -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="panel-sso-", dir="/tmp"))
    path = folder / "panel.sock"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PANEL_")},
        "PANEL_BIND": f"unix:{path}",
        "PANEL_WORKERS": "1",
        "PANEL_SECRET_KEY": "sso-socket-test",
        "PANEL_DATABASE_URL": database_url,
        "PANEL_HOSTER_FILE": str(feature_profile),
        "PANEL_BASE_URL": "http://localhost",
        "PANEL_TRUSTED_PROXIES": "1",
        "PANEL_REMOTE_USER_HEADER": "Remote-User",
    }
    process = subprocess.Popen(
        [str(GUNICORN), "-c", str(ROOT / "gunicorn.conf.py"), "wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "gunicorn.log").open("wb"),
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not path.exists():
            assert process.poll() is None, (tmp_path / "gunicorn.log").read_text()
            assert time.monotonic() < deadline, "gunicorn made no socket"
            time.sleep(0.1)
        yield path
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        for leftover in folder.iterdir():
            leftover.unlink()
        folder.rmdir()


def test_the_proxys_header_signs_in_through_gunicorns_unix_socket(socket_panel: Path) -> None:
    connection = UnixConnection(socket_panel)
    connection.request(
        "GET",
        "/",
        headers={"Remote-User": "zoe", "X-Forwarded-For": "203.0.113.9", "Host": "localhost"},
    )
    reply = connection.getresponse()
    page = reply.read().decode()
    assert reply.status == 200, (reply.status, reply.getheader("Location"))
    assert "Zoé Lefèvre-Nguyễn" in page
