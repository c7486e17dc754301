"""Pure computations of the journal: service status from open incidents, 90-day availability.

Nothing here touches the database or Flask, so every rule is tested on plain values.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# Service levels, from best to worst: the worst level of a service's open incidents wins.
OPERATIONAL = "operational"
MAINTENANCE = "maintenance"
DEGRADED = "degraded"
PARTIAL_OUTAGE = "partial_outage"
MAJOR_OUTAGE = "major_outage"
LEVELS = (OPERATIONAL, MAINTENANCE, DEGRADED, PARTIAL_OUTAGE, MAJOR_OUTAGE)
_RANK = {level: rank for rank, level in enumerate(LEVELS)}

IMPACT_LEVEL = {
    "none": OPERATIONAL,
    "minor": DEGRADED,
    "major": PARTIAL_OUTAGE,
    "critical": MAJOR_OUTAGE,
    "maintenance": MAINTENANCE,
}
# Impacts whose time counts as downtime in the availability figure.
DOWNTIME_IMPACTS = frozenset({"major", "critical"})
AVAILABILITY_DAYS = 90


def worst(levels: Iterable[str]) -> str:
    return max(levels, key=_RANK.__getitem__, default=OPERATIONAL)


def is_upcoming(impact: str, status: str, scheduled_start: datetime | None, now: datetime) -> bool:
    """Planned work whose window has not begun yet (and nobody started it early)."""
    return (
        impact == "maintenance"
        and status == "scheduled"
        and scheduled_start is not None
        and scheduled_start > now
    )


def is_ongoing(impact: str, status: str, scheduled_start: datetime | None, now: datetime) -> bool:
    """Open now: not resolved, and for planned work, its window has begun or it was started."""
    return status != "resolved" and not is_upcoming(impact, status, scheduled_start, now)


def effect(impact: str, status: str, scheduled_start: datetime | None, now: datetime) -> str:
    """What one incident does to the status of the services it touches, right now."""
    if not is_ongoing(impact, status, scheduled_start, now):
        return OPERATIONAL
    return IMPACT_LEVEL[impact]


@dataclass(frozen=True)
class Interval:
    """One incident on one service, as the availability computation sees it."""

    impact: str
    start: datetime
    end: datetime | None  # None: still ongoing


@dataclass(frozen=True)
class DayAvailability:
    day: date
    length: timedelta  # 23, 24 or 25 hours with daylight saving time; less for today
    downtime: timedelta
    level: str  # the worst level seen that day
    # False for days before the journal began: nothing is known, not "all was well".
    known: bool = True

    @property
    def ratio(self) -> float:
        if self.length <= timedelta(0):
            return 1.0
        return max(0.0, 1.0 - self.downtime / self.length)


@dataclass(frozen=True)
class Availability:
    window_start: datetime
    window_end: datetime
    downtime: timedelta
    days: tuple[DayAvailability, ...]

    @property
    def ratio(self) -> float:
        length = self.window_end - self.window_start
        if length <= timedelta(0):
            return 1.0
        return max(0.0, 1.0 - self.downtime / length)

    @property
    def known_days(self) -> int:
        return sum(1 for d in self.days if d.known)

    @property
    def disrupted_days(self) -> tuple[DayAvailability, ...]:
        return tuple(d for d in self.days if d.known and d.level != OPERATIONAL)


def window(now: datetime, tz: ZoneInfo, days: int = AVAILABILITY_DAYS) -> tuple[datetime, datetime]:
    """From local midnight `days - 1` days ago up to now: today is the last, partial, day."""
    today = now.astimezone(tz).date()
    first = today - timedelta(days=days - 1)
    return local_midnight(first, tz), now


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    # In UTC: subtracting two datetimes sharing one tzinfo would ignore daylight saving time.
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def merge(spans: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Union of time spans: overlapping incidents on one service count once."""
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(spans):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _overlap(
    spans: Sequence[tuple[datetime, datetime]], start: datetime, end: datetime
) -> timedelta:
    total = timedelta(0)
    for span_start, span_end in spans:
        if span_end <= start:
            continue
        if span_start >= end:
            break
        total += min(span_end, end) - max(span_start, start)
    return total


def availability(
    intervals: Iterable[Interval],
    now: datetime,
    tz: ZoneInfo,
    days: int = AVAILABILITY_DAYS,
    since: datetime | None = None,
) -> Availability:
    """Downtime (major and critical incidents) over the window, and the worst level per day.

    `since`: when the journal began (for this service); the days before it are marked as
    unknown and the ratio counts only the time after it.
    """
    start, end = window(now, tz, days)
    known_from = max(start, min(since, end)) if since is not None else start
    items = [i for i in intervals if i.start < end and (i.end is None or i.end > start)]
    # Only time after the journal began counts: an outage entered afterwards with an earlier
    # start is no figure for days that have no data (it would turn into a low percentage).
    down = merge(
        (max(i.start, known_from), min(i.end or end, end))
        for i in items
        if i.impact in DOWNTIME_IMPACTS
    )
    first_day = start.astimezone(tz).date()
    per_day = []
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        day_start = local_midnight(day, tz)
        day_end = min(local_midnight(day + timedelta(days=1), tz), end)
        level = worst(
            IMPACT_LEVEL[i.impact]
            for i in items
            if i.start < day_end and (i.end is None or i.end > day_start)
        )
        per_day.append(
            DayAvailability(
                day=day,
                length=max(day_end - day_start, timedelta(0)),
                downtime=_overlap(down, day_start, day_end),
                level=level,
                known=day_end > known_from,
            )
        )
    return Availability(
        window_start=known_from,
        window_end=end,
        downtime=sum((b - a for a, b in down), timedelta(0)),
        days=tuple(per_day),
    )
