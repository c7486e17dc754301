"""Directory adapter over ldap3: authenticate, look up, staff membership, delete."""

from __future__ import annotations

import logging
import math
import ssl
import unicodedata
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from ldap3 import (
    BASE,
    FIRST,
    MOCK_SYNC,
    MODIFY_DELETE,
    SIMPLE,
    SUBTREE,
    SYNC,
    Connection,
    Server,
    ServerPool,
    Tls,
)
from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn

from app.directory.dn import same_dn

log = logging.getLogger(__name__)

INVALID_CREDENTIALS = 49
NO_SUCH_OBJECT = 32
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


class DirectoryUnavailable(Exception):
    """The directory cannot be reached or answered with an error we cannot act on."""


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
            bind_dn=config.get("LDAP_BIND_DN"),
            bind_password=config.get("LDAP_BIND_PASSWORD"),
            user_dn_template=config.get("LDAP_USER_DN_TEMPLATE"),
            staff_group=config.get("LDAP_STAFF_GROUP"),
            staff_membership=config.get("LDAP_STAFF_MEMBERSHIP", "auto"),
            starttls=bool(config.get("LDAP_STARTTLS")),
            ca_file=config.get("LDAP_CA_FILE"),
            timeout=float(config.get("LDAP_TIMEOUT", 5)),
        )


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


class Directory:
    """Talks to one directory (or a failover list), or to the in-memory demo directory."""

    def __init__(self, settings: DirectorySettings, demo_server: Any | None = None) -> None:
        self.settings = settings
        self._demo_server = demo_server
        if demo_server is None and not settings.urls:
            raise ValueError("no directory URL given")

    def _target(self) -> Any:
        """A fresh server (or failover pool) per connection.

        ldap3 remembers failed addresses on a Server object and refuses them for a while;
        a directory that comes back must be usable on the very next request.
        """
        if self._demo_server is not None:
            return self._demo_server
        servers = [self._make_server(url) for url in self.settings.urls]
        if len(servers) == 1:
            return servers[0]
        return ServerPool(servers, FIRST, active=1, exhaust=False)

    @property
    def is_demo(self) -> bool:
        return self._demo_server is not None

    def _make_server(self, url: str) -> Server:
        tls = None
        if url.startswith("ldaps://") or self.settings.starttls:
            tls = Tls(
                validate=ssl.CERT_REQUIRED,
                ca_certs_file=self.settings.ca_file,
                version=ssl.PROTOCOL_TLS_CLIENT,
            )
        return Server(
            url,
            use_ssl=url.startswith("ldaps://"),
            tls=tls,
            connect_timeout=self.settings.timeout,
        )

    @contextmanager
    def _connection(self, dn: str | None = None, password: str | None = None) -> Iterator[Any]:
        """A bound connection, or DirectoryUnavailable; bind failure gives conn.bound False."""
        conn = Connection(
            self._target(),
            user=dn,
            password=password,
            authentication=SIMPLE if dn else None,
            client_strategy=MOCK_SYNC if self.is_demo else SYNC,
            receive_timeout=max(1, math.ceil(self.settings.timeout)),
            raise_exceptions=False,
            auto_referrals=False,
        )
        try:
            conn.open()
            if self.settings.starttls and not self.is_demo and not conn.start_tls():
                raise DirectoryUnavailable("StartTLS failed")
            conn.bind()
            yield conn
        except LDAPException as exc:
            raise DirectoryUnavailable(f"{type(exc).__name__}: {exc}") from exc
        finally:
            # A connection that never opened has nothing to close.
            with suppress(LDAPException):
                conn.unbind()

    @contextmanager
    def _service(self) -> Iterator[Any]:
        with self._connection(self.settings.bind_dn, self.settings.bind_password) as conn:
            if not conn.bound:
                raise DirectoryUnavailable(
                    f"the service account cannot bind: {conn.result.get('description')}"
                )
            yield conn

    def _wanted_attributes(self) -> list[str]:
        names = [
            self.settings.attributes[k] for k in ("login", "display_name", "email", "language")
        ]
        return [*names, "memberOf"]

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

    def _user_filter(self, login: str) -> str:
        return self.settings.user_filter.replace("{login}", escape_filter_chars(login))

    def _search_person(self, conn: Any, login: str) -> Person | None:
        ok = conn.search(
            self.settings.user_base,
            self._user_filter(login),
            SUBTREE,
            attributes=self._wanted_attributes(),
            size_limit=2,
            time_limit=int(self.settings.timeout) or 1,
        )
        if not ok:
            if conn.result.get("result") in (0, NO_SUCH_OBJECT, 4):
                return None
            raise DirectoryUnavailable(f"search failed: {conn.result.get('description')}")
        entries = [e for e in conn.response if e.get("type") == "searchResEntry"]
        if len(entries) != 1:
            # Ambiguous filters must not log anybody in as "the first match".
            return None
        person = self._person(entries[0]["dn"], entries[0]["attributes"])
        if person is None or person.uid.casefold() != login.casefold():
            return None
        return person

    def _read_entry(self, conn: Any, dn: str) -> Person | None:
        ok = conn.search(dn, "(objectClass=*)", BASE, attributes=self._wanted_attributes())
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
        if self.settings.user_dn_template:
            dn = self.settings.user_dn_template.replace("{login}", escape_rdn(login))
            with self._connection(dn, password) as conn:
                if not conn.bound:
                    return None
                person = self._read_entry(conn, dn)
            if person is None or person.uid.casefold() != login.casefold():
                return None
            return person
        with self._service() as conn:
            person = self._search_person(conn, login)
        if person is None:
            return None
        with self._connection(person.dn, password) as user_conn:
            if not user_conn.bound:
                return None
        return person

    def lookup(self, uid: str) -> Person | None:
        """The person with this login as the directory sees it now, or None if gone."""
        if not self._acceptable_login(uid):
            return None
        with self._service() as conn:
            return self._search_person(conn, uid)

    def is_staff(self, person: Person) -> bool:
        group = self.settings.staff_group
        if not group:
            return False
        mode = self.settings.staff_membership
        if mode in ("auto", "memberOf") and any(same_dn(g, group) for g in person.member_of):
            return True
        if mode == "memberOf":
            return False
        attributes = ["member", "uniqueMember", "memberUid"] if mode == "auto" else [mode]
        with self._service() as conn:
            ok = conn.search(group, "(objectClass=*)", BASE, attributes=attributes)
            if not ok or not conn.response:
                if conn.result.get("result") not in (0, NO_SUCH_OBJECT):
                    raise DirectoryUnavailable(f"group read failed: {conn.result}")
                return False
            values = {k.casefold(): _all(v) for k, v in conn.response[0]["attributes"].items()}
        for attr in ("member", "uniquemember"):
            for value in values.get(attr, []):
                # uniqueMember may carry an optional UID suffix: "dn#'0101'B".
                member_dn = value.rsplit("#", 1)[0] if attr == "uniquemember" else value
                if same_dn(member_dn, person.dn):
                    return True
        return person.uid in values.get("memberuid", [])

    def ping(self) -> None:
        """Raise DirectoryUnavailable unless the service account can bind and search."""
        with self._service() as conn:
            ok = conn.search(
                self.settings.user_base, "(objectClass=*)", BASE, attributes=["objectClass"]
            )
            if not ok and conn.result.get("result") not in (0,):
                raise DirectoryUnavailable(f"base not readable: {conn.result.get('description')}")

    def entry_attributes(
        self, person: Person, deny: frozenset[str] = frozenset()
    ) -> dict[str, list[str]]:
        """All readable attributes of the person's entry, secrets and the deny-list left out."""
        with self._service() as conn:
            ok = conn.search(person.dn, "(objectClass=*)", BASE, attributes=["*"])
            if not ok or not conn.response:
                return {}
            raw = conn.response[0]["attributes"]
        hidden = SECRET_ATTRIBUTES | {d.casefold() for d in deny}
        return {
            name: _all(value)
            for name, value in sorted(raw.items())
            if name.casefold() not in hidden and not isinstance(value, bytes)
        }

    def delete(self, person: Person) -> bool:
        """Remove the entry and its group memberships; True if something was removed.

        Idempotent: a person already gone counts as done.
        """
        removed = False
        with self._service() as conn:
            member_filter = "(|(member={dn})(uniqueMember={dn})(memberUid={uid}))".format(
                dn=escape_filter_chars(person.dn), uid=escape_filter_chars(person.uid)
            )
            base = self._naming_context(person.dn)
            conn.search(
                base, member_filter, SUBTREE, attributes=["member", "uniqueMember", "memberUid"]
            )
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
                        or (
                            name.casefold() != "memberuid"
                            and same_dn(v.rsplit("#", 1)[0], person.dn)
                        )
                    ]
                    if matches:
                        changes[name] = [(MODIFY_DELETE, matches)]
                if changes and not conn.modify(group_dn, changes):
                    raise DirectoryUnavailable(f"cannot update group {group_dn}: {conn.result}")
                removed = removed or bool(changes)
            if conn.delete(person.dn):
                removed = True
            elif conn.result.get("result") != NO_SUCH_OBJECT:
                raise DirectoryUnavailable(
                    f"cannot delete the entry: {conn.result.get('description')}"
                )
        return removed

    def _naming_context(self, dn: str) -> str:
        """The suffix of a DN made of its dc= components, where groups are searched from."""
        parts = [p for p in dn.split(",") if p.strip().lower().startswith("dc=")]
        return ",".join(parts) if parts else dn
