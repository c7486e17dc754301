"""The sessions' share of the export: where the person is signed in, in words."""

from __future__ import annotations

from collections.abc import Iterator

from flask import current_app
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy.orm import Session

from app.accounts.models import Account
from app.connectors.base import ArchiveEntry, DataItem
from app.connectors.panel import json_bytes
from app.sessions import services
from app.sessions.store import SessionStore


def _store() -> SessionStore:
    store: SessionStore = current_app.extensions["panel_session_store"]
    return store


class SessionsSection:
    name = "sessions"

    def inventory(self, session: Session, account: Account) -> list[DataItem]:
        return [
            DataItem(
                service="panel",
                kind=_("Your open sessions: browser and system in words, when they started"),
                location=_("The panel's database, or its session store"),
                retention=ngettext(
                    "Until you sign out, or at most %(num)s hour",
                    "Until you sign out, or at most %(num)s hours",
                    max(1, int(current_app.permanent_session_lifetime.total_seconds()) // 3600),
                ),
                exported=True,
            )
        ]

    def export(self, session: Session, account: Account) -> Iterator[ArchiveEntry]:
        rows = [
            {
                "browser": s.browser or None,
                "system": s.system or None,
                "signed_in_at": s.created_at.isoformat(),
                "last_active_at": s.last_seen_at.isoformat(),
                "ends_at": s.expires_at.isoformat(),
            }
            for s in services.list_sessions(_store(), account)
        ]
        yield ArchiveEntry(
            path="sessions.json",
            chunks=[json_bytes(rows)],
            format="JSON",
            description=_("Where you were signed in when you made this export."),
        )

    def delete(self, session: Session, account: Account) -> None:
        services.forget_account_sessions(session, _store(), account)
