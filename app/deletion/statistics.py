"""Deletion figures for /stats: requests completed per month, median processing time."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.deletion.models import DeletionRequest
from app.transparency.statistics import Statistic, StatsWindow


def _completed(session: Session, window: StatsWindow) -> Select[Any]:
    # The statement of the times: /stats counts them per month in the database.
    return select(DeletionRequest.completed_at).where(DeletionRequest.completed_at >= window.start)


def _processing_times(session: Session, window: StatsWindow) -> list[timedelta]:
    # From the end of the grace period (or approval) to completion: the time staff took.
    rows = session.execute(
        select(
            DeletionRequest.grace_until,
            DeletionRequest.approved_at,
            DeletionRequest.completed_at,
        ).where(DeletionRequest.completed_at >= window.start)
    )
    times = []
    for grace_until, approved_at, completed_at in rows:
        if completed_at is None:
            continue
        started = max(grace_until, approved_at) if approved_at else grace_until
        times.append(max(completed_at - started, timedelta(0)))
    return times


STATISTICS: tuple[Statistic, ...] = (
    Statistic(
        key="deletions.completed",
        label=_l("Account deletions completed"),
        kind="monthly",
        compute=_completed,
    ),
    Statistic(
        key="deletions.processing",
        label=_l("Median time to process a deletion request"),
        kind="median",
        compute=_processing_times,
        description=_l("From the end of the grace period to the deletion receipt."),
    ),
)
