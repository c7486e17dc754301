"""The bundled demo directory: a few people in ldap3's in-memory mock server."""

from __future__ import annotations

from functools import cache
from typing import Any

from ldap3 import MOCK_SYNC, NONE, OFFLINE_SLAPD_2_4, Connection, Server

from app.directory.client import Directory, DirectorySettings

DEMO_BASE = "dc=demo,dc=chatons,dc=org"
DEMO_PEOPLE = f"ou=people,{DEMO_BASE}"
DEMO_STAFF_GROUP = f"cn=staff,ou=groups,{DEMO_BASE}"
DEMO_PASSWORD = "demo"  # noqa: S105 - printed on the demo login page on purpose

# (uid, display name, e-mail, language, staff) — shown on the login page in demo mode.
DEMO_PEOPLE_ROWS: tuple[tuple[str, str, str | None, str, bool], ...] = (
    ("alice", "Alice Martin", "alice@demo.chatons.org", "fr", False),
    ("zoe", "Zoé Lefèvre-Nguyễn", "zoe@demo.chatons.org", "fr", False),
    ("bob", "Bob Smith", "bob@demo.chatons.org", "en", False),
    ("camille", "Camille Dupont", "camille@demo.chatons.org", "fr", True),
)


@cache
def _slapd_schema() -> tuple[Any, Any]:
    """OpenLDAP's schema and root entry as ldap3 ships them, read once per process: parsing
    them is two thirds of building an app (22 of 33 ms), and nothing writes to them."""
    reader = Server("demo-directory", get_info=OFFLINE_SLAPD_2_4)
    return reader.schema, reader.info


def demo_server() -> Any:
    """A fresh in-memory directory seeded with the demo people and a staff group."""
    server = Server("demo-directory", get_info=NONE)
    schema, root = _slapd_schema()
    server.attach_schema_info(schema)
    server.attach_dsa_info(root)
    conn = Connection(server, client_strategy=MOCK_SYNC)
    strategy: Any = conn.strategy
    strategy.add_entry(DEMO_BASE, {"objectClass": ["top", "dcObject", "organization"], "o": "Demo"})
    strategy.add_entry(
        f"ou=people,{DEMO_BASE}", {"objectClass": ["organizationalUnit"], "ou": "people"}
    )
    strategy.add_entry(
        f"ou=groups,{DEMO_BASE}", {"objectClass": ["organizationalUnit"], "ou": "groups"}
    )
    for uid, name, mail, language, _staff in DEMO_PEOPLE_ROWS:
        attrs: dict[str, Any] = {
            "objectClass": ["top", "person", "organizationalPerson", "inetOrgPerson"],
            "uid": uid,
            "cn": name,
            "sn": name.split()[-1],
            "givenName": name.split()[0],
            "preferredLanguage": language,
            "userPassword": DEMO_PASSWORD,
        }
        if mail:
            attrs["mail"] = mail
        strategy.add_entry(f"uid={uid},{DEMO_PEOPLE}", attrs)
    strategy.add_entry(
        DEMO_STAFF_GROUP,
        {
            "objectClass": ["top", "groupOfNames"],
            "cn": "staff",
            "member": [f"uid={uid},{DEMO_PEOPLE}" for uid, *_r, staff in DEMO_PEOPLE_ROWS if staff],
        },
    )
    conn.unbind()
    return server


def demo_directory() -> Directory:
    settings = DirectorySettings(
        urls=(),
        user_base=DEMO_PEOPLE,
        staff_group=DEMO_STAFF_GROUP,
    )
    return Directory(settings, demo_server=demo_server())
