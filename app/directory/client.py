"""Directory adapter over ldap3: authenticate, look up, staff membership, delete."""

from __future__ import annotations

import logging
import ssl
import threading
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ldap3 import BASE, MODIFY_DELETE, SUBTREE
from ldap3.core.exceptions import LDAPSASLPrepError
from ldap3.protocol.sasl.sasl import sasl_prep
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn

from app.directory.connections import (
    DirectoryMisconfigured,
    DirectoryUnavailable,
    PasswordNotAcceptable,
    Servers,
    ServicePool,
    user_connection,
)
from app.directory.dn import same_dn
from app.directory.schema import Schema, read_schema

log = logging.getLogger(__name__)

INVALID_CREDENTIALS = 49
NO_SUCH_OBJECT = 32
SIZE_LIMIT_EXCEEDED = 4
# Result codes that mean "the server cannot answer now", not "a setting is wrong".
TRANSIENT_RESULTS = frozenset({3, 51, 52, 80})
MEMBERSHIP_ATTRIBUTES = ("member", "uniqueMember", "memberUid")
# Never read nor export these, whatever the attribute map says.
SECRET_ATTRIBUTES = frozenset(
    a.casefold()
    for a in (
        "userPassword",
        "authPassword",
        "sambaNTPassword",
        "sambaLMPassword",
        "unicodePwd",
        "krb5Key",
        "pwdHistory",
    )
)


DEFAULT_ATTRIBUTES = {
    "login": "uid",
    "display_name": "cn",
    "email": "mail",
    "language": "preferredLanguage",
}


@dataclass(frozen=True)
class Person:
    """A directory person as plain values; no ldap3 object leaves this package."""

    uid: str
    dn: str
    display_name: str
    email: str | None
    language: str | None
    member_of: tuple[str, ...] = ()


@dataclass(frozen=True)
class DirectorySettings:
    urls: tuple[str, ...]
    user_base: str
    user_filter: str = "(uid={login})"
    attributes: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_ATTRIBUTES))
    bind_dn: str | None = None
    bind_password: str | None = None
    user_dn_template: str | None = None
    staff_group: str | None = None
    staff_membership: str = "auto"
    starttls: bool = False
    ca_file: str | None = None
    timeout: float = 5.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> DirectorySettings:
        urls = config.get("LDAP_URL") or ()
        if isinstance(urls, str):
            urls = tuple(u for u in urls.replace(",", " ").split() if u)
        attributes = dict(DEFAULT_ATTRIBUTES)
        attributes.update(config.get("LDAP_ATTRIBUTES") or {})
        return cls(
            urls=tuple(urls),
            user_base=config["LDAP_USER_BASE"],
            user_filter=config["LDAP_USER_FILTER"],
            attributes=attributes,
            bind_dn=config.get("LDAP_BIND_DN") or None,
            bind_password=config.get("LDAP_BIND_PASSWORD"),
            user_dn_template=config.get("LDAP_USER_DN_TEMPLATE") or None,
            staff_group=config.get("LDAP_STAFF_GROUP") or None,
            staff_membership=config.get("LDAP_STAFF_MEMBERSHIP", "auto"),
            starttls=_flag(config.get("LDAP_STARTTLS")),
            ca_file=config.get("LDAP_CA_FILE") or None,
            timeout=float(config.get("LDAP_TIMEOUT", 5)),
        )

    def tls_problem(self) -> str | None:
        """One plain sentence if the TLS settings cannot work, checked before any connection."""
        if self.starttls and any(u.startswith("ldaps://") for u in self.urls):
            return (
                "PANEL_LDAP_STARTTLS cannot be combined with an ldaps:// address in "
                "PANEL_LDAP_URL: ldaps:// is already encrypted, remove one of the two."
            )
        if self.ca_file:
            path = Path(self.ca_file)
            if not path.is_file():
                return f"PANEL_LDAP_CA_FILE names {self.ca_file}, which does not exist."
            try:
                ssl.create_default_context(cafile=str(path))
            except PermissionError:
                return f"PANEL_LDAP_CA_FILE names {self.ca_file}, which the panel cannot read."
            except (ssl.SSLError, ValueError, OSError):
                return (
                    f"PANEL_LDAP_CA_FILE names {self.ca_file}, which holds no PEM "
                    "certificate (it should contain -----BEGIN CERTIFICATE-----)."
                )
        return None


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().casefold() in ("1", "true", "yes", "on")
    return bool(value)


def _first(values: Any) -> str | None:
    if values is None:
        return None
    if isinstance(values, list | tuple):
        return str(values[0]) if values else None
    text = str(values)
    return text or None


def _all(values: Any) -> list[str]:
    if values is None:
        return []
    if isinstance(values, list | tuple):
        return [str(v) for v in values]
    return [str(values)]


T = TypeVar("T")


class Directory:
    """Talks to one directory (or a failover list), or to the in-memory demo directory."""

    def __init__(self, settings: DirectorySettings, demo_server: Any | None = None) -> None:
        self.settings = settings
        self._demo_server = demo_server
        if demo_server is None and not settings.urls:
            raise ValueError("no directory URL given")
        problem = None if demo_server is not None else settings.tls_problem()
        if problem:
            raise DirectoryMisconfigured(problem)
        self.servers = Servers(
            settings.urls,
            timeout=settings.timeout,
            starttls=settings.starttls,
            ca_file=settings.ca_file,
            demo_server=demo_server,
        )
        self.pool = ServicePool(self.servers, settings.bind_dn, settings.bind_password)
        self._schema: Schema | None = None
        self._schema_read = False
        self._schema_lock = threading.Lock()

    @property
    def is_demo(self) -> bool:
        return self._demo_server is not None

    # Schema -----------------------------------------------------------------------------

    def schema(self) -> Schema | None:
        """The server's schema, read once per process; None if the server hides it."""
        if self._schema_read:
            return self._schema
        with self._schema_lock:
            if not self._schema_read:
                if self.settings.bind_dn or self.is_demo:
                    schema = self.pool.run(read_schema)
                else:
                    schema = self._anonymous(read_schema)
                if schema is None:
                    log.info("the directory does not let the panel read its schema")
                self._schema, self._schema_read = schema, True
        return self._schema

    def _anonymous(self, operation: Callable[[Any], T]) -> T:
        anonymous = ServicePool(self.servers, None, None, size=0)
        return anonymous.run(operation)

    def _defined(self, attribute: str) -> bool:
        """Whether the server defines the attribute (True when its schema is hidden)."""
        schema = self.schema()
        return schema is None or schema.defines(attribute)

    def uses_member_of(self) -> bool:
        mode = self.settings.staff_membership
        if mode == "memberOf":
            return True
        if mode != "auto" or not self.settings.staff_group:
            return False
        schema = self.schema()
        return schema is not None and schema.defines("memberOf")

    def wanted_attributes(self) -> list[str]:
        """The attributes a person search asks for: only those the server defines."""
        amap = self.settings.attributes
        names = [amap[k] for k in ("login", "display_name", "email", "language") if amap.get(k)]
        wanted = [n for n in dict.fromkeys(names) if self._defined(n)]
        if self.uses_member_of():
            wanted.append("memberOf")
        return wanted

    def membership_attributes(self) -> list[str]:
        """The group attributes read to decide staff membership."""
        mode = self.settings.staff_membership
        candidates = MEMBERSHIP_ATTRIBUTES if mode in ("auto", "memberOf") else (mode,)
        return [a for a in candidates if self._defined(a)] or list(candidates)

    # People -----------------------------------------------------------------------------

    def _person(self, dn: str, attrs: Mapping[str, Any]) -> Person | None:
        lowered = {k.casefold(): v for k, v in attrs.items()}
        amap = self.settings.attributes
        uid = _first(lowered.get(amap["login"].casefold()))
        if not uid:
            return None
        return Person(
            uid=uid,
            dn=dn,
            display_name=_first(lowered.get(amap["display_name"].casefold())) or uid,
            email=_first(lowered.get(amap["email"].casefold())),
            language=_first(lowered.get(amap["language"].casefold())),
            member_of=tuple(_all(lowered.get("memberof"))),
        )

    def user_filter(self, login: str, *, escape: bool = True) -> str:
        value = escape_filter_chars(login) if escape else login
        return self.settings.user_filter.replace("{login}", value)

    def _check_result(self, conn: Any, what: str) -> None:
        """Turn a failed operation's result code into the right exception."""
        code = conn.result.get("result")
        description = conn.result.get("description")
        if code in TRANSIENT_RESULTS:
            raise DirectoryUnavailable(f"{what}: the server answered {description}")
        raise DirectoryMisconfigured(f"{what}: the server answered {description}")

    def search_people(self, conn: Any, ldap_filter: str, size_limit: int) -> list[Person]:
        ok = conn.search(
            self.settings.user_base,
            ldap_filter,
            SUBTREE,
            attributes=self.wanted_attributes(),
            size_limit=size_limit,
            time_limit=max(1, int(self.settings.timeout)),
        )
        code = conn.result.get("result")
        if not ok and code not in (0, SIZE_LIMIT_EXCEEDED):
            if code == NO_SUCH_OBJECT:
                raise DirectoryMisconfigured(
                    f"PANEL_LDAP_USER_BASE {self.settings.user_base} does not exist or the "
                    "service account cannot read it"
                )
            self._check_result(conn, "person search")
        people = []
        for entry in conn.response or []:
            if entry.get("type") == "searchResEntry":
                person = self._person(entry["dn"], entry["attributes"])
                if person is not None:
                    people.append(person)
        return people

    def _search_person(self, conn: Any, login: str) -> Person | None:
        people = self.search_people(conn, self.user_filter(login), size_limit=2)
        if len(people) != 1:
            # Ambiguous filters must not log anybody in as "the first match".
            return None
        person = people[0]
        if person.uid.casefold() != login.casefold():
            return None
        return person

    def _read_entry(self, conn: Any, dn: str) -> Person | None:
        ok = conn.search(dn, "(objectClass=*)", BASE, attributes=self.wanted_attributes())
        if not ok or not conn.response:
            return None
        return self._person(conn.response[0]["dn"], conn.response[0]["attributes"])

    @staticmethod
    def _acceptable_login(login: str) -> bool:
        return 0 < len(login) <= 256 and "\x00" not in login

    def authenticate(self, login: str, password: str) -> Person | None:
        """The person if the login and password are right, else None.

        An empty password never reaches a bind: an empty simple bind is an anonymous bind
        that most servers accept.
        """
        if not password or not self._acceptable_login(login):
            return None
        if any(unicodedata.category(char) == "Cc" for char in password):
            # SASLprep forbids control characters: no bind could ever succeed with them.
            return None
        try:
            # Nor with anything else SASLprep refuses (a lone soft hyphen, unassigned code
            # points…): that is a wrong password, not an unreachable directory.
            sasl_prep(password)
        except LDAPSASLPrepError:
            return None
        if self.settings.user_dn_template:
            dn = self.settings.user_dn_template.replace("{login}", escape_rdn(login))
            self.schema()
            person = self._bind_as(dn, password, read_entry=True)
            if person is None or person.uid.casefold() != login.casefold():
                return None
            return person
        person = self.pool.run(lambda conn: self._search_person(conn, login))
        if person is None:
            return None
        if self._bind_as(person.dn, password) is None:
            return None
        return person

    def _bind_as(self, dn: str, password: str, *, read_entry: bool = False) -> Person | None:
        """Bind as the person on a fresh connection; their entry if asked, else a marker."""
        try:
            with user_connection(self.servers, dn, password) as conn:
                if not conn.bound:
                    code = conn.result.get("result")
                    if code not in (INVALID_CREDENTIALS, NO_SUCH_OBJECT):
                        log.info("sign-in refused for %s: %s", dn, conn.result.get("description"))
                    return None
                if read_entry:
                    return self._read_entry(conn, dn)
                return Person(uid="", dn=dn, display_name="", email=None, language=None)
        except PasswordNotAcceptable:
            # SASLprep (RFC 4013) forbids some characters: no bind can succeed with them.
            log.info("sign-in refused for %s: password holds a character SASLprep forbids", dn)
            return None

    def lookup(self, uid: str) -> Person | None:
        """The person with this login as the directory sees it now, or None if gone."""
        if not self._acceptable_login(uid):
            return None
        return self.pool.run(lambda conn: self._search_person(conn, uid))

    def read_group(self, conn: Any, group: str) -> dict[str, list[str]] | None:
        """The staff group's membership values (case-folded names), or None if absent."""
        ok = conn.search(group, "(objectClass=*)", BASE, attributes=self.membership_attributes())
        if not ok or not conn.response:
            code = conn.result.get("result")
            if code in (0, NO_SUCH_OBJECT):
                return None
            self._check_result(conn, f"reading the staff group {group}")
        return {k.casefold(): _all(v) for k, v in conn.response[0]["attributes"].items()}

    @staticmethod
    def member_in(values: Mapping[str, list[str]], person: Person) -> bool:
        for attr in ("member", "uniquemember"):
            for value in values.get(attr, []):
                # uniqueMember may carry an optional UID suffix: "dn#'0101'B".
                member_dn = value.rsplit("#", 1)[0] if attr == "uniquemember" else value
                if same_dn(member_dn, person.dn):
                    return True
        return person.uid in values.get("memberuid", [])

    def is_staff(self, person: Person) -> bool:
        group = self.settings.staff_group
        if not group:
            return False
        mode = self.settings.staff_membership
        if mode in ("auto", "memberOf") and any(same_dn(g, group) for g in person.member_of):
            return True
        if mode == "memberOf":
            return False
        values = self.pool.run(lambda conn: self.read_group(conn, group))
        return values is not None and self.member_in(values, person)

    def entry_attributes(
        self, person: Person, deny: frozenset[str] = frozenset()
    ) -> dict[str, list[str]]:
        """All readable attributes of the person's entry, secrets and the deny-list left out."""

        def read(conn: Any) -> dict[str, Any]:
            ok = conn.search(person.dn, "(objectClass=*)", BASE, attributes=["*"])
            if not ok or not conn.response:
                return {}
            return dict(conn.response[0]["attributes"])

        raw = self.pool.run(read)
        hidden = SECRET_ATTRIBUTES | {d.casefold() for d in deny}
        result: dict[str, list[str]] = {}
        for name, value in sorted(raw.items()):
            values = value if isinstance(value, list | tuple) else [value]
            if name.casefold() in hidden or any(isinstance(v, bytes) for v in values):
                continue
            result[name] = [str(v) for v in values]
        return result

    def delete(self, person: Person) -> bool:
        """Remove the entry and its group memberships; True if something was removed.

        Idempotent: a person already gone counts as done.
        """
        return self.pool.run(lambda conn: self._delete(conn, person))

    def _delete(self, conn: Any, person: Person) -> bool:
        removed = False
        attributes = [a for a in MEMBERSHIP_ATTRIBUTES if self._defined(a)]
        member_filter = "(|{})".format(
            "".join(
                f"({a}={escape_filter_chars(person.uid if a == 'memberUid' else person.dn)})"
                for a in attributes
            )
        )
        base = self._naming_context(person.dn)
        conn.search(base, member_filter, SUBTREE, attributes=attributes)
        groups = [
            (e["dn"], e["attributes"])
            for e in conn.response or []
            if e.get("type") == "searchResEntry"
        ]
        for group_dn, attrs in groups:
            changes: dict[str, list[tuple[Any, list[str]]]] = {}
            for name, values in attrs.items():
                matches = [
                    v
                    for v in _all(values)
                    if (name.casefold() == "memberuid" and v == person.uid)
                    or (name.casefold() != "memberuid" and same_dn(v.rsplit("#", 1)[0], person.dn))
                ]
                if matches:
                    changes[name] = [(MODIFY_DELETE, matches)]
            if changes and not conn.modify(group_dn, changes):
                self._check_result(conn, f"updating group {group_dn}")
            removed = removed or bool(changes)
        if conn.delete(person.dn):
            removed = True
        elif conn.result.get("result") != NO_SUCH_OBJECT:
            self._check_result(conn, "deleting the entry")
        return removed

    def _naming_context(self, dn: str) -> str:
        """The suffix of a DN made of its dc= components, where groups are searched from."""
        parts = [p for p in dn.split(",") if p.strip().lower().startswith("dc=")]
        return ",".join(parts) if parts else dn

    def close(self) -> None:
        self.pool.close()
