"""The `panel` connector: everything the panel itself holds, section by section.

Each feature registers a PanelSection (tickets, acceptances, deletion requests...); this
module also holds the two sections of the foundation: the account mirror and the audit
events ("My activity").
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from flask import Flask
from flask_babel import gettext as _
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app import audit
from app.accounts.models import Account
from app.audit import AuditEvent
from app.connectors.base import ArchiveEntry, DataItem, Skipped, StepResult
from app.dates import human_datetime, iso_or_none, page_zone
from app.db import get_session
from app.directory import Person
from app.features import PanelSection, panel_sections


def json_bytes(data: Any) -> bytes:
    return (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def csv_bytes(header: list[str], rows: list[list[Any]]) -> bytes:
    """CSV for spreadsheets: UTF-8 with BOM, and no cell that a spreadsheet runs as a formula."""

    def cell(value: Any) -> str:
        text = "" if value is None else str(value)
        return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([cell(v) for v in row] for row in rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _panel_location() -> str:
    return _("The panel's database")


class AccountSection:
    """The local mirror of the directory person (login, name, e-mail, sign-in times)."""

    name = "account"

    def inventory(self, session: Session, account: Account) -> list[DataItem]:
        return [
            DataItem(
                service="panel",
                kind=_("Your account: login, name, e-mail address, language, sign-in times"),
                location=_panel_location(),
                retention=_("Until your account is deleted"),
                exported=True,
            )
        ]

    def export(self, session: Session, account: Account) -> Iterator[ArchiveEntry]:
        data = {
            "login": account.uid,
            "directory_dn": account.dn,
            "display_name": account.display_name,
            "email": account.email,
            "language": account.language,
            "chosen_language": account.chosen_language,
            "is_staff": account.is_staff,
            "created_at": iso_or_none(account.created_at),
            "last_login_at": iso_or_none(account.last_login_at),
            "last_directory_check_at": iso_or_none(account.last_directory_check_at),
        }
        yield ArchiveEntry(
            path="account.json",
            chunks=[json_bytes(data)],
            format="JSON",
            mtime=account.last_login_at or account.created_at,
            description=_("Your account as the panel knows it, and when you last signed in."),
        )

    def delete(self, session: Session, account: Account) -> None:
        session.delete(account)


class ActivitySection:
    """Audit events about the account: the "My activity" page."""

    name = "activity"

    def inventory(self, session: Session, account: Account) -> list[DataItem]:
        return [
            DataItem(
                service="panel",
                kind=_("Your activity: sign-ins, failed attempts, actions on your account"),
                location=_panel_location(),
                retention=_("Until your account is deleted"),
                exported=True,
            )
        ]

    def export(self, session: Session, account: Account) -> Iterator[ArchiveEntry]:
        events = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.account_id == account.id)
            .order_by(AuditEvent.created_at, AuditEvent.id)
        ).all()

        def by(event: AuditEvent) -> str:
            if event.actor_id is None:
                return "system"
            return "you" if event.actor_id == account.id else "staff"

        # The table is for people: dates in their zone, who in words (the JSON keeps codes).
        who = {"system": _("The panel"), "you": _("You"), "staff": _("The team")}

        rows = [
            {
                "when": iso_or_none(event.created_at),
                "action": event.action,
                "description": audit.describe(event),
                "by": by(event),
                "login_typed": event.login,
                "details": event.details_dict,
            }
            for event in events
        ]
        last = events[-1].created_at if events else None
        yield ArchiveEntry(
            path="events.json",
            chunks=[json_bytes(rows)],
            format="JSON",
            mtime=last,
            description=_("Every event of your activity log, oldest first."),
        )
        yield ArchiveEntry(
            path="events.csv",
            chunks=[
                csv_bytes(
                    [
                        _("When (%(zone)s)", zone=page_zone()[0]),
                        _("What happened"),
                        _("By"),
                        _("Details"),
                    ],
                    [
                        [
                            human_datetime(event.created_at),
                            r["description"],
                            who[str(r["by"])],
                            json.dumps(r["details"], ensure_ascii=False) if r["details"] else "",
                        ]
                        for event, r in zip(events, rows, strict=True)
                    ],
                )
            ],
            format="CSV",
            mtime=last,
            description=_("The same activity log as a table."),
        )

    def delete(self, session: Session, account: Account) -> None:
        session.execute(delete(AuditEvent).where(AuditEvent.account_id == account.id))


class PanelConnector:
    """All registered panel sections, under panel/<section>/ in the archive."""

    slug = "panel"
    plannable = True

    def __init__(self, app: Flask) -> None:
        self.app = app

    @property
    def name(self) -> str:
        return _("This panel")

    def _account(self, session: Session, person: Person) -> Account | None:
        return session.scalar(select(Account).where(Account.uid == person.uid))

    def inventory(self, person: Person) -> list[DataItem]:
        session = get_session()
        account = self._account(session, person)
        if account is None:
            return []
        return [
            item
            for section in panel_sections(self.app)
            for item in section.inventory(session, account)
        ]

    def export(self, person: Person) -> Iterator[ArchiveEntry | Skipped]:
        session = get_session()
        account = self._account(session, person)
        if account is None:
            return
        for section in panel_sections(self.app):
            for entry in section.export(session, account):
                if not entry.path.startswith("panel/"):
                    entry.path = f"panel/{section.name}/{entry.path.lstrip('/')}"
                yield entry

    def _deletion_order(self) -> list[PanelSection]:
        """The account row goes last: other sections' rows refer to it."""
        sections = list(panel_sections(self.app))
        return [s for s in sections if s.name != "account"] + [
            s for s in sections if s.name == "account"
        ]

    def delete(self, person: Person) -> StepResult:
        """Deletes every section's rows in the caller's transaction (the caller commits)."""
        session = get_session()
        account = self._account(session, person)
        if account is None:
            return StepResult(ok=True, detail="no panel account: nothing to delete")
        for section in self._deletion_order():
            section.delete(session, account)
        session.flush()
        return StepResult(ok=True, detail="panel data deleted")
