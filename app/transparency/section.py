"""The register's share of the panel data about an account: entries a staff member recorded."""

from __future__ import annotations

import json
from collections.abc import Iterator

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.accounts.models import Account
from app.connectors.base import ArchiveEntry, DataItem
from app.transparency.models import AuthorityRequest, CanaryStatement


class TransparencySection:
    """Only the link "recorded by" is personal; the entries are public records and stay."""

    name = "transparency"

    def _rows(
        self, session: Session, account: Account
    ) -> tuple[list[AuthorityRequest], list[CanaryStatement]]:
        requests = session.scalars(
            select(AuthorityRequest)
            .where(AuthorityRequest.created_by_id == account.id)
            .order_by(AuthorityRequest.id)
        ).all()
        canaries = session.scalars(
            select(CanaryStatement)
            .where(CanaryStatement.published_by_id == account.id)
            .order_by(CanaryStatement.id)
        ).all()
        return list(requests), list(canaries)

    def inventory(self, session: Session, account: Account) -> list[DataItem]:
        requests, canaries = self._rows(session, account)
        if not requests and not canaries:
            return []
        return [
            DataItem(
                service="panel",
                kind=str(_l("Transparency register entries and canary statements you recorded")),
                location=str(_l("the panel's database")),
                retention=str(
                    _l(
                        "The entries stay public; the link to you is removed "
                        "when your account is deleted."
                    )
                ),
                exported=True,
            )
        ]

    def export(self, session: Session, account: Account) -> Iterator[ArchiveEntry]:
        requests, canaries = self._rows(session, account)
        if not requests and not canaries:
            return
        document = {
            "authority_requests_recorded": [
                {
                    "number": r.id,
                    "received_on": r.received_on.isoformat(),
                    "created_at": r.created_at.isoformat(),
                }
                for r in requests
            ],
            "canary_statements_published": [
                {
                    "statement_date": c.statement_date.isoformat(),
                    "published_at": c.published_at.isoformat(),
                }
                for c in canaries
            ],
        }
        data = json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")
        yield ArchiveEntry(
            path="panel/transparency.json",
            chunks=[data],
            size=len(data),
            format="JSON",
            description=_(
                "The entries of the transparency register you recorded as a team member "
                "(authority requests, warrant canary statements), without their content."
            ),
        )

    def delete(self, session: Session, account: Account) -> None:
        session.execute(
            update(AuthorityRequest)
            .where(AuthorityRequest.created_by_id == account.id)
            .values(created_by_id=None)
        )
        session.execute(
            update(CanaryStatement)
            .where(CanaryStatement.published_by_id == account.id)
            .values(published_by_id=None)
        )
