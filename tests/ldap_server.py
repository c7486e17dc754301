"""A real OpenLDAP slapd for the tests: generated config, loopback port, seeded directory."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ldap3 import MODIFY_ADD, MODIFY_DELETE, Connection, Server

SLAPD = "/usr/sbin/slapd"
BASE = "dc=example,dc=org"
PEOPLE = f"ou=people,{BASE}"
GROUPS = f"ou=groups,{BASE}"
ROOT_DN = f"cn=admin,{BASE}"
ROOT_PW = "admin-secret"
SERVICE_DN = f"cn=panel,ou=services,{BASE}"
SERVICE_PW = "service-secret"
PASSWORD = "correct horse"

SCHEMAS = ("core", "cosine", "inetorgperson", "nis")

CONFIG = """\
{includes}
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
pidfile {run}/slapd.pid
argsfile {run}/slapd.args

database mdb
maxsize 104857600
suffix "{base}"
rootdn "{root_dn}"
rootpw {root_pw}
directory {data}

overlay memberof
memberof-group-oc groupOfNames
memberof-member-ad member
memberof-memberof-ad memberOf
memberof-refint TRUE

access to attrs=userPassword
  by self write
  by anonymous auth
  by * none
access to *
  by dn.exact="{service_dn}" write
  by users read
  by * none
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Slapd:
    """A running slapd; `stop()`/`start()` simulate an outage on the same port."""

    workdir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    def settings(self, **overrides: Any) -> dict[str, Any]:
        config = {
            "LDAP_URL": self.url,
            "LDAP_BIND_DN": SERVICE_DN,
            "LDAP_BIND_PASSWORD": SERVICE_PW,
            "LDAP_USER_BASE": PEOPLE,
            "LDAP_USER_FILTER": "(&(objectClass=inetOrgPerson)(uid={login}))",
            "LDAP_STAFF_GROUP": f"cn=staff,{GROUPS}",
            "LDAP_STAFF_MEMBERSHIP": "auto",
            "LDAP_TIMEOUT": 2,
        }
        config.update(overrides)
        return config

    def write_config(self) -> Path:
        data = self.workdir / "data"
        data.mkdir(parents=True, exist_ok=True)
        includes = "\n".join(f"include /etc/ldap/schema/{name}.schema" for name in SCHEMAS)
        conf = self.workdir / "slapd.conf"
        conf.write_text(
            CONFIG.format(
                includes=includes,
                run=self.workdir,
                base=BASE,
                root_dn=ROOT_DN,
                root_pw=ROOT_PW,
                data=data,
                service_dn=SERVICE_DN,
            )
        )
        return conf

    def start(self) -> None:
        conf = self.workdir / "slapd.conf"
        self.process = subprocess.Popen(
            [SLAPD, "-f", str(conf), "-h", f"{self.url}/", "-d", "0"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"slapd exited: {err[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("slapd did not start within 15 s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def admin(self) -> Connection:
        conn = Connection(Server(self.url), ROOT_DN, ROOT_PW, auto_bind=True, raise_exceptions=True)
        return conn

    # Directory edits used by tests -----------------------------------------------------

    def add_person(
        self,
        uid: str,
        *,
        cn: str | None = None,
        mail: str | None = "default",
        language: str | None = "fr",
        rdn: str | None = None,
        password: str = PASSWORD,
    ) -> str:
        dn = f"{rdn or 'uid=' + uid},{PEOPLE}"
        attrs: dict[str, Any] = {
            "uid": uid,
            "cn": cn or uid.title(),
            "sn": (cn or uid).split()[-1],
            "userPassword": password,
        }
        if mail == "default":
            attrs["mail"] = f"{uid}@example.org"
        elif mail:
            attrs["mail"] = mail
        if language:
            attrs["preferredLanguage"] = language
        with self.admin() as conn:
            conn.add(dn, ["top", "person", "organizationalPerson", "inetOrgPerson"], attrs)
        return dn

    def delete_entry(self, dn: str) -> None:
        with self.admin() as conn:
            conn.raise_exceptions = False
            conn.delete(dn)

    def add_member(self, group_dn: str, attribute: str, value: str) -> None:
        with self.admin() as conn:
            conn.modify(group_dn, {attribute: [(MODIFY_ADD, [value])]})

    def remove_member(self, group_dn: str, attribute: str, value: str) -> None:
        with self.admin() as conn:
            conn.modify(group_dn, {attribute: [(MODIFY_DELETE, [value])]})

    def seed(self) -> None:
        """The test directory: people, a service account, staff groups in four layouts."""
        with self.admin() as conn:
            conn.add(BASE, ["top", "dcObject", "organization"], {"o": "Example", "dc": "example"})
            for ou in ("people", "groups", "services"):
                conn.add(f"ou={ou},{BASE}", ["organizationalUnit"], {"ou": ou})
            conn.add(
                SERVICE_DN,
                ["simpleSecurityObject", "organizationalRole"],
                {"cn": "panel", "userPassword": SERVICE_PW},
            )
        self.add_person("alice", cn="Alice Martin")
        self.add_person("bob", cn="Bob Smith", language="en")
        self.add_person("zoe", cn="Zoé Lefèvre-Nguyễn")
        self.add_person("nomail", cn="No Mail", mail=None)
        self.add_person("jsmith", cn="Smith, John", rdn="cn=Smith\\, John")
        self.add_person("alice2", cn="Alice Bis")
        for uid in ("staffnames", "staffunique", "staffposix", "staffmemberof", "staffrevoked"):
            self.add_person(uid, cn=f"Staff {uid}")
        with self.admin() as conn:
            # The panel's staff group, groupOfNames: note alice2 — alice must not match it.
            conn.add(
                f"cn=staff,{GROUPS}",
                ["groupOfNames"],
                {
                    "cn": "staff",
                    "member": [
                        f"uid=staffnames,{PEOPLE}",
                        f"UID=StaffRevoked, OU=People,{BASE.upper()}",
                        f"uid=alice2,{PEOPLE}",
                        f"cn=Smith\\2C John,{PEOPLE}",
                    ],
                },
            )
            conn.add(
                f"cn=unique-staff,{GROUPS}",
                ["groupOfUniqueNames"],
                {"cn": "unique-staff", "uniqueMember": [f"uid=staffunique,{PEOPLE}"]},
            )
            conn.add(
                f"cn=posix-staff,{GROUPS}",
                ["posixGroup"],
                {"cn": "posix-staff", "gidNumber": 5000, "memberUid": ["staffposix", "alice22"]},
            )
            # memberOf is maintained by the overlay from this group.
            conn.add(
                f"cn=memberof-staff,{GROUPS}",
                ["groupOfNames"],
                {"cn": "memberof-staff", "member": [f"uid=staffmemberof,{PEOPLE}"]},
            )


def start_slapd() -> Slapd:
    workdir = Path(tempfile.mkdtemp(prefix="panel-slapd-"))
    server = Slapd(workdir)
    server.write_config()
    server.start()
    server.seed()
    return server


def slapd_available() -> bool:
    return os.path.exists(SLAPD) and os.path.isdir("/etc/ldap/schema")


def cleanup(server: Slapd) -> None:
    server.stop()
    shutil.rmtree(server.workdir, ignore_errors=True)
