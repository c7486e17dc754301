"""The connector protocol shared by export and deletion.

A connector is one hosted service's way to list, export and delete a person's data.
The panel's own data is split into *panel sections* that each feature declares
(app/features.py), which the built-in `panel` connector exports and deletes.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from flask import Flask

from app.directory import Person


def N_(message: str) -> str:
    """Mark an English message for translation where it is kept untranslated.

    Deletion outcomes are recorded in English (they also go to the logs) and translated
    when they are read: app/deletion/outcomes.py turns every message a connector lists in
    its OUTCOMES back into the reader's language, with the recorded values in it.
    """
    return message


class ConnectorError(Exception):
    """A connector could not do its work; the message is shown to staff and in ERRORS.txt.

    The message is the panel's own sentence and never holds a secret (connectors get them
    as `Secret`, which does not print). What the server itself answered goes apart, in
    `server_answer`, already scrubbed (see scrub()): a server may echo what it was sent,
    a master password included. People never read it (ERRORS.txt and /account/data show
    the message only); staff read it on a deletion step (staff_detail()); the log has it
    at debug level only.
    """

    def __init__(self, message: str = "", *, server_answer: str | None = None) -> None:
        super().__init__(message)
        self.server_answer = server_answer or None

    def staff_detail(self) -> str:
        """The message and, when there is one, the server's (scrubbed) answer."""
        if self.server_answer:
            return f"{self} (server: {self.server_answer})"
        return str(self)


class ServiceUnreachable(ConnectorError):
    """The service did not answer (down, refused, timed out): /account/data says
    "not reachable" instead of an error, and a deletion step stays retryable."""


@dataclass(frozen=True)
class DataItem:
    """One kind of data a service holds about a person (for /account/data)."""

    service: str  # service slug, or "panel"/"directory"
    kind: str  # plain words: "files you uploaded", "support tickets"
    location: str  # where it is stored: "server main, /srv/files"
    retention: str  # how long it is kept
    exported: bool  # part of the automatic export


@dataclass
class ArchiveEntry:
    """One file of the export; `chunks` is consumed once, while the ZIP streams."""

    path: str  # inside the archive, '/'-separated, e.g. "panel/account.json"
    chunks: Iterable[bytes]
    size: int | None = None
    mtime: datetime | None = None
    format: str = "data"  # human description of the open format ("JSON", "vCard 4.0")
    compress: bool | None = None  # None = decide from the file name
    # What this file is, in plain words, for README.html/README.txt (optional).
    description: str = ""


@dataclass(frozen=True)
class Skipped:
    """Something a connector saw but did not export on purpose (a link out of the folder,
    a device file, an unreadable folder); reported in manifest.json and ERRORS.txt."""

    path: str
    reason: str


@dataclass(frozen=True)
class StepResult:
    """Outcome of one deletion step; `ok=False` leaves the step retryable."""

    ok: bool
    detail: str = ""
    kept: tuple[str, ...] = field(default_factory=tuple)  # what is kept on purpose, and why


@dataclass(frozen=True)
class PlannedItem:
    """One folder or collection of the person's, as the server lists it now."""

    name: str  # as the person knows it: "INBOX", "Archives/2024", "Calendrier perso"
    count: int | None = None  # messages, items or files; None when the server cannot say
    size: int | None = None  # bytes; None when the server cannot say


@dataclass(frozen=True)
class KeptItem:
    """Something the person can reach that a deletion leaves alone, and why.

    `reason` is English, marked with N_() and listed in the connector's OUTCOMES, so
    app/deletion/plan.py reads it in the reader's language ("shared with you by %(owner)s",
    `values` giving the owner).
    """

    name: str
    reason: str
    values: tuple[tuple[str, str], ...] = ()  # the reason's {placeholders}


@dataclass(frozen=True)
class DeletionPlan:
    """What one service's deletion step will remove and keep, asked of the server now.

    Built from the same inventory of what is the person's as /account/data and the
    export (principle 7); staff read it before approving, and the step re-checks it
    when it runs. `notes` say what the server itself keeps after a deletion (Cyrus's
    delayed delete, Dovecot's lazy_expunge): English, N_()-marked, translated on reading.
    """

    service: str
    delete: tuple[PlannedItem, ...] = ()
    keep: tuple[KeptItem, ...] = ()
    notes: tuple[str, ...] = ()


@runtime_checkable
class Connector(Protocol):
    """One service's data about a person.

    Optional attributes, read with getattr: `name` (shown to people, default the slug),
    `plannable` (True when export() lists its entries without reading their data and gives
    every size, so the export can announce its length before the first byte) and
    `check()` (for `flask doctor`: signs in with the panel's credentials and returns a short
    description, or raises ConnectorError saying what is wrong), and `asks_password` with
    `export_with_password(person, password)` (the export form then asks the person's own
    password for this service and passes it for that one download; see app/export),
    and `plan(person) -> DeletionPlan` (what delete() would remove and keep, read from the
    server without changing anything; staff see it on the deletion request).
    """

    slug: str

    def inventory(self, person: Person) -> list[DataItem]: ...

    def export(self, person: Person) -> Iterator[ArchiveEntry | Skipped]: ...

    def delete(self, person: Person) -> StepResult: ...


def register_connector(app: Flask, connector: Connector) -> None:
    """Make a service connector available to export and deletion (keyed by its slug)."""
    app.extensions.setdefault("panel_connectors", {})[connector.slug] = connector


def service_connectors(app: Flask) -> dict[str, Connector]:
    """Connectors of the hosted services, by service slug (built from hoster.toml)."""
    connectors: dict[str, Connector] = app.extensions.get("panel_connectors", {})
    return connectors


def register_core_connector(app: Flask, connector: Connector) -> None:
    """The panel's own connectors (`panel`, `directory`), exported before the services."""
    app.extensions.setdefault("panel_core_connectors", {})[connector.slug] = connector


def core_connectors(app: Flask) -> dict[str, Connector]:
    connectors: dict[str, Connector] = app.extensions.get("panel_core_connectors", {})
    return connectors


def export_connectors(app: Flask) -> list[Connector]:
    """Everything an export covers, in archive order: panel, directory, then services."""
    return [*core_connectors(app).values(), *service_connectors(app).values()]


SCRUBBED = "[secret]"
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]*):[^@\s/]*@")


def scrub(text: str, secrets: Iterable[str] = (), *, limit: int = 300) -> str:
    """A server's text made fit for a log or a staff page: known secrets and what
    encodes them (an echoed SASL PLAIN response is base64), a URL's password, control
    characters, and anything past `limit` characters, taken out."""
    # One letter would blank half the text and protect nothing.
    known = sorted({s for s in secrets if len(s) >= 3}, key=len, reverse=True)
    for secret in known:
        text = text.replace(secret, SCRUBBED)
    # The base64 of anything holding a secret (an echoed SASL PLAIN response): the secret
    # starts at any offset modulo 3, each giving its own run of letters.
    for secret in known:
        raw = secret.encode("utf-8")
        for shift in range(3):
            encoded = base64.b64encode(b"\0" * shift + raw).decode()
            stable = encoded[4 if shift else 0 : -4]  # the letters made of the secret alone
            if len(stable) >= 4 and stable in text:
                text = re.sub(
                    r"[A-Za-z0-9+/]*" + re.escape(stable) + r"[A-Za-z0-9+/]*=*", SCRUBBED, text
                )
    text = _URL_PASSWORD.sub(r"\g<head>:" + SCRUBBED + "@", text)
    text = "".join(c if c.isprintable() else " " for c in text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def redact_url(url: str) -> str:
    """A URL as it may be logged or shown: never with its password."""
    return _URL_PASSWORD.sub(r"\g<head>:" + SCRUBBED + "@", url)


def safe_uid(uid: str) -> str:
    """The login as one safe path component and argv value, or ConnectorError.

    Logins come from the directory, but a template such as `/srv/files/{uid}` must never
    be turned into another folder (`..`, `a/b`) nor a command option (`-rf`).
    """
    if (
        not uid
        or uid in (".", "..")
        or uid.startswith(("-", "."))
        or any(c in uid for c in "/\\\x00\n\r")
        or len(uid.encode("utf-8")) > 255
    ):
        raise ConnectorError(f"the login {uid!r} cannot be used in a path or a command")
    return uid
