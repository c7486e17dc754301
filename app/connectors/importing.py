"""What connectors learn for moving house (#23): bringing a person's data in.

The archive reader (app/moving) checks an uploaded or transferred export, cuts it into
*parts* (one mail folder, one calendar, one address book, the file tree) and hands each part
to the connector of the service that receives it. A connector that can write has an
`import_` method (the trailing underscore because `import` is a keyword) and says which
kinds of part it takes. Everything here is plain data: the connector never sees the ZIP.

Rules every `import_` keeps:

- only into the person's own namespace, as the person (the master/admin login acting for
  her), never into a folder shared with her or anyone else's;
- idempotent: an item already there (matched on `ImportItem.key`) is `SKIPPED`, so running
  the same part twice, or again after a worker died halfway, writes nothing twice;
- one bad item never stops the others: it is `REFUSED` with a plain reason, and the next
  item goes on;
- `progress.done(...)` is called once per item, after the item is written (or skipped, or
  refused); it may raise `ImportCancelled`, which the connector lets through.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Literal, Protocol, runtime_checkable

from app.directory import Person

PartKind = Literal["mail", "calendar", "contacts", "files"]
Outcome = Literal["imported", "skipped", "refused"]
IMPORTED: Outcome = "imported"
SKIPPED: Outcome = "skipped"
REFUSED: Outcome = "refused"


class ImportCancelled(Exception):
    """The person cancelled the import: what was written stays, the rest is not done."""


@dataclass(frozen=True)
class ImportItem:
    """One message, event (all components of one UID), contact or file.

    `data` holds small items whole (a message, a calendar object, a vCard); a file of the
    file tree is opened with `open()` instead, so a big file streams from the ZIP on disk.
    """

    name: str  # for the report: "INBOX #12 (Subject…)", "Agenda/uid@x", "photos/a.jpg"
    key: str  # what "already there" is matched on: Message-ID or "sha256:<digest>", UID, path
    size: int
    data: bytes | None = None
    open: Callable[[], IO[bytes]] | None = None
    mtime: datetime | None = None  # a message's internal date, a file's modification time
    flags: tuple[str, ...] = ()  # IMAP flags and keywords of a message ("\\Seen", "$Label1")
    sha256: str | None = None  # of a file, from the manifest: files match on path and SHA-256


@dataclass(frozen=True)
class Malformed:
    """An item of the archive that cannot be imported (a broken message, calendar object
    or vCard): the connector reports it REFUSED with this reason and goes on."""

    name: str
    reason: str  # English, N_()-marked


@dataclass
class ImportPart:
    """One folder, calendar, address book or the file tree, as the archive holds it.

    `items` is consumed once, in order; `count` and `size` come from the plan (the
    manifest and a first pass over the part), so progress can say "x of y".
    """

    kind: PartKind
    name: str  # "Archives/2024" ('/'-separated), a calendar or address book name; "" for files
    items: Iterable[ImportItem | Malformed]
    count: int
    size: int
    source: str = ""  # the archive member(s) it comes from, for the report


@dataclass
class ItemOutcome:
    item: str
    outcome: Outcome
    reason: str = ""  # plain words, in English marked with N_(), for a refusal


class ImportProgress(Protocol):
    def done(self, item: ImportItem | Malformed, outcome: Outcome, reason: str = "") -> None:
        """Record one item; may raise ImportCancelled."""


@dataclass
class CountingProgress:
    """A progress that only counts (tests, the command line)."""

    outcomes: list[ItemOutcome] = field(default_factory=list)

    def done(self, item: ImportItem | Malformed, outcome: Outcome, reason: str = "") -> None:
        self.outcomes.append(ItemOutcome(item.name, outcome, reason))

    def count(self, outcome: Outcome) -> int:
        return sum(1 for o in self.outcomes if o.outcome == outcome)


@runtime_checkable
class Importer(Protocol):
    """A connector that can write a person's data (optional, read with isinstance()).

    `imports` lists the kinds of part it takes ("mail" for imap; "calendar", "contacts",
    "files" for dav, depending on what the service is configured for; "files" for files).
    `available_bytes(person)` is the room left for her (IMAP GETQUOTA, DAV
    quota-available-bytes), or None when the server sets no limit or cannot say: the plan
    refuses an archive too big before anything is written.
    """

    slug: str
    imports: frozenset[PartKind]

    def available_bytes(self, person: Person) -> int | None: ...

    def import_(self, person: Person, part: ImportPart, progress: ImportProgress) -> None: ...
