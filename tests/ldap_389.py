"""A real 389 Directory Server for the tests: `dscreate from-file` semantics, no systemd.

lib389 (what `dscreate` runs) insists on systemctl unless it believes it is in a
container; the small script below tells it there is no systemd, so it starts ns-slapd
itself. The instance gets a unique name and free ports, and is removed afterwards.

LDAPS and StartTLS: dscreate leaves an empty NSS database in the instance's folder (with
`self_sign_cert = False`); the test CA's server key and certificate go into it as
"Server-Cert" (the personality cn=RSA,cn=encryption already names) with `pk12util`, the CA
is trusted, and `nsslapd-security: on` is set before the restart `configure()` does anyway.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ldap3 import MODIFY_ADD, MODIFY_REPLACE, NONE, Connection, Server

import ldap_server as L

NS_SLAPD = "/usr/sbin/ns-slapd"
ROOT_DN = "cn=Directory Manager"
ROOT_PW = L.ROOT_PW + "-389"  # 389 DS wants at least 8 characters

CREATE = """\
import logging, sys
from lib389 import DirSrv
from lib389.instance.setup import SetupDs
DirSrv.with_systemd = lambda self: False
logging.basicConfig(level=logging.WARNING)
setup = SetupDs(False, False, logging.getLogger("dscreate"))
sys.exit(0 if setup.create_from_inf(sys.argv[1]) else 1)
"""

INF = """\
[general]
config_version = 2
full_machine_name = localhost
selinux = False
systemd = False
start = True
strict_host_checking = False
[slapd]
instance_name = {name}
port = {port}
secure_port = {secure_port}
self_sign_cert = False
root_password = {root_pw}
ldapi = {workdir}/slapd.socket
db_home_dir = {workdir}/dbhome
[backend-userroot]
suffix = {suffix}
create_suffix_entry = True
"""


def available() -> bool:
    return os.path.exists(NS_SLAPD) and os.path.exists("/usr/lib/python3/dist-packages/lib389")


@dataclass
class DS389(L.Slapd):
    """ns-slapd with one backend; same helpers as the slapd fixture (settings, seeding)."""

    name: str = ""

    @property
    def root_dn(self) -> str:
        return ROOT_DN

    def admin(self) -> Connection:
        return Connection(
            Server(self.url, get_info=NONE), ROOT_DN, ROOT_PW, auto_bind=True, raise_exceptions=True
        )

    @property
    def config_dir(self) -> Path:
        return Path(f"/etc/dirsrv/slapd-{self.name}")

    @property
    def pid_file(self) -> Path:
        return Path(f"/run/dirsrv/slapd-{self.name}.pid")

    def pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def create(self) -> None:
        inf = self.workdir / "instance.inf"
        inf.write_text(
            INF.format(
                name=self.name,
                port=self.port,
                secure_port=self.ldaps_port,
                root_pw=ROOT_PW,
                workdir=self.workdir,
                suffix=self.layout.base,
            )
        )
        result = subprocess.run(
            ["/usr/bin/python3", "-c", CREATE, str(inf)], capture_output=True, text=True
        )
        if result.returncode != 0:
            raise RuntimeError(f"dscreate failed: {result.stderr[-2000:]}")
        self._wait_listening()

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("ns-slapd did not start within 60 s")

    def start(self) -> None:
        subprocess.run(
            [NS_SLAPD, "-D", str(self.config_dir), "-i", str(self.pid_file)],
            check=True,
            capture_output=True,
        )
        self._wait_listening()

    def stop(self) -> None:
        pid = self.pid()
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGCONT)
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)

    def freeze(self) -> None:
        pid = self.pid()
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        pid = self.pid()
        assert pid is not None
        os.kill(pid, signal.SIGCONT)

    def install_certificate(self) -> None:
        """The test CA's server certificate into the instance's NSS database (what
        `dsctl tls import-server-key-cert` does), and the CA trusted for it."""
        self.tls_files = L.make_ca(self.workdir / "tls", names=self.tls_names)
        bundle = self.workdir / "tls" / "server.p12"
        bundle_pw = "panel-test-p12"  # a throw-away bundle of a throw-away CA
        nss = f"sql:{self.config_dir}"
        token_pw = self.config_dir / "pwdfile.txt"  # written by dscreate
        for command in (
            ["openssl", "pkcs12", "-export", "-name", "Server-Cert",
             "-in", str(self.tls_files["cert"]), "-inkey", str(self.tls_files["key"]),
             "-certfile", str(self.tls_files["ca"]), "-out", str(bundle),
             "-passout", f"pass:{bundle_pw}"],
            ["pk12util", "-i", str(bundle), "-d", nss, "-k", str(token_pw), "-W", bundle_pw],
            ["certutil", "-A", "-d", nss, "-f", str(token_pw), "-n", "Panel test CA",
             "-t", "CT,,", "-a", "-i", str(self.tls_files["ca"])],
        ):  # fmt: skip
            result = subprocess.run(command, capture_output=True, text=True)
            if result.returncode != 0:
                raise RuntimeError(f"{command[0]} failed: {result.stdout}{result.stderr}")

    def configure(self) -> None:
        """memberOf plugin on (for uniqueMember too), TLS on when asked, and access for the
        panel's account."""
        if self.tls:
            self.install_certificate()
        with self.admin() as conn:
            if self.tls:
                conn.modify("cn=config", {"nsslapd-security": [(MODIFY_REPLACE, ["on"])]})
            plugin = "cn=MemberOf Plugin,cn=plugins,cn=config"
            conn.modify(
                plugin,
                {
                    "nsslapd-pluginEnabled": [(MODIFY_REPLACE, ["on"])],
                    "memberOfGroupAttr": [(MODIFY_REPLACE, ["member", "uniqueMember"])],
                },
            )
        self.stop()
        self.start()
        base = self.layout.base
        service = self.layout.service_dn
        aci = (
            '(targetattr = "*")(version 3.0; acl "chatons-panel service account"; '
            f'allow (read, search, compare, write, delete) userdn = "ldap:///{service}";)'
        )
        own = (
            '(targetattr != "userPassword")(version 3.0; acl "people read their own entry"; '
            'allow (read, search, compare) userdn = "ldap:///self";)'
        )
        with self.admin() as conn:
            conn.modify(base, {"aci": [(MODIFY_ADD, [aci, own])]})


def _runtime_dirs() -> None:
    """What systemd-tmpfiles would create at boot; absent on a machine without systemd."""
    for path in ("/run/dirsrv", "/run/lock/dirsrv"):
        if not os.path.isdir(path):
            os.makedirs(path, mode=0o770)
            shutil.chown(path, "dirsrv", "dirsrv")


def start(layout: L.Layout = L.DS389, *, tls: bool = True) -> DS389:
    """A configured, seeded instance; LDAPS (and StartTLS) with a CA of its own by default."""
    _runtime_dirs()
    workdir = Path(tempfile.mkdtemp(prefix="panel-389-"))
    workdir.chmod(0o755)  # ns-slapd runs as dirsrv and needs its ldapi/db_home here
    server = DS389(workdir, layout=layout, flavour="389", tls=tls)
    server.name = f"panel{server.port}"
    server.create()
    server.configure()
    server.seed_layout()
    return server


def cleanup(server: Any) -> None:
    server.stop()
    for path in (
        server.config_dir,
        Path(f"/var/lib/dirsrv/slapd-{server.name}"),
        Path(f"/var/log/dirsrv/slapd-{server.name}"),
        Path(f"/run/lock/dirsrv/slapd-{server.name}"),
    ):
        shutil.rmtree(path, ignore_errors=True)
    for leftover in Path("/run/dirsrv").glob(f"slapd-{server.name}.*"):
        leftover.unlink(missing_ok=True)
    shutil.rmtree(server.workdir, ignore_errors=True)
