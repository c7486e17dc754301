"""Support figures for /stats: tickets opened and closed per month, median first answer."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from app.support.models import Ticket, TicketMessage
from app.transparency.statistics import Statistic, StatsWindow


# Monthly figures give the statement of their event times: /stats counts them per month in
# the database (see app/transparency/statistics.py).
def _opened(session: Session, window: StatsWindow) -> Select[Any]:
    return select(Ticket.created_at).where(Ticket.created_at >= window.start)


def _closed(session: Session, window: StatsWindow) -> Select[Any]:
    return select(Ticket.closed_at).where(Ticket.closed_at >= window.start)


def _first_answers(session: Session, window: StatsWindow) -> list[timedelta]:
    first = (
        select(TicketMessage.ticket_id, func.min(TicketMessage.created_at).label("answered_at"))
        .where(TicketMessage.from_staff.is_(True), TicketMessage.is_internal.is_(False))
        .group_by(TicketMessage.ticket_id)
        .subquery()
    )
    rows = session.execute(
        select(Ticket.created_at, first.c.answered_at)
        .join(first, first.c.ticket_id == Ticket.id)
        .where(Ticket.created_at >= window.start)
    )
    return [max(answered - created, timedelta(0)) for created, answered in rows]


STATISTICS: tuple[Statistic, ...] = (
    Statistic(
        key="tickets.opened", label=_l("Support tickets opened"), kind="monthly", compute=_opened
    ),
    Statistic(
        key="tickets.closed", label=_l("Support tickets closed"), kind="monthly", compute=_closed
    ),
    Statistic(
        key="tickets.first_answer",
        label=_l("Median time to a first answer from the team"),
        kind="median",
        compute=_first_answers,
    ),
)
