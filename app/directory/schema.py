"""What the server's schema defines, read once per process from its subschema entry."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ldap3 import BASE

_NAMES = re.compile(r"\bNAME\s+(?:'([^']+)'|\(([^)]*)\))")
_OID = re.compile(r"^\(\s*([\w.-]+)")
_FILTER_ATTRIBUTE = re.compile(r"\(\s*!?\s*([A-Za-z][\w-]*)(?:;[\w-]+)*\s*[~<>:]?=")
_FILTER_CLASS = re.compile(r"\(\s*objectClass\s*=\s*([^)*]+)\)", re.IGNORECASE)


def _names(definitions: Iterable[Any]) -> frozenset[str]:
    found: set[str] = set()
    for definition in definitions:
        text = definition.decode() if isinstance(definition, bytes) else str(definition)
        match = _NAMES.search(text)
        if match:
            if match.group(1):
                found.add(match.group(1).casefold())
            else:
                found.update(n.strip("'").casefold() for n in match.group(2).split())
        oid = _OID.search(text)
        if oid:
            found.add(oid.group(1).casefold())
    return frozenset(found)


@dataclass(frozen=True)
class Schema:
    """Attribute types and object classes the server knows, case-folded (names and OIDs)."""

    attributes: frozenset[str]
    object_classes: frozenset[str]

    def defines(self, attribute: str) -> bool:
        return attribute.casefold() in self.attributes

    def has_class(self, object_class: str) -> bool:
        return object_class.casefold() in self.object_classes

    def unknown_in_filter(self, ldap_filter: str) -> tuple[list[str], list[str]]:
        """Attributes and object classes a filter names that this server does not define."""
        attributes = sorted(
            {a for a in _FILTER_ATTRIBUTE.findall(ldap_filter) if not self.defines(a)}
        )
        classes = sorted(
            {c.strip() for c in _FILTER_CLASS.findall(ldap_filter) if not self.has_class(c.strip())}
        )
        return attributes, classes


def read_root_dse(conn: Any) -> dict[str, list[str]]:
    """The root DSE's attributes as lists of strings (empty if the server hides it)."""
    ok = conn.search(
        "",
        "(objectClass=*)",
        BASE,
        attributes=[
            "namingContexts",
            "subschemaSubentry",
            "supportedExtension",
            "vendorName",
            "vendorVersion",
            "defaultNamingContext",
        ],
    )
    if not ok or not conn.response:
        return {}
    attributes = conn.response[0].get("attributes", {})
    return {
        name: [str(v) for v in (value if isinstance(value, list) else [value])]
        for name, value in attributes.items()
    }


def read_schema(conn: Any) -> Schema | None:
    """The server's schema, or None when it does not let this connection read it."""
    server_schema = getattr(conn.server, "schema", None)
    if server_schema is not None and getattr(server_schema, "attribute_types", None):
        # ldap3's offline schemas (the demo directory) come already parsed.
        return Schema(
            attributes=frozenset(
                name.casefold()
                for definition in server_schema.attribute_types.values()
                for name in (definition.name or [])
            ),
            object_classes=frozenset(
                name.casefold()
                for definition in server_schema.object_classes.values()
                for name in (definition.name or [])
            ),
        )
    entry = (read_root_dse(conn).get("subschemaSubentry") or ["cn=Subschema"])[0]
    ok = conn.search(
        entry, "(objectClass=subschema)", BASE, attributes=["attributeTypes", "objectClasses"]
    )
    if not ok or not conn.response:
        return None
    attributes = {k.casefold(): v for k, v in conn.response[0].get("attributes", {}).items()}
    types = attributes.get("attributetypes") or []
    classes = attributes.get("objectclasses") or []
    if not types:
        return None
    return Schema(attributes=_names(types), object_classes=_names(classes))
