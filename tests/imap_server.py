"""A real Dovecot for the tests: generated config, loopback port, master user, Maildirs.

Started as root (as the CI runs) with its own base_dir, so it never touches the system's
Dovecot. Users and the master user live in passwd-files; mail in Maildirs under the
temporary folder. `add_messages` seeds a mailbox over IMAP as the user.
"""

from __future__ import annotations

import contextlib
import imaplib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

# One way to pick ports for every server of the suite (cyrus_server imports it from here).
from ldap_server import free_port

DOVECOT = "/usr/sbin/dovecot"
MASTER_USER = "panel"
MASTER_PASSWORD = "master-Secret-9f2c"
USERS = {"alice": "alice-Secret-4be1", "bob": "bob-Secret-77d0", "carol": "carol-Secret-1a2b"}

CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
instance_name = panel-test-{port}
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
login_trusted_networks = 127.0.0.0/8
auth_master_user_separator = *
first_valid_uid = {uid}
mail_location = maildir:{root}/mail/%u/Maildir
mail_privileged_group =
default_internal_user = dovecot
default_login_user = dovenull
namespace inbox {{
  inbox = yes
  separator = /
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/master-users
  master = yes
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/users
}}
userdb {{
  driver = passwd-file
  args = {root}/users
  default_fields = home={root}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
  }}
}}
service auth {{
  user = root
}}
service auth-worker {{
  user = root
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
service stats {{
  chroot =
  inet_listener http {{
    port = 0
  }}
}}
"""


# With `sharing`: the ACL plugin, other people's folders under `shared/<owner>/` and the
# team's under `Public/`, as hosters set Dovecot up for shared folders. The master user
# acts with the person's rights (`acl_user = %u`), not its own.
SHARING = """\
mail_plugins = $mail_plugins acl
protocol imap {{
  mail_plugins = $mail_plugins imap_acl
}}
plugin {{
  acl = vfile
  acl_shared_dict = file:{root}/mail/shared-mailboxes.db
  acl_user = %u
}}
namespace shared {{
  type = shared
  separator = /
  prefix = shared/%%u/
  location = maildir:{root}/mail/%%u/Maildir:INDEXPVT={root}/mail/%u/shared/%%u
  subscriptions = no
  list = children
}}
namespace public {{
  type = public
  separator = /
  prefix = Public/
  location = maildir:{root}/public
  subscriptions = no
  list = children
}}
"""
TEAM_RIGHTS = "lrwstipekxa"


def dovecot_available() -> bool:
    return os.path.exists(DOVECOT) and os.geteuid() == 0


@dataclass
class Dovecot:
    root: Path
    port: int = field(default_factory=free_port)
    tls_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    uid: int = 0
    gid: int = 0
    sharing: bool = False

    @property
    def config(self) -> Path:
        return self.root / "dovecot.conf"

    @property
    def url(self) -> str:
        return f"imap://127.0.0.1:{self.port}"

    def write_config(self) -> None:
        # Mail belongs to an unprivileged user (Dovecot refuses uid 0 for mail access).
        owner = pwd.getpwnam("nobody")
        self.root.chmod(0o755)
        for sub in ("run", "state", "mail"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        os.chown(self.root / "mail", owner.pw_uid, owner.pw_gid)
        self.uid, self.gid = owner.pw_uid, owner.pw_gid
        self.write_certificate()
        config = CONFIG.format(
            root=self.root, port=self.port, tls_port=self.tls_port, uid=owner.pw_uid
        )
        if self.sharing:
            config = config.replace("namespace inbox {", "namespace inbox {\n  type = private")
            config += SHARING.format(root=self.root)
            self.make_public_folder("equipe", users=USERS)
        self.config.write_text(config)
        (self.root / "master-users").write_text(f"{MASTER_USER}:{MASTER_PASSWORD}\n")
        (self.root / "users").write_text(
            "".join(
                f"{user}:{password}:{self.uid}:{self.gid}::{self.root}/mail/{user}::\n"
                for user, password in USERS.items()
            )
        )
        (self.root / "master.secret").write_text(MASTER_PASSWORD + "\n")

    def make_public_folder(self, name: str, users: dict[str, str]) -> None:
        """A team folder under Public/, every right for each user (Dovecot's public
        namespaces have no owner: the folder and its dovecot-acl file are made here)."""
        public = self.root / "public"
        folder = public / f".{name}"
        for sub in ("cur", "new", "tmp"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        rules = "".join(f"user={user} {TEAM_RIGHTS}\n" for user in users)
        (public / "dovecot-acl").write_text(rules)
        (folder / "dovecot-acl").write_text(rules)
        for path in [public, *public.rglob("*")]:
            os.chown(path, self.uid, self.gid)

    @property
    def certificate(self) -> Path:
        """Self-signed, for 127.0.0.1: the CA file of the TLS tests."""
        return self.root / "cert.pem"

    def write_certificate(self) -> None:
        if self.certificate.exists():
            return
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
             "-keyout", str(self.root / "key.pem"), "-out", str(self.certificate)],
            check=True, capture_output=True,
        )  # fmt: skip

    def start(self) -> None:
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode() if self.process.stderr else ""
                log = self.log()
                raise RuntimeError(f"dovecot exited: {err}\n{log}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    if sock.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"dovecot did not answer on port {self.port}:\n{self.log()}")

    def children(self) -> list[int]:
        """Processes started by this Dovecot's master (login, imap, auth…)."""
        if self.process is None:
            return []
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                found.append(int(stat.parent.name))
        return found

    def stop(self) -> None:
        """Stop the server and cut every open session at once (a crash, for the client)."""
        for pid in self.children():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None
        # Dovecot's children (imap processes) end with the master; wait for the port.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
            except OSError:
                return
            time.sleep(0.1)

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def settings(self, **overrides: object) -> dict[str, object]:
        """A [services.connector] table for this server."""
        table: dict[str, object] = {
            "type": "imap",
            "url": self.url,
            "admin_user": MASTER_USER,
            "password_file": str(self.root / "master.secret"),
            "timeout": 5,
        }
        table.update(overrides)
        return table

    def login(self, user: str) -> imaplib.IMAP4:
        """A direct connection as the user with their own password (not through the panel)."""
        conn = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        conn.login(user, USERS[user])
        return conn

    def maildir(self, user: str) -> Path:
        return self.root / "mail" / user / "Maildir"

    def reset(self, user: str) -> None:
        shutil.rmtree(self.root / "mail" / user, ignore_errors=True)


def quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def add_messages(server: Dovecot, user: str, folder_utf7: str, messages: list[bytes]) -> None:
    conn = server.login(user)
    try:
        if folder_utf7 != "INBOX":
            conn.create(quote(folder_utf7))
        for message in messages:
            typ, data = conn.append(quote(folder_utf7), "(\\Seen)", None, message)
            assert typ == "OK", data
    finally:
        conn.logout()


def server_view(server: Dovecot, user: str) -> dict[str, list[bytes]]:
    """Every folder (raw modified UTF-7 name) and its messages, as the server returns them."""
    conn = server.login(user)
    found: dict[str, list[bytes]] = {}
    try:
        typ, lines = conn.list()
        assert typ == "OK"
        for line in lines:
            if not isinstance(line, bytes):
                continue
            name = line.split(b' "/" ', 1)[1].decode()
            name = name[1:-1] if name.startswith('"') else name
            typ, _ = conn.select(quote(name), readonly=True)
            if typ != "OK":
                continue
            typ, data = conn.uid("FETCH", "1:*", "(BODY.PEEK[])")
            found[name] = [part[1] for part in data if isinstance(part, tuple)]
            conn.close()
    finally:
        conn.logout()
    return found


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    from conftest import missing_tool

    if not dovecot_available():
        missing_tool("dovecot is not installed (apt-get install dovecot-imapd) or not root")
    root = Path(tempfile.mkdtemp(prefix="panel-dovecot-"))
    server = Dovecot(root)
    server.write_config()
    server.start()
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def dovecot_shared() -> Iterator[Dovecot]:
    """A Dovecot with the ACL plugin, a shared and a public namespace."""
    from conftest import missing_tool

    if not dovecot_available():
        missing_tool("dovecot is not installed (apt-get install dovecot-imapd) or not root")
    root = Path(tempfile.mkdtemp(prefix="panel-dovecot-shared-"))
    server = Dovecot(root, sharing=True)
    server.write_config()
    server.start()
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)
