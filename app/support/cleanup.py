"""Removing tickets: a person's tickets when their account goes, files no attachment row names."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.support.attachments import AttachmentStore
from app.support.models import (
    Attachment,
    Ticket,
    TicketMessage,
)


def delete_account_tickets(session: Session, account_id: int) -> list[str]:
    """Delete a person's tickets, messages and attachment rows; returns the files to remove."""
    names = list(
        session.scalars(
            select(Attachment.storage_name)
            .join(Ticket, Ticket.id == Attachment.ticket_id)
            .where(Ticket.account_id == account_id)
        ).all()
    )
    ticket_ids = select(Ticket.id).where(Ticket.account_id == account_id)
    session.execute(delete(Attachment).where(Attachment.ticket_id.in_(ticket_ids)))
    session.execute(delete(TicketMessage).where(TicketMessage.ticket_id.in_(ticket_ids)))
    session.execute(delete(Ticket).where(Ticket.account_id == account_id))
    return names


def sweep_orphan_files(
    session: Session, store: AttachmentStore, *, older_than: timedelta = timedelta(hours=1)
) -> int:
    """Remove files no attachment row points to (a crash between disk and commit).

    Only files older than `older_than`, so an upload being committed right now is safe.
    """
    cutoff = (utcnow() - older_than).timestamp()
    candidates = [(n, p) for n, p in store.stored_files() if p.stat().st_mtime < cutoff]
    removed = 0
    for start in range(0, len(candidates), 500):
        batch = candidates[start : start + 500]
        known = set(
            session.scalars(
                select(Attachment.storage_name).where(
                    Attachment.storage_name.in_([name for name, _path in batch])
                )
            ).all()
        )
        for name, path in batch:
            if name not in known or path.suffix == ".part":
                path.unlink(missing_ok=True)
                removed += 1
    return removed
