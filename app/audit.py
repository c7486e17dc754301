"""Audit trail: who did what to which account, shown to that account and exported."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.db import Base, UTCDateTime, utcnow


class AuditEvent(Base):
    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_account_id_created_at", "account_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The account concerned; null for failed logins of unknown names.
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL"), index=True
    )
    # Who acted: the account itself, a staff account, or null for the system/CLI.
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(64), index=True)
    # The login name typed, for failed logins only; never a password.
    login: Mapped[str | None] = mapped_column(String(256))
    details: Mapped[str] = mapped_column(Text, default="{}")

    @property
    def details_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.details or "{}")
        return data


def record(
    session: Session,
    action: str,
    *,
    account_id: int | None = None,
    actor_id: int | None = None,
    login: str | None = None,
    **details: Any,
) -> AuditEvent:
    """Add an audit event to the session; the caller commits with the change it describes."""
    event = AuditEvent(
        action=action,
        account_id=account_id,
        actor_id=actor_id,
        login=login[:256] if login else None,
        details=json.dumps(details, ensure_ascii=False, sort_keys=True, default=str),
        created_at=utcnow(),
    )
    session.add(event)
    return event


def events_for_account(
    session: Session, account_id: int, *, page: int = 1, per_page: int = 50
) -> tuple[list[AuditEvent], int]:
    """One page of an account's events, newest first, and the total count."""
    total = session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.account_id == account_id)
    )
    rows = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.account_id == account_id)
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return list(rows), int(total or 0)


_LABELS: dict[str, Any] = {}


def register_labels(labels: dict[str, Any]) -> None:
    """Features name their own actions (lazy translated strings) for the activity page."""
    _LABELS.update(labels)


def describe(event: AuditEvent) -> str:
    label = _LABELS.get(event.action)
    return str(label) if label is not None else event.action
