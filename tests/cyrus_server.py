"""A real Cyrus IMAP 3.6 for the tests: Debian's cyrus-common with cyrus-imapd's imapd.

`cyrus-imapd` conflicts with `dovecot-imapd` as a package, so .ci/run extracts its
`imapd` with `apt-get download` and `dpkg-deb -x` into /opt/cyrus-imapd; the rest
(`master`, `ctl_cyrusdb`, SASL) comes from cyrus-common and sasl2-bin. The server runs
with its own configuration directory, partition and sasldb under a temporary folder,
listening on a free loopback port; users sign in with SASL PLAIN, and the admin user
`panel` signs in *as* a person with an authorisation identity, as the panel does.

Cyrus logs only to syslog: it runs in a mount namespace of its own whose /dev (a tmpfs
with the few device nodes it needs) has a `log` socket bound by this fixture, so its
messages land in `syslog.txt` instead of the machine's log (or nowhere).
"""

from __future__ import annotations

import contextlib
import imaplib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from imap_server import free_port, quote

IMAPD_PLACES = (
    os.environ.get("CYRUS_IMAPD", ""),
    "/opt/cyrus-imapd/usr/lib/cyrus/bin/imapd",
    "/usr/lib/cyrus/bin/imapd",
)
MASTER = "/usr/lib/cyrus/bin/master"
CTL_CYRUSDB = "/usr/lib/cyrus/bin/ctl_cyrusdb"
SASLPASSWD = "/usr/sbin/saslpasswd2"
ADMIN = "panel"
ADMIN_PASSWORD = "cyrus-Admin-5e3d"
SERVERNAME = "cyrus-test"
USERS = {"alice": "alice-Secret-4be1", "bob": "bob-Secret-77d0", "carol": "carol-Secret-1a2b"}
CONFIG_DIRS = ("db", "socket", "proc", "lock", "log", "msg", "user", "quota", "sieve", "ptclient")

IMAPD_CONF = """\
configdirectory: {root}/conf
partition-default: {root}/spool
defaultpartition: default
servername: {servername}
admins: {admin}
sasl_pwcheck_method: auxprop
sasl_auxprop_plugin: sasldb
sasl_sasldb_path: {root}/sasldb2
sasl_mech_list: PLAIN
allowplaintext: yes
virtdomains: off
altnamespace: {altnamespace}
unixhierarchysep: {unixhierarchysep}
syslog_prefix: cyrus-test
lmtpsocket: {root}/conf/socket/lmtp
idlesocket: {root}/conf/socket/idle
notifysocket: {root}/conf/socket/notify
proc_path: {root}/conf/proc
mboxname_lockpath: {root}/conf/lock
autocreate_quota: -1
"""

CYRUS_CONF = """\
START {{
  recover cmd="{ctl} -C {root}/imapd.conf -r"
}}
SERVICES {{
  imap cmd="{imapd} -C {root}/imapd.conf" listen="127.0.0.1:{port}" prefork=0 maxchild=20
}}
EVENTS {{
}}
"""

# In the server's own mount namespace: a /dev of its own, whose `log` is our socket.
RUN = """\
set -e
mount --bind /dev {root}/olddev
mount -t tmpfs -o mode=755 tmpfs /dev
for node in null zero full random urandom tty; do
  touch /dev/$node
  mount --bind {root}/olddev/$node /dev/$node
done
ln -s {root}/log.sock /dev/log
umount {root}/olddev
exec {master} -D -C {root}/imapd.conf -M {root}/cyrus.conf -p {root}/master.pid
"""


def imapd_path() -> str | None:
    return next((p for p in IMAPD_PLACES if p and os.path.exists(p)), None)


def cyrus_available() -> str | None:
    """Why Cyrus cannot run here, or None."""
    if os.geteuid() != 0:
        return "Cyrus tests start the server as root"
    if imapd_path() is None:
        return (
            "Cyrus imapd is missing (apt-get download cyrus-imapd && "
            "dpkg-deb -x cyrus-imapd_*.deb /opt/cyrus-imapd; .ci/run does it)"
        )
    for tool in (MASTER, CTL_CYRUSDB, SASLPASSWD, shutil.which("unshare") or "/nonexistent"):
        if not os.path.exists(tool):
            return f"{tool} is missing (apt-get install cyrus-common sasl2-bin util-linux)"
    return None


class Syslog:
    """A unix datagram socket standing for /dev/log; what arrives goes to a file."""

    def __init__(self, path: Path, out: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        path.chmod(0o666)
        self.sock.settimeout(0.2)
        self.out = out
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.run, name="cyrus-syslog", daemon=True)
        self.thread.start()

    def run(self) -> None:
        with self.out.open("ab", buffering=0) as out:
            while not self.stopped.is_set():
                try:
                    out.write(self.sock.recv(65536).rstrip(b"\0\n") + b"\n")
                except TimeoutError:
                    continue
                except OSError:
                    return

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(5)
        self.sock.close()


@dataclass
class Cyrus:
    root: Path
    port: int = field(default_factory=free_port)
    altnamespace: bool = True
    unixhierarchysep: bool = True
    process: subprocess.Popen[bytes] | None = None
    syslog: Syslog | None = None

    @property
    def url(self) -> str:
        return f"imap://127.0.0.1:{self.port}"

    @property
    def separator(self) -> str:
        return "/" if self.unixhierarchysep else "."

    def write_config(self) -> None:
        self.root.chmod(0o755)
        for sub in CONFIG_DIRS:
            (self.root / "conf" / sub).mkdir(parents=True, exist_ok=True)
        (self.root / "spool").mkdir(exist_ok=True)
        (self.root / "olddev").mkdir(exist_ok=True)
        values = {
            "root": self.root,
            "servername": SERVERNAME,
            "admin": ADMIN,
            "altnamespace": "yes" if self.altnamespace else "no",
            "unixhierarchysep": "yes" if self.unixhierarchysep else "no",
        }
        (self.root / "imapd.conf").write_text(IMAPD_CONF.format(**values))
        (self.root / "cyrus.conf").write_text(
            CYRUS_CONF.format(root=self.root, ctl=CTL_CYRUSDB, imapd=imapd_path(), port=self.port)
        )
        (self.root / "run.sh").write_text(RUN.format(root=self.root, master=MASTER))
        for user, password in {ADMIN: ADMIN_PASSWORD, **USERS}.items():
            subprocess.run(
                [SASLPASSWD, "-c", "-p", "-f", str(self.root / "sasldb2"), "-u", SERVERNAME, user],
                input=password.encode(),
                check=True,
                capture_output=True,
            )
        (self.root / "admin.secret").write_text(ADMIN_PASSWORD + "\n")
        subprocess.run(
            ["chown", "-R", "cyrus:mail", str(self.root / "conf"), str(self.root / "spool")],
            check=True,
        )
        subprocess.run(["chown", "cyrus:mail", str(self.root / "sasldb2")], check=True)

    def start(self) -> None:
        self.syslog = Syslog(self.root / "log.sock", self.root / "syslog.txt")
        self.process = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", str(self.root / "run.sh")],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"cyrus master exited: {err}\n{self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
                    if sock.recv(200).startswith(b"* OK"):
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"cyrus did not answer on port {self.port}:\n{self.log()}")

    def children(self) -> list[int]:
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
        if self.syslog is not None:
            self.syslog.close()
            self.syslog = None

    def log(self) -> str:
        path = self.root / "syslog.txt"
        return path.read_text(errors="replace") if path.exists() else ""

    def settings(self, **overrides: object) -> dict[str, object]:
        """A [services.connector] table for this server (the admin proxies as the person)."""
        table: dict[str, object] = {
            "type": "imap",
            "url": self.url,
            "admin_user": ADMIN,
            "password_file": str(self.root / "admin.secret"),
            "timeout": 5,
        }
        table.update(overrides)
        return table

    def login(self, user: str) -> imaplib.IMAP4:
        """A direct connection as the user with their own password (not through the panel)."""
        conn = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        conn.login(user, USERS[user])
        return conn

    def admin(self) -> imaplib.IMAP4:
        conn = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        conn.login(ADMIN, ADMIN_PASSWORD)
        return conn

    def user_root(self, user: str) -> str:
        return f"user{self.separator}{user}"

    def reset(self, user: str) -> None:
        """The user's mailbox, empty, as an administrator creates it for a new account."""
        conn = self.admin()
        try:
            root = self.user_root(user)
            typ, _data = conn.list('""', quote(root))
            if typ == "OK" and any(_data):
                conn.setacl(quote(root), ADMIN, "lrswipkxtecda")
                typ, data = conn.delete(quote(root))
                assert typ == "OK", data
            typ, data = conn.create(quote(root))
            assert typ == "OK", data
        finally:
            conn.logout()

    def make_shared_folder(self, name: str, rights: dict[str, str]) -> None:
        """A folder of the team under "Shared Folders/", with the given rights."""
        conn = self.admin()
        try:
            typ, data = conn.list('""', quote(name))
            if typ == "OK" and not any(data):
                typ, data = conn.create(quote(name))
                assert typ == "OK", data
            for who, granted in rights.items():
                typ, data = conn.setacl(quote(name), who, granted)
                assert typ == "OK", data
        finally:
            conn.logout()


def started(**options: bool) -> Iterator[Cyrus]:
    from conftest import missing_tool

    why = cyrus_available()
    if why:
        missing_tool(why)
    root = Path(tempfile.mkdtemp(prefix="panel-cyrus-"))
    server = Cyrus(root, **options)
    server.write_config()
    server.start()
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def cyrus() -> Iterator[Cyrus]:
    """Cyrus as its documentation sets it up: altnamespace and "/" as the separator
    (`Other Users/`, `Shared Folders/`)."""
    yield from started()


@pytest.fixture(scope="session")
def cyrus_classic() -> Iterator[Cyrus]:
    """Cyrus with Debian's /etc/imapd.conf choices: no altnamespace, "." as the separator
    (`INBOX.Sent` is hers, `user.alice.…` someone else's, the team's at the top)."""
    yield from started(altnamespace=False, unixhierarchysep=False)
