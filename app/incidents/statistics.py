"""Incident figures for /stats: public incidents opened per month (never hidden: already public)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.incidents.models import Incident
from app.transparency.statistics import Statistic, StatsWindow


def _opened(session: Session, window: StatsWindow) -> Select[Any]:
    # The statement of the times: /stats counts them per month in the database.
    return select(Incident.created_at).where(
        Incident.created_at >= window.start, Incident.visibility == "public"
    )


STATISTICS: tuple[Statistic, ...] = (
    Statistic(
        key="incidents.opened",
        label=_l("Incidents and maintenance published"),
        kind="monthly",
        compute=_opened,
        hide_small_counts=False,
    ),
)
