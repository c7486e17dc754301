"""The plan of an import: the archive's parts, and which service of this hoster takes each.

A part is one mail folder (an .mbox), one calendar (.ics), one address book (.vcf) or the
file tree of one old service. Parts are matched by kind to the services whose connector
is an Importer taking that kind: the one with the same name first, else the first in
hoster.toml. The plan is computed again from the archive when the import runs (it is
deterministic), so the database keeps only each part's key, never the archive's content.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from importlib import import_module
from pathlib import PurePosixPath
from typing import Any

from app.connectors.base import N_
from app.connectors.importing import Importer, ImportItem, Malformed, PartKind
from app.directory import Person
from app.moving.archive import (
    ArchiveRefused,
    CheckedArchive,
    Member,
    VerifiedStream,
    open_member,
    verify,
)

# What each kind of part is, for "no service here takes …" (N_, translated by the pages).
KIND_LABELS: dict[str, str] = {
    "mail": N_("mail"),
    "calendar": N_("calendars"),
    "contacts": N_("address books"),
    "files": N_("files"),
    "other": N_("other data"),
}
NOT_IMPORTED_PANEL = N_(
    "The old panel's own records (account, activity, terms, tickets): they stay in your "
    "export for you to keep; this panel keeps its own."
)
NOT_IMPORTED_DIRECTORY = N_(
    "Your entry in the old hoster's directory: your account here is made by this hoster."
)
NOT_IMPORTED_CHAT = N_("Chat history: no service here imports it.")
NOT_IMPORTED_OTHER = N_("Not data of a service (the archive's guide and lists).")
NO_SERVICE = N_("No service here takes %(what)s.")
CHAT_CONNECTORS = frozenset({"matrix"})
FILE_CONNECTORS = frozenset({"files", "command"})


@dataclass
class PlannedPart:
    """One part: what it is, where it comes from, where it goes (or why it stays out)."""

    key: str  # the member, or the folder prefix of a file tree: stable for one archive
    kind: PartKind | None
    name: str  # folder path, calendar or address book name; "" for a file tree
    source_service: str  # the old panel's service slug ("panel", "directory" for those)
    members: list[str] = field(default_factory=list)
    size: int = 0
    count: int = 0
    target: str | None = None  # slug of the service of this hoster that takes it
    note: str | None = None  # N_ message: why it is not imported
    note_values: dict[str, str] = field(default_factory=dict)

    @property
    def imported(self) -> bool:
        return self.target is not None


def _stem(path: str) -> str:
    return path.rsplit(".", 1)[0]


def classify(checked: CheckedArchive) -> list[PlannedPart]:
    """The archive's parts in archive order (without their target yet)."""
    parts: dict[str, PlannedPart] = {}

    def add(key: str, kind: PartKind | None, name: str, source: str, member: Member) -> None:
        part = parts.get(key)
        if part is None:
            part = parts[key] = PlannedPart(key=key, kind=kind, name=name, source_service=source)
        part.members.append(member.name)
        part.size += member.size
        if kind == "files" or kind is None:
            part.count += 1

    for member in checked.members.values():
        top, _, rest = member.name.partition("/")
        if top in ("panel", "directory") and rest:
            add(f"{top}/", None, "", top, member)
            continue
        if top != "services" or "/" not in rest:
            add("", None, "", "", member)
            continue
        slug, _, inner = rest.partition("/")
        prefix = f"services/{slug}/"
        connector = checked.service_connector(slug)
        lower = inner.lower()
        if connector in CHAT_CONNECTORS:
            add(prefix, None, "", slug, member)
        elif connector in FILE_CONNECTORS:
            add(prefix, "files", "", slug, member)
        elif connector == "dav" or (
            connector is None and inner.startswith(("calendars/", "contacts/", "files/"))
        ):
            folder, _, below = inner.partition("/")
            if folder == "calendars" and lower.endswith(".ics") and "/" not in below:
                add(member.name, "calendar", _stem(below), slug, member)
            elif folder == "contacts" and lower.endswith(".vcf") and "/" not in below:
                add(member.name, "contacts", _stem(below), slug, member)
            elif folder == "files" and below:
                add(f"{prefix}files/", "files", "", slug, member)
            else:
                add(prefix, None, "", slug, member)
        elif lower.endswith(".mbox"):
            add(member.name, "mail", _stem(inner), slug, member)
        elif connector == "imap":
            add(prefix, None, "", slug, member)
        elif lower.endswith(".ics"):
            add(member.name, "calendar", _stem(PurePosixPath(inner).name), slug, member)
        elif lower.endswith(".vcf"):
            add(member.name, "contacts", _stem(PurePosixPath(inner).name), slug, member)
        else:
            add(prefix, "files", "", slug, member)
    out = list(parts.values())
    for part in out:
        if part.kind is not None:
            continue
        if part.source_service == "panel":
            part.note = NOT_IMPORTED_PANEL
        elif part.source_service == "directory":
            part.note = NOT_IMPORTED_DIRECTORY
        elif part.source_service == "":
            part.note = NOT_IMPORTED_OTHER
        elif checked.service_connector(part.source_service) in CHAT_CONNECTORS:
            part.note = NOT_IMPORTED_CHAT
        else:
            part.note = NO_SERVICE
            part.note_values = {"what": "other"}
    return out


def place(parts: list[PlannedPart], importers: Mapping[str, Importer]) -> None:
    """Give each importable part the service that takes its kind here, or say none does."""
    for part in parts:
        if part.kind is None:
            continue
        takers = [slug for slug, c in importers.items() if part.kind in c.imports]
        if not takers:
            part.note = NO_SERVICE
            part.note_values = {"what": part.kind}
            continue
        part.target = part.source_service if part.source_service in takers else takers[0]


def importers_of(connectors: Mapping[str, Any]) -> dict[str, Importer]:
    """The service connectors of this hoster that can write, in hoster.toml's order."""
    return {slug: c for slug, c in connectors.items() if isinstance(c, Importer)}


# Reading a part's items --------------------------------------------------------------------


def _reader(kind: PartKind) -> Any:
    """The function turning one member into items. The readers are separate modules,
    loaded by name when a part of their kind is read (a files-only import needs none)."""
    if kind == "mail":
        return import_module("app.moving.readers.mbox").read_mbox
    dav = import_module("app.moving.readers.dav")
    return dav.read_calendar if kind == "calendar" else dav.read_contacts


def _member_items(
    archive: zipfile.ZipFile, member: Member, kind: PartKind, name: str
) -> Iterator[ImportItem | Malformed]:
    with open_member(archive, member) as stream:
        yield from _reader(kind)(stream, name)
        while stream.read(1024 * 1024):  # the rest is hashed too: the checksum is checked
            pass


def _file_items(
    archive: zipfile.ZipFile, checked: CheckedArchive, part: PlannedPart
) -> Iterator[ImportItem | Malformed]:
    prefix = part.key
    for name in part.members:
        member = checked.members[name]
        relative = name[len(prefix) :] if name.startswith(prefix) else name
        opener: Any = partial(open_member, archive, member)
        yield ImportItem(
            name=relative,
            key=relative,
            size=member.size,
            open=opener,
            mtime=member.mtime,
            sha256=member.sha256,
        )


def items(
    archive: zipfile.ZipFile, checked: CheckedArchive, part: PlannedPart
) -> Iterator[ImportItem | Malformed]:
    """The part's items, read from the ZIP on disk as they are consumed."""
    assert part.kind is not None
    if part.kind == "files":
        return _file_items(archive, checked, part)
    return _member_items(archive, checked.members[part.members[0]], part.kind, part.name)


def count_and_verify(checked: CheckedArchive, parts: list[PlannedPart]) -> None:
    """Read every member once: its checksum against the manifest, and the items of each
    mail folder, calendar and address book counted (a malformed one counts too)."""
    by_member = {p.members[0]: p for p in parts if p.kind in ("mail", "calendar", "contacts")}

    def consume(name: str, stream: VerifiedStream) -> None:
        part = by_member.get(name)
        if part is None or part.target is None:
            return
        assert part.kind is not None
        try:
            reader = _reader(part.kind)
        except ImportError:  # the reader is not installed: counted when it runs
            return
        part.count = sum(1 for _item in reader(stream, part.name))

    verify(checked, consume=consume)


def check_room(parts: list[PlannedPart], importers: Mapping[str, Importer], person: Person) -> None:
    """Refuse, before anything is written, an import bigger than the room left."""
    needed: dict[str, int] = {}
    for part in parts:
        if part.target is not None:
            needed[part.target] = needed.get(part.target, 0) + part.size
    for slug, size in needed.items():
        room = importers[slug].available_bytes(person)
        if room is not None and size > room:
            raise ArchiveRefused(
                N_("Your data for %(service)s (%(needed)s bytes) is larger than the room left "
                   "for you there (%(room)s bytes). Make room or ask the hoster for more, then "
                   "import again."),
                service=slug,
                needed=size,
                room=room,
            )  # fmt: skip
