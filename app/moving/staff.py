"""What staff see of imports: who, when, sizes and states, never their content."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.moving.models import ImportJob
from app.moving.services import STALLED_SECONDS


def count_needing_staff(session: Session) -> int:
    """Imports in error, or whose worker stopped answering."""
    stalled = utcnow() - timedelta(seconds=STALLED_SECONDS)
    return int(
        session.scalar(
            select(func.count(ImportJob.id)).where(
                or_(
                    ImportJob.state == "failed",
                    (ImportJob.state == "running") & (ImportJob.updated_at < stalled),
                ),
                ImportJob.archive_path.is_not(None),
            )
        )
        or 0
    )


def recent_jobs(session: Session, *, limit: int = 100) -> list[ImportJob]:
    return list(session.scalars(select(ImportJob).order_by(ImportJob.id.desc()).limit(limit)))
