"""`flask directory detect`: find a directory's layout and propose the PANEL_LDAP_* settings.

Reads the root DSE and the schema, finds where the people are and which attributes they
carry, the candidate staff groups and how they list members, and whether memberOf is kept.
Every proposed line comes with the sentence that justifies it.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ldap3 import SUBTREE

from app.directory.client import Directory, DirectorySettings
from app.directory.connections import DirectoryMisconfigured
from app.directory.dn import same_dn
from app.directory.schema import Schema, read_root_dse, read_schema

PERSON_CLASSES = ("inetOrgPerson", "posixAccount", "person")
GROUP_CLASSES = {
    "groupofnames": "member",
    "groupofuniquenames": "uniqueMember",
    "posixgroup": "memberUid",
}
# Names hosters give the group of people who run the service, most specific first.
STAFF_NAMES = (
    "staff",
    "chatons-staff",
    "panel-staff",
    "admins",
    "admin",
    "administrators",
    "lldap_admin",
    "equipe",
    "team",
)
SAMPLE = 500


@dataclass
class Proposal:
    """The settings found, each with the reason it was chosen."""

    lines: list[tuple[str, str, str]] = field(default_factory=list)  # key, value, reason
    notes: list[str] = field(default_factory=list)

    def set(self, key: str, value: str, reason: str) -> None:
        self.lines.append((key, value, reason))

    def values(self) -> dict[str, str]:
        return {key: value for key, value, _reason in self.lines}

    def render(self) -> str:
        out = [f"# {note}" for note in self.notes]
        for key, value, reason in self.lines:
            out.append(f"# {reason}")
            out.append(f"PANEL_{key}={_shell_quote(value)}")
        return "\n".join(out)


def _shell_quote(value: str) -> str:
    if value and all(c.isalnum() or c in "-_.:/,=@" for c in value):
        return value
    return "'" + value.replace("'", "'\"'\"'") + "'"


def _parent(dn: str) -> str:
    """The DN one level up, keeping the server's spelling of the rest."""
    escaped = False
    for i, char in enumerate(dn):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            return dn[i + 1 :].strip()
    return ""


def _values(attributes: dict[str, Any], name: str) -> list[str]:
    for key, value in attributes.items():
        if key.casefold() == name.casefold():
            return [str(v) for v in (value if isinstance(value, list) else [value])]
    return []


def detect(settings: DirectorySettings) -> Proposal:
    """Connect as configured (URL, optional service account) and propose settings."""
    directory = Directory(settings)
    proposal = Proposal()
    conn_run = directory.pool.run
    root = conn_run(read_root_dse)
    schema: Schema | None = conn_run(read_schema)
    vendor = (root.get("vendorName") or [""])[0] + " " + (root.get("vendorVersion") or [""])[0]
    proposal.notes.append(f"server: {vendor.strip() or 'unnamed (OpenLDAP does not say)'}")
    contexts = [
        c
        for c in root.get("namingContexts", [])
        if c.casefold() not in ("cn=config", "o=netscaperoot", "cn=changelog")
    ]
    if not contexts:
        raise DirectoryMisconfigured("the root DSE lists no naming context this account can see")
    base = contexts[0]
    proposal.notes.append(
        f"naming context: {base}" + (f" (of {len(contexts)})" if len(contexts) > 1 else "")
    )
    if schema is None:
        proposal.notes.append("schema: not readable; attributes are guessed from entries")
    else:
        member_of = "defines memberOf" if schema.defines("memberOf") else "has no memberOf"
        proposal.notes.append(f"schema: read, {member_of}")

    proposal.set("LDAP_URL", " ".join(settings.urls), "the address this detection used")
    if settings.starttls:
        proposal.set("LDAP_STARTTLS", "true", "StartTLS worked")
    if settings.ca_file:
        proposal.set("LDAP_CA_FILE", settings.ca_file, "the CA that verified the certificate")
    if settings.bind_dn:
        proposal.set(
            "LDAP_BIND_DN",
            settings.bind_dn,
            "the service account that could read all of this "
            "(set PANEL_LDAP_BIND_PASSWORD yourself)",
        )

    people_filter = "(|" + "".join(f"(objectClass={c})" for c in PERSON_CLASSES) + ")"
    wanted = ["objectClass", "uid", "cn", "displayName", "mail", "preferredLanguage", "memberOf"]
    if schema is not None:
        wanted = [a for a in wanted if schema.defines(a)]

    def search(conn: Any, ldap_filter: str, attributes: list[str]) -> list[tuple[str, dict]]:
        conn.search(base, ldap_filter, SUBTREE, attributes=attributes, size_limit=SAMPLE)
        return [
            (e["dn"], e["attributes"])
            for e in conn.response or []
            if e.get("type") == "searchResEntry"
        ]

    people = [
        (dn, attrs)
        for dn, attrs in conn_run(lambda c: search(c, people_filter, wanted))
        if _values(attrs, "uid") and not (settings.bind_dn and same_dn(dn, settings.bind_dn))
    ]
    if not people:
        raise DirectoryMisconfigured(
            f"no person (objectClass inetOrgPerson, posixAccount or person with a uid) "
            f"under {base} is visible to this account"
        )
    parents = Counter(_parent(dn) for dn, _a in people)
    user_base, count = parents.most_common(1)[0]
    proposal.set(
        "LDAP_USER_BASE",
        user_base,
        f"{count} of the {len(people)} people found live directly under it",
    )
    here = [(dn, a) for dn, a in people if same_dn(_parent(dn), user_base)]
    classes = Counter(c.casefold() for _dn, a in here for c in _values(a, "objectClass"))
    person_class = next(
        (c for c in PERSON_CLASSES if classes.get(c.casefold(), 0) == len(here)), "person"
    )
    proposal.set(
        "LDAP_USER_FILTER",
        f"(&(objectClass={person_class})(uid={{login}}))",
        f"every person there has objectClass {person_class}; they sign in with their uid",
    )
    attributes: dict[str, str] = {}
    with_display = sum(1 for _dn, a in here if _values(a, "displayName"))
    if with_display * 2 > len(here):
        attributes["display_name"] = "displayName"
    with_mail = sum(1 for _dn, a in here if _values(a, "mail"))
    with_language = sum(1 for _dn, a in here if _values(a, "preferredLanguage"))
    language_defined = schema is None or schema.defines("preferredLanguage")
    if not language_defined:
        attributes["language"] = ""
    name_attr = attributes.get("display_name", "cn")
    reason = (
        f"names from {name_attr} ({with_display} of {len(here)} have displayName), "
        f"mail on {with_mail}, preferredLanguage on {with_language}"
    )
    if attributes:
        proposal.set("LDAP_ATTRIBUTES", json.dumps(attributes, separators=(",", ":")), reason)
    else:
        proposal.notes.append(f"attributes: the defaults fit: {reason}")

    _propose_staff(proposal, conn_run, search, here, schema)
    return proposal


def _propose_staff(
    proposal: Proposal,
    conn_run: Any,
    search: Any,
    people: list[tuple[str, dict]],
    schema: Schema | None,
) -> None:
    group_filter = (
        "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup))"
    )
    wanted = ["cn", "objectClass", "member", "uniqueMember", "memberUid"]
    if schema is not None:
        wanted = [a for a in wanted if schema.defines(a)]
    groups = conn_run(lambda c: search(c, group_filter, wanted))
    if not groups:
        proposal.notes.append("staff: no group found; nobody will be staff until you set one")
        return
    names = {dn: (_values(a, "cn") or [""])[0].casefold() for dn, a in groups}
    summary = ", ".join(sorted(n for n in names.values() if n)[:12])
    proposal.notes.append(f"groups found: {summary}")
    chosen = None
    for wanted_name in STAFF_NAMES:
        chosen = next(((dn, a) for dn, a in groups if names[dn] == wanted_name), None)
        if chosen:
            break
    if chosen is None:
        proposal.notes.append(
            "staff: no group has a usual staff name; set PANEL_LDAP_STAFF_GROUP to the DN of "
            "the group whose members run the service"
        )
        return
    dn, attrs = chosen
    classes = [c.casefold() for c in _values(attrs, "objectClass")]
    counts = {attr: len(_values(attrs, attr)) for attr in ("member", "uniqueMember", "memberUid")}
    listed = [a for a, n in counts.items() if n]
    if not listed:
        proposal.notes.append(f"staff: {dn} has no member yet")
        layout = next((GROUP_CLASSES[c] for c in classes if c in GROUP_CLASSES), "member")
    else:
        layout = listed[0]
    member_of_used = (
        any(same_dn(g, dn) for _p, a in people for g in _values(a, "memberOf"))
        and schema is not None
        and schema.defines("memberOf")
    )
    proper = {"groupofnames": "groupOfNames", "groupofuniquenames": "groupOfUniqueNames"}
    group_class = next((c for c in classes if c in GROUP_CLASSES), "group")
    group_class = proper.get(group_class, "posixGroup" if group_class == "posixgroup" else "group")
    proposal.set(
        "LDAP_STAFF_GROUP",
        dn,
        f"a {group_class} named {names[dn]!r} with {counts[layout]} {layout} value(s)",
    )
    if member_of_used:
        proposal.set(
            "LDAP_STAFF_MEMBERSHIP",
            "memberOf",
            "people carry memberOf for this group (overlay or plugin present): "
            "no group read at sign-in",
        )
    else:
        why = "the group lists its members in " + layout
        if schema is not None and not schema.defines("memberOf"):
            why += "; the server has no memberOf (no memberof overlay)"
        proposal.set("LDAP_STAFF_MEMBERSHIP", layout, why)
