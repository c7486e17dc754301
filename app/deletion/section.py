"""The deletion feature's share of the panel's own data: the account's deletion requests."""

from __future__ import annotations

import json
from collections.abc import Iterator

from flask_babel import gettext as _
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.accounts.models import Account
from app.connectors.base import ArchiveEntry, DataItem
from app.dates import iso_or_none
from app.deletion.models import DeletionRequest


def delete_closed_requests_of(session: Session, account_id: int) -> None:
    """Earlier cancelled or refused requests are the person's history: erased with them."""
    session.execute(
        delete(DeletionRequest)
        .where(
            DeletionRequest.account_id == account_id,
            DeletionRequest.state.in_(("cancelled", "refused")),
        )
        .execution_options(synchronize_session=False)
    )


class DeletionSection:
    name = "deletion"

    def inventory(self, session: Session, account: Account) -> list[DataItem]:
        return [
            DataItem(
                service="panel",
                kind=_("your account deletion requests"),
                location=_("the panel's database"),
                retention=_(
                    "Until your account is deleted; then only a record without your name "
                    "(request number, dates, steps) is kept to prove the deletion happened."
                ),
                exported=True,
            )
        ]

    def export(self, session: Session, account: Account) -> Iterator[ArchiveEntry]:
        requests = session.scalars(
            select(DeletionRequest)
            .where(DeletionRequest.account_id == account.id)
            .order_by(DeletionRequest.id)
        ).all()
        data = [
            {
                "id": req.id,
                "state": req.state,
                "requested_at": iso_or_none(req.requested_at),
                "grace_until": iso_or_none(req.grace_until),
                "approved_at": iso_or_none(req.approved_at),
                "cancelled_at": iso_or_none(req.cancelled_at),
                "refused_at": iso_or_none(req.refused_at),
                "refusal_reason": req.refusal_reason,
                "receipt_email": req.receipt_email,
                "receipt_to": req.receipt_to,
                "steps": [
                    {
                        "service": step.service_slug or step.kind,
                        "mode": step.mode,
                        "state": step.state,
                        "finished_at": iso_or_none(step.finished_at),
                    }
                    for step in req.steps
                ],
            }
            for req in requests
        ]
        body = json.dumps(data, ensure_ascii=False, indent=2).encode()
        yield ArchiveEntry(
            path="panel/deletion/requests.json",
            chunks=[body],
            size=len(body),
            format="JSON",
            description=_(
                "Your requests to delete your account: when you made them, their state and "
                "each step, service by service."
            ),
        )

    def delete(self, session: Session, account: Account) -> None:
        delete_closed_requests_of(session, account.id)
