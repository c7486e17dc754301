"""Dates and language names as people read them, one format per language.

Times are shown in the hoster's time zone (hoster.toml `timezone`) with no offset:
"30 novembre 2026 à 13:03", "November 30, 2026 at 1:03 PM". A reader whose browser runs
static/timezone.js tells the panel its time zone in the `panel_tz` cookie; when that zone
is another offset than the hoster's at that moment, times are shown in the reader's zone
with the offset: "30 novembre 2026 à 07:03 UTC-05:00". Calendar days alone (`dateformat`)
stay the hoster's: a day a term takes effect does not move with the reader. The account
page can pin the hoster's zone (`panel_tz=fixed`). Seconds are left out everywhere.
`<time datetime>` attributes use the `html_datetime` filter (whole seconds).

One page shows every time in one zone, and says which (`page_zone`, the `zone_note`
macro): cached fragments are keyed by it. Mail is read anywhere and forwarded, so a time
in mail always names its zone: "30 novembre 2026 à 13:03 (Europe/Paris)".
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel import dates as babel_dates
from flask import Flask, current_app, g, has_request_context, request
from flask_babel import get_locale

ZONE_COOKIE = "panel_tz"
# Written by the account page: always the hoster's zone; the script leaves it alone.
FIXED = "fixed"
ZONE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,2}")

_DATETIME = {"fr": "d MMMM y 'à' HH:mm", "en": "MMMM d, y 'at' h:mm a"}
_DATE = {"fr": "d MMMM y", "en": "MMMM d, y"}
_TIME = {"fr": "HH:mm", "en": "h:mm a"}


def iso_or_none(value: date | None) -> str | None:
    """A date or moment as ISO 8601 for the JSON the panel writes (exports, feeds), or None."""
    return value.isoformat() if value is not None else None


def _language() -> str:
    locale = get_locale()
    language = str(locale.language) if locale is not None else "fr"
    return language if language in _DATE else "en"


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def valid_zone(name: str | None) -> str | None:
    """The IANA zone name if it is one this system knows, else None (never a path)."""
    if not name or len(name) > 64 or not ZONE_NAME.fullmatch(name):
        return None
    return name if name in _known_zones() else None


def hoster_zone() -> ZoneInfo:
    return ZoneInfo(str(current_app.config["BABEL_DEFAULT_TIMEZONE"]))


def reader_zone_name() -> str | None:
    """The reader's zone from their cookie, when valid and not pinned to the hoster's."""
    if not has_request_context():
        return None
    return valid_zone(request.cookies.get(ZONE_COOKIE))


@contextmanager
def hoster_time() -> Iterator[None]:
    """Times in the hoster's zone whatever the reader's: mail rendered during someone's
    request is for someone else."""
    before = g.get("panel_hoster_time", False)
    g.panel_hoster_time = True
    try:
        yield
    finally:
        g.panel_hoster_time = before


def page_zone() -> tuple[str, bool]:
    """The zone this page's times are shown in, and whether it is the reader's own (not
    the hoster's): what the page says about its times, and part of any cache key."""
    name = None if g.get("panel_hoster_time") else reader_zone_name()
    hoster = str(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    if name is None or name == hoster:
        return hoster, False
    return name, True


def _zones(value: datetime) -> tuple[ZoneInfo, bool]:
    """The zone to show `value` in, and whether to write its offset (the reader's zone is
    at another offset than the hoster's at that moment)."""
    hoster = hoster_zone()
    name = None if g.get("panel_hoster_time") else reader_zone_name()
    if name is None or value.tzinfo is None:
        return hoster, False
    zone = ZoneInfo(name)
    return zone, value.astimezone(zone).utcoffset() != value.astimezone(hoster).utcoffset()


def _moment(value: datetime, patterns: dict[str, str]) -> str:
    if value.tzinfo is None:  # stored times are UTC (app.db.UTCDateTime)
        value = value.replace(tzinfo=ZoneInfo("UTC"))
    zone, offset = _zones(value)
    pattern = patterns[_language()] + (" ZZZZ" if offset else "")
    text = _formatted(value, pattern, zone, str(_locale()))
    if g.get("panel_hoster_time"):
        return f"{text} ({zone.key})"  # mail: the zone is named, see the module docstring
    return text


@lru_cache(maxsize=4096)
def _formatted(value: datetime, pattern: str, zone: ZoneInfo, locale: str) -> str:
    # A list shows the same stored times on every visit (a ticket's last activity): Babel's
    # formatting of each (about 40 µs) is done once per time, pattern, zone and language.
    return babel_dates.format_datetime(value, pattern, tzinfo=zone, locale=locale)


def _locale() -> Any:
    return get_locale() or Locale.parse("fr")


def human_datetime(value: datetime | None, style: Any = None) -> str:
    """The date and time to the minute in the reader's zone, with the offset when it is
    not the hoster's; `style` is ignored."""
    if value is None:
        return ""
    return _moment(value, _DATETIME)


def human_date(value: date | datetime | None, style: Any = None) -> str:
    """The calendar day, in the hoster's zone for a moment (see the module's docstring)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=ZoneInfo("UTC"))
        value = moment.astimezone(hoster_zone()).date()
    return babel_dates.format_date(value, _DATE[_language()], locale=_locale())


def human_time(value: datetime | None, style: Any = None) -> str:
    if value is None:
        return ""
    return _moment(value, _TIME)


def language_name(code: str | None) -> str:
    """A language code as a word in the reader's language: "fr" → "français", "en-GB" →
    "anglais (Royaume-Uni)"; an unknown code stays as written."""
    if not code:
        return ""
    return _language_name(code, _language())


@lru_cache(maxsize=256)
def _language_name(code: str, reader_language: str) -> str:
    # Parsing a locale and reading its names costs about a millisecond: once per pair.
    try:
        name = Locale.parse(code.replace("-", "_")).get_display_name(reader_language)
    except (ValueError, TypeError, UnknownLocaleError):
        return code
    return name or code


def init_app(app: Flask) -> None:
    """Replace Flask-Babel's filters (one format per style) with the house formats."""
    app.jinja_env.filters.update(
        datetimeformat=human_datetime,
        dateformat=human_date,
        timeformat=human_time,
        language_name=language_name,
    )
    app.jinja_env.globals.update(page_zone=page_zone)
