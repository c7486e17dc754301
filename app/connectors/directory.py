"""The `directory` connector: the person's LDAP entry as JSON and as a vCard 4.0 (RFC 6350).

Secrets (userPassword and friends) never leave app.directory; the hoster adds its own
deny-list (EXPORT_DIRECTORY_DENY) for attributes it does not want to hand out.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from flask_babel import gettext as _

from app.connectors.base import ArchiveEntry, ConnectorError, DataItem, Skipped, StepResult
from app.directory import Directory, DirectoryUnavailable, Person


def _escape(value: str) -> str:
    """RFC 6350 3.4: backslash, comma, semicolon and newlines are escaped in values."""
    return (
        value.replace("\\", "\\\\")
        .replace(",", "\\,")
        .replace(";", "\\;")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def _fold(line: str) -> str:
    """Lines longer than 75 octets are folded (RFC 6350 3.2), never inside a UTF-8 character."""
    out: list[str] = []
    current = ""
    size = 0
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > 75:
            out.append(current)
            current, size = " ", 1
        current += char
        size += width
    out.append(current)
    return "\r\n".join(out)


def _first(attrs: dict[str, list[str]], *names: str) -> str | None:
    lowered = {k.casefold(): v for k, v in attrs.items()}
    for name in names:
        values = lowered.get(name.casefold())
        if values:
            return values[0]
    return None


def _all(attrs: dict[str, list[str]], *names: str) -> list[str]:
    lowered = {k.casefold(): v for k, v in attrs.items()}
    found: list[str] = []
    for name in names:
        found.extend(lowered.get(name.casefold(), []))
    return found


def vcard(person: Person, attrs: dict[str, list[str]]) -> str:
    """A vCard 4.0 of the directory entry (what a contacts app can use of it)."""
    name = _first(attrs, "displayName", "cn") or person.display_name or person.uid
    lines = ["BEGIN:VCARD", "VERSION:4.0", f"FN:{_escape(name)}"]
    surname = _first(attrs, "sn") or ""
    given = _first(attrs, "givenName") or ""
    lines.append(f"N:{_escape(surname)};{_escape(given)};;;")
    lines.append(f"NICKNAME:{_escape(person.uid)}")
    for mail in _all(attrs, "mail") or ([person.email] if person.email else []):
        lines.append(f"EMAIL:{_escape(mail)}")
    for phone in _all(attrs, "telephoneNumber"):
        lines.append(f"TEL;TYPE=work;VALUE=uri:tel:{_escape(phone.replace(' ', '-'))}")
    for phone in _all(attrs, "mobile"):
        lines.append(f"TEL;TYPE=cell;VALUE=uri:tel:{_escape(phone.replace(' ', '-'))}")
    language = _first(attrs, "preferredLanguage") or person.language
    if language:
        lines.append(f"LANG:{_escape(language)}")
    organisation = _first(attrs, "o")
    if organisation:
        lines.append(f"ORG:{_escape(organisation)}")
    title = _first(attrs, "title")
    if title:
        lines.append(f"TITLE:{_escape(title)}")
    for url in _all(attrs, "labeledURI"):
        lines.append(f"URL:{_escape(url.split(' ', 1)[0])}")
    lines.append("END:VCARD")
    return "".join(_fold(line) + "\r\n" for line in lines)


class DirectoryConnector:
    """The LDAP entry; `directory` is a callable so the running app's adapter is used."""

    slug = "directory"
    plannable = True

    def __init__(self, directory: Callable[[], Directory], deny: frozenset[str]) -> None:
        self._directory = directory
        self.deny = deny

    @property
    def name(self) -> str:
        return _("Directory (your account)")

    def inventory(self, person: Person) -> list[DataItem]:
        return [
            DataItem(
                service=self.slug,
                kind=_("Your account entry: login, name, e-mail address, language, groups"),
                location=_("The hoster's directory (LDAP), used by every service to sign you in"),
                retention=_("Until your account is deleted"),
                exported=True,
            )
        ]

    def export(self, person: Person) -> Iterator[ArchiveEntry | Skipped]:
        try:
            attrs = self._directory().entry_attributes(person, self.deny)
        except DirectoryUnavailable as exc:
            raise ConnectorError(_("the directory did not answer")) from exc
        if not attrs:
            raise ConnectorError(_("your entry was not found in the directory"))
        profile: dict[str, Any] = {"dn": person.dn, "attributes": attrs}
        as_json = json.dumps(profile, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
        yield ArchiveEntry(
            path="directory/profile.json",
            chunks=[as_json.encode("utf-8")],
            format="JSON",
            description=_("Every attribute of your directory entry, except secrets."),
        )
        yield ArchiveEntry(
            path="directory/profile.vcf",
            chunks=[vcard(person, attrs).encode("utf-8")],
            format="vCard 4.0",
            description=_("Your contact card, to import into an address book."),
        )

    def delete(self, person: Person) -> StepResult:
        try:
            removed = self._directory().delete(person)
        except DirectoryUnavailable as exc:
            return StepResult(ok=False, detail=f"the directory did not answer: {exc}")
        return StepResult(ok=True, detail="entry removed" if removed else "entry already gone")
