"""Real servers for the connector tests: the http reference server, Radicale, wsgidav, Synapse.

Each runs as its own process on a free loopback port with its configuration in a temporary
folder; `stop()` kills it (a test of a server that goes away), `start()` brings it back.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from ldap_server import free_port

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "reference-token-8f2c"  # noqa: S105 - a test fixture's secret
ADMIN_USER = "panel"
ADMIN_PASSWORD = "panel-secret-4d1a"  # noqa: S105
PEOPLE = {"alice": "alice-pw-93b0", "bob": "bob-pw-1e77"}


@dataclass
class Process:
    argv: list[str]
    port: int
    home: Path
    ready_path: str = "/"
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    log_name: str = "server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        log = (self.home / self.log_name).open("ab")
        self.process = subprocess.Popen(
            self.argv,
            cwd=self.home,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **self.env},
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.argv[:3]} ended at start: {self.log()[-3000:]}")
            try:
                requests.get(self.url + self.ready_path, timeout=2)
                return
            except requests.RequestException:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.argv[:3]} did not start: {self.log()[-3000:]}")

    def stop(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.process = None

    def log(self) -> str:
        path = self.home / self.log_name
        return path.read_text(errors="replace") if path.exists() else ""

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.home, ignore_errors=True)


# The http reference server -----------------------------------------------------------------


def start_reference(*extra: str) -> Process:
    home = Path(tempfile.mkdtemp(prefix="panel-httpref-"))
    (home / "data").mkdir()
    (home / "token").write_text(TOKEN)
    port = free_port()
    server = Process(
        [
            sys.executable,
            str(ROOT / "tools" / "http_connector_server.py"),
            "--root",
            str(home / "data"),
            "--token-file",
            str(home / "token"),
            "--port",
            str(port),
            "--prefix",
            "/panel-api",
            "--quiet",
            *extra,
        ],
        port,
        home,
    )
    server.start()
    return server


# Radicale (CalDAV/CardDAV) ---------------------------------------------------------------

RADICALE_RIGHTS = """\
# The service account may read and write every person's collections.
[panel-principal]
user: panel
collection: [^/]+
permissions: RrWw

[panel-collections]
user: panel
collection: [^/]+/[^/]+
permissions: RrWw

[root]
user: .+
collection:
permissions: R

[owner-principal]
user: .+
collection: {user}
permissions: RrWw

[owner-collections]
user: .+
collection: {user}/[^/]+
permissions: RrWw
"""


def radicale_available() -> bool:
    try:
        import radicale  # noqa: F401
    except ImportError:
        return False
    return True


def start_radicale() -> Process:
    home = Path(tempfile.mkdtemp(prefix="panel-radicale-"))
    users = {ADMIN_USER: ADMIN_PASSWORD, **PEOPLE}
    (home / "users").write_text("".join(f"{u}:{p}\n" for u, p in users.items()))
    (home / "rights").write_text(RADICALE_RIGHTS)
    port = free_port()
    (home / "config").write_text(
        f"""\
[server]
hosts = 127.0.0.1:{port}

[auth]
type = htpasswd
htpasswd_filename = {home}/users
htpasswd_encryption = plain
delay = 0

[rights]
type = from_file
file = {home}/rights

[storage]
filesystem_folder = {home}/collections

[logging]
level = warning
"""
    )
    server = Process(
        [sys.executable, "-m", "radicale", "--config", str(home / "config")],
        port,
        home,
        ready_path="/.web/",
    )
    server.start()
    return server


# wsgidav (plain WebDAV files) --------------------------------------------------------------


def wsgidav_available() -> bool:
    try:
        import cheroot  # noqa: F401
        import wsgidav  # noqa: F401
    except ImportError:
        return False
    return True


def start_wsgidav() -> Process:
    home = Path(tempfile.mkdtemp(prefix="panel-wsgidav-"))
    (home / "files").mkdir()
    port = free_port()
    (home / "wsgidav.yaml").write_text(
        f"""\
host: 127.0.0.1
port: {port}
server: cheroot
verbose: 1
logging:
    enable: false
provider_mapping:
    "/files": "{home}/files"
http_authenticator:
    domain_controller: null
    accept_basic: true
    accept_digest: false
    default_to_digest: false
simple_dc:
    user_mapping:
        "*":
            "{ADMIN_USER}":
                password: "{ADMIN_PASSWORD}"
dir_browser:
    enable: false
lock_storage: true
property_manager: true
"""
    )
    server = Process(
        [sys.executable, "-m", "wsgidav.server.server_cli", "--config", str(home / "wsgidav.yaml")],
        port,
        home,
        ready_path="/files/",
    )
    server.start()
    return server
