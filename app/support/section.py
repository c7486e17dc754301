"""The "tickets" share of the panel's own data: inventory, export (no internal notes), deletion."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from typing import Any
from urllib.parse import quote

from flask import has_request_context, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.accounts.models import Account
from app.connectors.base import ArchiveEntry, DataItem
from app.dates import iso_or_none
from app.support import cleanup, notifications
from app.support.attachments import AttachmentStore, download_name
from app.support.models import USER_STATE_LABELS, Ticket, TicketMessage

ROOT = "panel/tickets"


def _locale(account: Account) -> AbstractContextManager[Any]:
    """The page's language outside a request (CLI, worker): the account's own."""
    if has_request_context():
        return nullcontext()
    return force_locale(notifications.mail_language(account))


class TicketsSection:
    """Declared by the support feature (feature.py); the export and deletion features call it."""

    name = "tickets"

    def __init__(self, store: AttachmentStore) -> None:
        self.store = store

    def inventory(self, session: Session, account: Account) -> list[DataItem]:
        with _locale(account):
            return self._inventory()

    def _inventory(self) -> list[DataItem]:
        return [
            DataItem(
                service="panel",
                kind=str(_l("support tickets, your messages and the team's replies, attachments")),
                location=str(_l("the panel's database; attached files on the panel's server")),
                retention=str(_l("until you delete your account")),
                exported=True,
            )
        ]

    def _tickets(self, session: Session, account: Account) -> list[Ticket]:
        return list(
            session.scalars(
                select(Ticket).where(Ticket.account_id == account.id).order_by(Ticket.id)
            ).all()
        )

    def _public_messages(
        self, session: Session, ticket_ids: list[int]
    ) -> dict[int, list[TicketMessage]]:
        by_ticket: dict[int, list[TicketMessage]] = {tid: [] for tid in ticket_ids}
        if not ticket_ids:
            return by_ticket
        rows = session.scalars(
            select(TicketMessage)
            .options(selectinload(TicketMessage.attachments))
            .where(
                TicketMessage.ticket_id.in_(ticket_ids),
                # Internal notes belong to the staff's work, not to the requester's data.
                TicketMessage.is_internal.is_(False),
            )
            .order_by(TicketMessage.id)
        ).all()
        for message in rows:
            by_ticket[message.ticket_id].append(message)
        return by_ticket

    def export(self, session: Session, account: Account) -> Iterator[ArchiveEntry]:
        """Built at once (queries and pages); attachment files are read while the ZIP streams."""
        with _locale(account):
            return self._export(session, account)

    def _export(self, session: Session, account: Account) -> Iterator[ArchiveEntry]:
        tickets = self._tickets(session, account)
        messages = self._public_messages(session, [t.id for t in tickets])
        entries: list[ArchiveEntry] = []
        document: list[dict[str, Any]] = []
        for ticket in tickets:
            thread = messages[ticket.id]
            files: dict[int, str] = {}
            links: dict[int, str] = {}
            for message in thread:
                for attachment in message.attachments:
                    name = f"{attachment.id}-" + download_name(
                        attachment.filename, attachment.content_type
                    ).replace("/", "_")
                    files[attachment.id] = f"{ROOT}/{ticket.id}/attachments/{name}"
                    links[attachment.id] = f"attachments/{quote(name)}"

            document.append(
                {
                    "id": ticket.id,
                    "subject": ticket.subject,
                    "service": ticket.service,
                    "category": ticket.category,
                    "state": ticket.state,
                    "created_at": iso_or_none(ticket.created_at),
                    "last_message_at": iso_or_none(ticket.last_message_at),
                    "closed_at": iso_or_none(ticket.closed_at),
                    "messages": [
                        {
                            "id": message.id,
                            "from": "staff" if message.from_staff else "you",
                            "created_at": iso_or_none(message.created_at),
                            "body": message.body,
                            "attachments": [
                                {
                                    "filename": a.filename,
                                    "content_type": a.content_type,
                                    "size": a.size,
                                    "path": files[a.id],
                                }
                                for a in message.attachments
                            ],
                        }
                        for message in thread
                    ],
                }
            )
            page = render_template(
                "support/export_ticket.html",
                ticket=ticket,
                thread=thread,
                links=links,
                state_labels=USER_STATE_LABELS,
            )
            entries.append(
                ArchiveEntry(
                    path=f"{ROOT}/{ticket.id}/ticket.html",
                    chunks=[page.encode("utf-8")],
                    mtime=ticket.last_message_at,
                    format="HTML",
                    description=_(
                        "Your support request #%(number)s, “%(subject)s”: every message "
                        "between you and the team, to read in a web browser.",
                        number=ticket.id,
                        subject=ticket.subject,
                    ),
                )
            )
            for message in thread:
                for attachment in message.attachments:
                    entries.append(
                        ArchiveEntry(
                            path=files[attachment.id],
                            chunks=self.store.chunks(attachment.storage_name),
                            size=attachment.size,
                            mtime=attachment.created_at,
                            format=attachment.content_type,
                            description=_(
                                "A file attached to support request #%(number)s.",
                                number=ticket.id,
                            ),
                        )
                    )
        data = json.dumps({"tickets": document}, ensure_ascii=False, indent=2).encode("utf-8")
        entries.insert(
            0,
            ArchiveEntry(
                path=f"{ROOT}/tickets.json",
                chunks=[data],
                format="JSON",
                description=_(
                    "All your support requests and their messages in one file, for programs."
                ),
            ),
        )
        return iter(entries)

    def delete(self, session: Session, account: Account) -> None:
        """Rows go with the caller's commit; files go now (a retry finds nothing left to do)."""
        names = cleanup.delete_account_tickets(session, account.id)
        self.store.remove(names)
