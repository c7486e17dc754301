"""Dates and language names as people read them, one format per language.

Every page shows times in the hoster's time zone (hoster.toml `timezone`), so no offset is
written: "30 novembre 2026 à 13:03", "November 30, 2026 at 1:03 PM". Seconds are left out
everywhere. `<time datetime>` attributes use the `html_datetime` filter (whole seconds).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from babel import Locale, UnknownLocaleError
from flask import Flask
from flask_babel import format_date, format_datetime, format_time, get_locale

_DATETIME = {"fr": "d MMMM y 'à' HH:mm", "en": "MMMM d, y 'at' h:mm a"}
_DATE = {"fr": "d MMMM y", "en": "MMMM d, y"}
_TIME = {"fr": "HH:mm", "en": "h:mm a"}


def _language() -> str:
    locale = get_locale()
    language = str(locale.language) if locale is not None else "fr"
    return language if language in _DATE else "en"


def human_datetime(value: datetime | None, style: Any = None) -> str:
    """The date and time to the minute, in the hoster's time zone; `style` is ignored."""
    if value is None:
        return ""
    return format_datetime(value, _DATETIME[_language()])


def human_date(value: date | datetime | None, style: Any = None) -> str:
    if value is None:
        return ""
    return format_date(value, _DATE[_language()])


def human_time(value: datetime | None, style: Any = None) -> str:
    if value is None:
        return ""
    return format_time(value, _TIME[_language()])


def language_name(code: str | None) -> str:
    """A language code as a word in the reader's language: "fr" → "français", "en-GB" →
    "anglais (Royaume-Uni)"; an unknown code stays as written."""
    if not code:
        return ""
    try:
        name = Locale.parse(code.replace("-", "_")).get_display_name(_language())
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
