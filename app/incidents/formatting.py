"""Durations and months in the reader's language, times in the hoster's time zone."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask_babel import format_date, ngettext
from flask_babel import gettext as _

from app.hoster import current_profile


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
    from flask_babel import format_percent

    floored = int(ratio * 10_000) / 10_000
    return str(format_percent(floored, "#,##0.00%"))
