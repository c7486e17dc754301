"""Anonymised usage statistics: a small registry each feature adds its figures to.

A feature declares its `Statistic`s in its `Feature` (app/features.py):

    Feature(name="support", statistics=(Statistic(
        key="tickets.opened", label=_l("Support tickets opened"), kind="monthly",
        compute=lambda session, window: session.scalars(
            select(Ticket.created_at).where(Ticket.created_at >= window.start)),
    ),))

Kinds: `total` (compute returns an int), `monthly` (event times, counted per month in the
hoster's time zone), `median` (an iterable of durations as timedelta). A `monthly` compute
returns either the statement selecting the times (one column, not executed: the page then
counts every such figure per month in one statement, whatever the number of events, and
keeps that statement for the window) or an iterable of times, counted here in Python.
Every count below SMALL_COUNT is shown as "< 5", and a median over fewer than SMALL_COUNT
durations is not shown, so no figure points at a single person. A figure about no one
(incidents, already public in the journal) may set `hide_small_counts=False`.
"""

from __future__ import annotations

import statistics as pystats
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from flask_babel import format_decimal, format_timedelta
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, bindparam, case, func, literal_column, select, union_all
from sqlalchemy.orm import Session

from app.accounts.models import Account
from app.audit import AuditEvent
from app.db import UTCDateTime, core_rows
from app.profile.loading import current_profile

SMALL_COUNT = 5
MONTHS_SHOWN = 12
KINDS = ("total", "monthly", "median")


@dataclass(frozen=True)
class StatsWindow:
    """The period the page covers: the last MONTHS_SHOWN months, current one included."""

    now: datetime  # aware, UTC
    start: datetime  # aware, UTC: first instant of the oldest month shown
    months: tuple[tuple[int, int], ...]  # (year, month), oldest first
    timezone: ZoneInfo

    def month_of(self, moment: datetime) -> tuple[int, int]:
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        local = moment.astimezone(self.timezone)
        return (local.year, local.month)


@dataclass(frozen=True)
class Statistic:
    key: str  # unique, "feature.figure"
    label: Any  # a lazy translated string
    kind: str  # one of KINDS
    compute: Callable[[Session, StatsWindow], Any]
    description: Any = None  # optional lazy string shown under the label
    # False only for figures that say nothing about people (e.g. incidents, already public).
    hide_small_counts: bool = True


@dataclass(frozen=True)
class Figure:
    """One computed statistic, ready to show: small counts already replaced."""

    key: str
    label: str
    description: str | None
    kind: str
    value: str | None = None  # total or median, as displayed
    monthly: tuple[str, ...] = ()  # one displayed value per month of the window


def register_statistic(app: Flask, statistic: Statistic) -> None:
    if statistic.kind not in KINDS:
        raise ValueError(f"statistic {statistic.key}: kind must be one of {', '.join(KINDS)}")
    registry: list[Statistic] = app.extensions.setdefault("panel_statistics", [])
    if any(s.key == statistic.key for s in registry):
        raise ValueError(f"statistic {statistic.key} is registered twice")
    registry.append(statistic)


def registered(app: Flask) -> list[Statistic]:
    return list(app.extensions.get("panel_statistics", []))


def show_count(count: int, *, hide_small: bool = True) -> str:
    """The count as displayed publicly: "< 5" below the threshold."""
    if hide_small and count < SMALL_COUNT:
        return f"< {SMALL_COUNT}"
    return str(format_decimal(count))


def make_window(now: datetime, timezone: str) -> StatsWindow:
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    year, month = local.year, local.month
    months = []
    for _ in range(MONTHS_SHOWN):
        months.append((year, month))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    months.reverse()
    first_year, first_month = months[0]
    start = datetime(first_year, first_month, 1, tzinfo=zone).astimezone(UTC)
    return StatsWindow(now=now, start=start, months=tuple(months), timezone=zone)


def month_starts(window: StatsWindow) -> list[datetime]:
    """The first instant (UTC) of each month of the window, and of the month after it."""
    year, month = window.months[-1]
    after = (year, month + 1) if month < 12 else (year + 1, 1)
    return [
        datetime(y, m, 1, tzinfo=window.timezone).astimezone(UTC)
        for y, m in (*window.months, after)
    ]


def _monthly_figure(statistic: Statistic, window: StatsWindow, counts: list[int]) -> Figure:
    hide = statistic.hide_small_counts
    shown = tuple(show_count(count, hide_small=hide) for count in counts)
    description = str(statistic.description) if statistic.description else None
    return Figure(statistic.key, str(statistic.label), description, "monthly", monthly=shown)


def compute(session: Session, statistic: Statistic, window: StatsWindow) -> Figure:
    label = str(statistic.label)
    description = str(statistic.description) if statistic.description else None
    result = statistic.compute(session, window)
    if statistic.kind == "total":
        count = int(result or 0)
        total = show_count(count, hide_small=statistic.hide_small_counts)
        return Figure(statistic.key, label, description, "total", value=total)
    if statistic.kind == "monthly":
        if isinstance(result, Select):
            statement = counting_statement([result], window)
            counted = count_per_month(session, statement, 1, len(window.months))[0]
            return _monthly_figure(statistic, window, counted)
        counts = dict.fromkeys(window.months, 0)
        for moment in result:
            month = window.month_of(moment)
            if month in counts:
                counts[month] += 1
        return _monthly_figure(statistic, window, [counts[m] for m in window.months])
    durations = [d for d in result if d is not None]
    value: str | None = None
    if len(durations) >= SMALL_COUNT:
        median = timedelta(seconds=pystats.median(d.total_seconds() for d in durations))
        value = str(format_timedelta(median, threshold=1.5))
    return Figure(statistic.key, label, description, "median", value=value)


def counting_statement(times: list[Select[Any]], window: StatsWindow) -> Any:
    """One statement counting, for each statement of event times, its events per month of
    the window: a row per statement that found any (its index, then one count per month).
    The times of every statement go through one set of month bounds, which keeps the SQL
    short enough for the driver to keep it prepared."""
    events = union_all(
        *(
            select(literal_column(str(index)).label("figure"), selected.subquery().c[0].label("t"))
            for index, selected in enumerate(times)
        )
    ).subquery()
    bounds = [
        bindparam(f"month_{n}", moment, type_=UTCDateTime())
        for n, moment in enumerate(month_starts(window))
    ]
    return select(
        events.c.figure,
        *(
            func.count(case((and_(events.c.t >= low, events.c.t < high), 1)))
            for low, high in pairwise(bounds)
        ),
    ).group_by(events.c.figure)


def count_per_month(session: Session, statement: Any, figures: int, months: int) -> list[list[int]]:
    """Run a counting statement: the events per month of each of its `figures`."""
    found = [[0] * months for _ in range(figures)]
    row: Any
    for row in core_rows(session, statement):
        found[int(row[0])] = [int(count) for count in row[1:]]
    return found


# The monthly figures counted by the database and their statement, kept for one window (a
# month) and registry: a compute function depends on the window only (its contract).
_COUNTING = "panel_statistics_counting"


def _counting_for(session: Session, window: StatsWindow, statistics: list[Statistic]) -> Any:
    kept: dict[str, Any] = current_app.extensions.setdefault(_COUNTING, {})
    key = (window.start, window.months, str(window.timezone), tuple(s.key for s in statistics))
    entry = kept.get("entry")
    if entry is None or entry[0] != key:
        counted: dict[int, Select[Any]] = {}
        for index, statistic in enumerate(statistics):
            if statistic.kind == "monthly":
                result = statistic.compute(session, window)
                if isinstance(result, Select):
                    counted[index] = result
        statement = counting_statement(list(counted.values()), window) if counted else None
        entry = (key, list(counted), statement)
        kept["entry"] = entry
    return entry[1], entry[2]


def compute_all(session: Session, now: datetime) -> tuple[StatsWindow, list[Figure]]:
    window = make_window(now, current_profile().timezone)
    statistics = registered(current_app)
    indexes, statement = _counting_for(session, window, statistics)
    counts: dict[int, list[int]] = {}
    if statement is not None:
        found = count_per_month(session, statement, len(indexes), len(window.months))
        counts = dict(zip(indexes, found, strict=True))
    figures = [
        _monthly_figure(statistic, window, counts[index])
        if index in counts
        else compute(session, statistic, window)
        for index, statistic in enumerate(statistics)
    ]
    return window, figures


# The figures this feature can compute from the panel's own tables ---------------------------


def _accounts_signed_in(session: Session, window: StatsWindow) -> int:
    return int(
        session.scalar(
            select(func.count()).select_from(Account).where(Account.last_login_at.is_not(None))
        )
        or 0
    )


def _accounts_active(session: Session, window: StatsWindow) -> int:
    since = window.now - timedelta(days=30)
    return int(
        session.scalar(
            select(func.count()).select_from(Account).where(Account.last_login_at >= since)
        )
        or 0
    )


def audit_event_times(action: str) -> Callable[[Session, StatsWindow], Select[Any]]:
    """A `monthly` compute function: the times of the audit events with this action."""

    def times(session: Session, window: StatsWindow) -> Select[Any]:
        return select(AuditEvent.created_at).where(
            AuditEvent.action == action, AuditEvent.created_at >= window.start
        )

    return times


# The panel's own figures, shown first (the transparency feature declares them).
STATISTICS: tuple[Statistic, ...] = (
    Statistic(
        key="accounts.signed_in",
        label=_l("Accounts that have signed in to the panel"),
        kind="total",
        compute=_accounts_signed_in,
    ),
    Statistic(
        key="accounts.active",
        label=_l("Accounts active in the last 30 days"),
        kind="total",
        compute=_accounts_active,
        description=_l("Signed in to the panel at least once in the last 30 days."),
    ),
    Statistic(
        key="exports.downloaded",
        label=_l("Data exports downloaded"),
        kind="monthly",
        compute=audit_event_times("export.downloaded"),
    ),
)
