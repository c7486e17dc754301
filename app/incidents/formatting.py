"""Durations and months in the reader's language, times in the hoster's time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask_babel import format_date, format_percent, ngettext
from flask_babel import gettext as _
from markupsafe import Markup

from app.incidents.labels import level_label
from app.incidents.status import Availability
from app.profile import current_profile


def hoster_tz() -> ZoneInfo:
    return ZoneInfo(current_profile().timezone)


def format_duration(delta: timedelta) -> str:
    """At most the two largest units: "2 hours 5 minutes", "3 days 4 hours"."""
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return _("less than a minute")
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = []
    if days:
        parts.append(ngettext("%(num)s day", "%(num)s days", days))
    if hours:
        parts.append(ngettext("%(num)s hour", "%(num)s hours", hours))
    if mins and not days:
        parts.append(ngettext("%(num)s minute", "%(num)s minutes", mins))
    return " ".join(parts[:2])


def month_of(moment: datetime, tz: ZoneInfo) -> date:
    local = moment.astimezone(tz)
    return date(local.year, local.month, 1)


def format_month(month: date) -> str:
    return format_date(month, "LLLL yyyy").capitalize()


def local_input_value(moment: datetime | None, tz: ZoneInfo) -> str:
    """The value of a datetime-local input, in the hoster's time zone."""
    if moment is None:
        return ""
    return moment.astimezone(tz).strftime("%Y-%m-%dT%H:%M")


def format_availability(ratio: float) -> str:
    """Rounded down, so any downtime at all never shows as 100 %."""
    floored = int(ratio * 10_000) / 10_000
    return str(format_percent(floored, "#,##0.00%"))


@dataclass(frozen=True)
class ChartView:
    """One service's availability, ready to print: the bars and the text alternative."""

    percent: str | None  # None: no data yet (the journal began today or later)
    downtime: str | None
    days: int  # days with data
    bars: Markup
    disrupted: list[tuple[str, str, str, str | None]]  # (ISO day, day, state, outage time)


class ChartFormatter:
    """Formats the availability of several services, each day label and duration once."""

    def __init__(self) -> None:
        self._days: dict[date, str] = {}
        self._durations: dict[timedelta, str] = {}
        self._levels: dict[str, str] = {}

    def _day(self, day: date) -> str:
        if day not in self._days:
            self._days[day] = format_date(day, "long")
        return self._days[day]

    def _duration(self, delta: timedelta) -> str | None:
        if delta < timedelta(minutes=1):
            return None
        if delta not in self._durations:
            self._durations[delta] = format_duration(delta)
        return self._durations[delta]

    def _level(self, level: str) -> str:
        if level not in self._levels:
            self._levels[level] = level_label(level)
        return self._levels[level]

    def view(self, availability: Availability) -> ChartView:
        bars = "".join(
            f'<li class="uptime-day level-{d.level} h{int(d.ratio * 10)}"></li>'
            if d.known
            else '<li class="uptime-day nodata"></li>'
            for d in availability.days
        )
        known = availability.known_days
        return ChartView(
            percent=format_availability(availability.ratio) if known else None,
            downtime=self._duration(availability.downtime),
            days=known,
            bars=Markup(bars),  # nosec B704 # noqa: S704 - built from level names and digits only
            disrupted=[
                (
                    d.day.isoformat(),
                    self._day(d.day),
                    self._level(d.level),
                    self._duration(d.downtime),
                )
                for d in reversed(availability.disrupted_days)
            ],
        )
