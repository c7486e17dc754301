"""The connector protocol shared by export and deletion, and the panel's own data sections.

A connector is one hosted service's way to list, export and delete a person's data.
The panel's own data (account, acceptances, tickets, deletion requests, audit events) is
split into *panel sections* that each feature registers, so the built-in `panel`
connector exports and deletes all of it without knowing every feature.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from flask import Flask
from sqlalchemy.orm import Session

from app.accounts.models import Account
from app.directory import Person


class ConnectorError(Exception):
    """A connector could not do its work; the message is shown to staff and in ERRORS.txt."""


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


@dataclass(frozen=True)
class StepResult:
    """Outcome of one deletion step; `ok=False` leaves the step retryable."""

    ok: bool
    detail: str = ""
    kept: tuple[str, ...] = field(default_factory=tuple)  # what is kept on purpose, and why


@runtime_checkable
class Connector(Protocol):
    slug: str

    def inventory(self, person: Person) -> list[DataItem]: ...

    def export(self, person: Person) -> Iterator[ArchiveEntry]: ...

    def delete(self, person: Person) -> StepResult: ...


class PanelSection(Protocol):
    """A feature's share of the panel's own data about an account."""

    name: str  # folder under panel/ in the archive, e.g. "tickets"

    def inventory(self, session: Session, account: Account) -> list[DataItem]: ...

    def export(self, session: Session, account: Account) -> Iterator[ArchiveEntry]: ...

    def delete(self, session: Session, account: Account) -> None: ...


def register_panel_section(app: Flask, section: PanelSection) -> None:
    app.extensions.setdefault("panel_sections", []).append(section)


def panel_sections(app: Flask) -> list[PanelSection]:
    sections: list[PanelSection] = app.extensions.get("panel_sections", [])
    return sections


def register_connector(app: Flask, connector: Connector) -> None:
    """Make a service connector available to export and deletion (keyed by its slug)."""
    app.extensions.setdefault("panel_connectors", {})[connector.slug] = connector


def service_connectors(app: Flask) -> dict[str, Connector]:
    """Connectors of the hosted services, by service slug (the export issue fills this)."""
    connectors: dict[str, Connector] = app.extensions.get("panel_connectors", {})
    return connectors
