"""The staff queue of deletion requests: what waits, how urgent, and the closed ones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from app.db import utcnow
from app.deletion.models import ACTIVE_STATES, DeletionRequest
from app.deletion.requests import DeletionSettings


@dataclass(frozen=True)
class QueueRow:
    request: DeletionRequest
    urgency: str  # overdue, due, processing, grace
    deadline: datetime


def urgency(req: DeletionRequest, now: datetime, deadline_days: int) -> str:
    """overdue: past the legal deadline; due: waits for staff; else processing or in grace."""
    if req.requested_at + timedelta(days=deadline_days) <= now:
        return "overdue"
    if req.state == "requested":
        return "due" if req.grace_until <= now else "grace"
    if any(s.state == "failed" or (s.mode == "manual" and s.state != "done") for s in req.steps):
        return "due"
    return "processing"


URGENCY_ORDER = {"overdue": 0, "due": 1, "processing": 2, "grace": 3}


def open_queue(
    session: Session, settings: DeletionSettings, now: datetime | None = None
) -> list[QueueRow]:
    """Active requests, overdue and due first, then by deadline."""
    now = now or utcnow()
    requests = session.scalars(
        select(DeletionRequest)
        .where(DeletionRequest.state.in_(ACTIVE_STATES))
        .options(selectinload(DeletionRequest.steps))
    ).all()
    rows = [
        QueueRow(
            request=req,
            urgency=urgency(req, now, settings.deadline_days),
            deadline=req.requested_at + timedelta(days=settings.deadline_days),
        )
        for req in requests
    ]
    rows.sort(key=lambda r: (URGENCY_ORDER[r.urgency], r.deadline, r.request.id))
    return rows


def closed_requests(
    session: Session, state: str, *, page: int = 1, per_page: int = 50
) -> tuple[list[DeletionRequest], int]:
    total = session.scalar(
        select(func.count()).select_from(DeletionRequest).where(DeletionRequest.state == state)
    )
    order = {
        "completed": DeletionRequest.completed_at,
        "cancelled": DeletionRequest.cancelled_at,
        "refused": DeletionRequest.refused_at,
    }[state]
    rows = session.scalars(
        select(DeletionRequest)
        .where(DeletionRequest.state == state)
        .order_by(order.desc(), DeletionRequest.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return list(rows), int(total or 0)


def count_waiting_for_staff(session: Session, deadline_days: int = 30) -> int:
    """Active requests that wait for a staff decision or action (for the staff home)."""
    now = utcnow()
    return sum(
        1
        for row in open_queue(session, DeletionSettings(deadline_days=deadline_days), now)
        if row.urgency in ("overdue", "due")
    )
