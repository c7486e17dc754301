"""One hoster.toml table under validation: typed getters whose errors name `where.key`."""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

from babel import Locale

from app.email_address import is_email_address
from app.hoster.model import Closing, ProfileError
from app.hoster.texts import FALLBACK_LANGUAGE, TEXT_LANGUAGES, LocalizedText

log = logging.getLogger(__name__)

_COUNTRIES = {
    str(code) for code in Locale.parse("en").territories if re.fullmatch("[A-Z]{2}", str(code))
}


def missing_key(path: str, key: str, data: Mapping[str, Any], example: str = "") -> ProfileError:
    """The error for a required key left out, naming a key nearby that is probably it misspelt."""
    message = f"{path} is missing: add it to hoster.toml"
    message += f", e.g. {key} = {example}." if example else "."
    close = difflib.get_close_matches(key, list(data), n=1, cutoff=0.8)
    if close:
        message += f" ({close[0]!r} looks like a misspelling of it.)"
    return ProfileError(message)


def phrase(choices: tuple[str, ...] | list[str]) -> str:
    """The choices as a sentence lists them: "a, b or c"."""
    return ", ".join(choices[:-1]) + " or " + choices[-1] if len(choices) > 1 else choices[0]


class TomlTable:
    """One TOML table under validation: typed getters that name `where.key` in their errors."""

    def __init__(
        self,
        data: Any,
        where: str,
        known: tuple[str, ...] = (),
        plain_language: str = FALLBACK_LANGUAGE,
    ) -> None:
        if not isinstance(data, dict):
            raise ProfileError(f"{where} must be a table (a [section] or {{ key = value }}).")
        self.data = data
        self.where = where
        self.known = set(known)
        # The language of texts written as a plain string (top-level `language`).
        self.plain_language = plain_language

    def path(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def _get(self, key: str, required: bool) -> Any:
        self.known.add(key)
        value = self.data.get(key)
        if value is None or value == "":
            if required:
                raise missing_key(self.path(key), key, self.data)
            return None
        return value

    def text(self, key: str, *, required: bool = False) -> str | None:
        value = self._get(key, required)
        if value is None:
            return None
        if not isinstance(value, str):
            raise ProfileError(f"{self.path(key)} must be a text value in quotes.")
        return value.strip()

    def required_text(self, key: str) -> str:
        value = self.text(key, required=True)
        assert value is not None
        return value

    def localized(self, key: str, *, required: bool = False) -> LocalizedText | None:
        """A text people read: a string, or a table of languages `{ fr = "…", en = "…" }`."""
        value = self._get(key, required)
        if value is None:
            return None
        if isinstance(value, str):
            return LocalizedText.of(value.strip(), self.plain_language)
        if not isinstance(value, dict):
            raise ProfileError(
                f"{self.path(key)} must be a text in quotes, or one per language like "
                '{ fr = "…", en = "…" }.'
            )
        texts: dict[str, str] = {}
        for language, text in value.items():
            if language not in TEXT_LANGUAGES:
                raise ProfileError(
                    f"{self.path(key)}.{language}: {language!r} is not a language of the panel; "
                    f"use {phrase(list(TEXT_LANGUAGES))}."
                )
            if not isinstance(text, str):
                raise ProfileError(f"{self.path(key)}.{language} must be a text value in quotes.")
            if text.strip():
                texts[language] = text.strip()
        if not texts:
            if required:
                raise ProfileError(f"{self.path(key)} is empty: write the text in French at least.")
            return None
        return LocalizedText(texts)

    def required_localized(self, key: str) -> LocalizedText:
        value = self.localized(key, required=True)
        assert value is not None
        return value

    def url(self, key: str, *, required: bool = False) -> str | None:
        value = self.text(key, required=required)
        if value is None:
            return None
        parts = urlsplit(value)
        if (
            parts.scheme not in ("http", "https")
            or not parts.netloc
            or any(c.isspace() for c in value)
        ):
            raise ProfileError(
                f"{self.path(key)}: {value!r} is not a web address; "
                "write it in full, like https://example.org/page."
            )
        return value

    def email(self, key: str) -> str | None:
        value = self.text(key)
        if value is not None and not is_email_address(value):
            raise ProfileError(
                f"{self.path(key)}: {value!r} is not an e-mail address, like contact@example.org."
            )
        return value

    def contact(self, key: str) -> str | None:
        """A web address or an e-mail address."""
        value = self.text(key)
        if value is None or is_email_address(value):
            return value
        return self.url(key)

    def choice(
        self,
        key: str,
        choices: tuple[str, ...],
        *,
        required: bool = False,
        default: str | None = None,
        what: str = "value",
    ) -> str | None:
        value = self.text(key, required=required)
        if value is None:
            return default
        by_folded = {c.casefold(): c for c in choices}
        found = by_folded.get(value.casefold())
        if found is None:
            raise ProfileError(
                f"{self.path(key)}: {value!r} is not a known {what}; "
                f"expected {phrase(list(choices))}."
            )
        return found

    def boolean(self, key: str) -> bool | None:
        value = self._get(key, False)
        if value is None:
            return None
        if not isinstance(value, bool):
            raise ProfileError(f"{self.path(key)} must be true or false (without quotes).")
        return value

    def day(self, key: str) -> date | None:
        value = self._get(key, False)
        if value is None:
            return None
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                pass
        raise ProfileError(f"{self.path(key)}: {value!r} is not a date like 2024-05-31.")

    def year(self, key: str) -> int | None:
        value = self._get(key, False)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 1900 <= value <= 2200:
            raise ProfileError(f"{self.path(key)} must be a year like 2024 (without quotes).")
        return value

    def country(self, key: str) -> str | None:
        value = self.text(key)
        if value is None:
            return None
        code = value.upper()
        if code not in _COUNTRIES:
            raise ProfileError(
                f"{self.path(key)}: {value!r} is not a country code; "
                "use the two-letter ISO 3166 code, like FR or BE."
            )
        return code

    def table(
        self, key: str, known: tuple[str, ...] = (), *, required: bool = False
    ) -> TomlTable | None:
        value = self._get(key, required)
        if value is None:
            return None
        return TomlTable(value, self.path(key), known, self.plain_language)

    def tables(self, key: str, known: tuple[str, ...] = ()) -> list[TomlTable] | None:
        """An array of tables ([[key]]); None when absent, [] when written `key = []`."""
        self.known.add(key)
        if key not in self.data:
            return None
        value = self.data[key]
        if not isinstance(value, list):
            raise ProfileError(f"{self.path(key)} must be a list of tables ([[{key}]] sections).")
        return [
            TomlTable(item, f"{self.path(key)}[{i}]", known, self.plain_language)
            for i, item in enumerate(value)
        ]

    def url_map(self, key: str) -> dict[str, str] | None:
        """A table of names and web addresses: `{ mastodon = "https://…" }`."""
        table = self.table(key)
        if table is None:
            return None
        found: dict[str, str] = {}
        for name in list(table.data):
            if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,39}", name):
                raise ProfileError(
                    f"{table.path(name)}: {name!r} must be a short name in lowercase letters, "
                    "like mastodon or liberapay."
                )
            found[name] = str(table.url(name, required=True))
        return found or None

    def number(self, key: str, low: float, high: float) -> float | None:
        value = self._get(key, False)
        if value is None:
            return None
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not low <= value <= high
        ):
            raise ProfileError(
                f"{self.path(key)} must be a number between {low:g} and {high:g} (without quotes)."
            )
        return float(value)

    def closing(self, key: str = "closing") -> Closing | None:
        table = self.table(key, ("date", "message"))
        if table is None:
            return None
        day = table.day("date")
        if day is None:
            raise ProfileError(f"{table.path('date')} is missing: say the day it closes.")
        closing = Closing(date=day, message=table.required_localized("message"))
        table.finish()
        return closing

    def text_list(self, key: str) -> tuple[str, ...]:
        value = self._get(key, False)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ProfileError(f'{self.path(key)} must be a list of texts, like ["a", "b"].')
        return tuple(v.strip() for v in value)

    def finish(self) -> None:
        """Refuse keys that look like a misspelt known key; other keys stay for other features."""
        for key in self.data:
            if key in self.known:
                continue
            close = difflib.get_close_matches(key, sorted(self.known), n=1, cutoff=0.8)
            if close:
                raise ProfileError(
                    f"{self.path(key)} is not a known key: did you mean {close[0]!r}?"
                )
            log.info("hoster.toml: %s is not used by the hoster pages", self.path(key))
