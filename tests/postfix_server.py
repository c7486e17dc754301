"""A private Postfix for tests: its own config and queue in a temp dir, SMTP on a loopback port,
one domain delivered through a `pipe` transport to a command (as `nobody`).

Needs root (Postfix's master starts as root and drops privileges) and the Debian package.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from helpers import wait_port
from ldap_server import free_port

POSTFIX = "/usr/sbin/postfix"
DAEMONS = "/usr/lib/postfix/sbin"
PIPE_USER = "nobody"

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {root}/spool
data_directory = {root}/data
command_directory = /usr/sbin
daemon_directory = {daemons}
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.panel-test.invalid
mydomain = panel-test.invalid
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relay_domains = {domain}
transport_maps = inline:{{ {domain}=panel: }}
relay_recipient_maps =
smtpd_relay_restrictions = permit_mynetworks, reject
recipient_delimiter = +
alias_maps =
alias_database =
local_recipient_maps =
panel_destination_recipient_limit = 1
maillog_file = {root}/postfix.log
maillog_file_prefixes = {root}
smtputf8_enable = no
biff = no
# A delivery deferred by the command (exit 75, e.g. the database busy on a loaded machine)
# is tried again within seconds, not minutes.
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
"""

MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
panel     unix  -       n       n       -       -       pipe
  flags=DRq user={user} argv={argv} ${{recipient}}
"""


def postfix_available() -> str | None:
    """None when a private Postfix can run here, else why not."""
    if not os.path.exists(POSTFIX) or not os.path.isdir(DAEMONS):
        return "Postfix is not installed: apt-get install postfix"
    if os.geteuid() != 0:
        return "a private Postfix needs root (its master process drops privileges itself)"
    return None


def _world_usable(path: Path) -> bool:
    """Can another user (the pipe runs as `nobody`) reach and execute this path?"""
    path = path.resolve()
    for part in [path, *path.parents]:
        mode = part.stat().st_mode
        if not mode & stat.S_IXOTH:
            return False
    return True


def pipe_python(repo: Path) -> tuple[str, dict[str, str]] | str:
    """(interpreter, extra environment) the pipe user can run the panel with, or why not.

    A venv's interpreter may live in root's home (pyenv): then the system interpreter of
    the same version runs with the venv's packages on PYTHONPATH.
    """
    if not _world_usable(repo):
        return f"{repo} is not readable by {PIPE_USER}: the pipe command could not run the panel"
    if _world_usable(Path(sys.executable)):
        return sys.executable, {}
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    system = Path("/usr/bin") / version
    site = Path(sys.prefix) / "lib" / version / "site-packages"
    if system.exists() and _world_usable(site):
        return str(system), {"PYTHONPATH": f"{site}:{repo}"}
    return f"no {version} interpreter usable by {PIPE_USER} (the venv's is in a private home)"


@dataclass
class Postfix:
    root: Path
    port: int

    @property
    def config_dir(self) -> Path:
        return self.root / "etc"

    def log(self) -> str:
        path = self.root / "postfix.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """Kill the master and its daemons (their own process group) at once: the test is
        over and the queue goes with the folder. `postfix stop` asks them to finish and
        checks once a second, for 5 s, before it kills them anyway (6-12 s per test in CI)."""
        with contextlib.suppress(OSError, ValueError, IndexError):
            master = int((self.root / "spool" / "pid" / "master.pid").read_text().split()[0])
            os.killpg(master, signal.SIGKILL)
        shutil.rmtree(self.root, ignore_errors=True)


def start_postfix(domain: str, argv: list[str]) -> Postfix:
    """Start Postfix delivering every address of `domain` to `argv` + the recipient."""
    root = Path(tempfile.mkdtemp(prefix="panel-postfix-"))
    os.chmod(root, 0o755)  # noqa: S103 - Postfix daemons (not root) must reach their queue
    for name in ("etc", "spool", "data"):
        (root / name).mkdir()
    shutil.chown(root / "data", user="postfix")
    port = free_port()
    (root / "etc" / "main.cf").write_text(MAIN_CF.format(root=root, daemons=DAEMONS, domain=domain))
    (root / "etc" / "master.cf").write_text(
        MASTER_CF.format(port=port, user=PIPE_USER, argv=" ".join(argv))
    )
    server = Postfix(root=root, port=port)
    started = subprocess.run(
        [POSTFIX, "-c", str(server.config_dir), "start"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if started.returncode != 0:
        log = server.log()
        server.stop()
        raise RuntimeError(f"postfix did not start: {started.stderr}\n{log}")
    try:
        wait_port(port, timeout=20)
    except RuntimeError:
        log = server.log()
        server.stop()
        raise RuntimeError(f"postfix does not listen on {port}:\n{log}") from None
    return server
