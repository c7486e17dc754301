"""The kinds of value hoster.toml holds: how each is read, refused and shown in the schema.

Each kind is pydantic metadata for `Annotated[...]`: it reads the TOML value (accepting
what a person writes: codes in any case, dates quoted or not), gives the JSON Schema
editors check with, and refuses a wrong value with the end of a sentence that
`app.profile.parsing` puts after the key's full name ("services[0].url" + ": 'x' is not a
web address; …"), so every message names the key exactly.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from babel import Locale
from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler, ValidationInfo
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from app.email_address import is_email_address
from app.profile.texts import FALLBACK_LANGUAGE, TEXT_LANGUAGES, LocalizedText

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
SPDX_ID = re.compile(r"^(?:LicenseRef-)?[A-Za-z0-9][A-Za-z0-9.+-]*$")
SHORT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
_COUNTRIES = {
    str(code) for code in Locale.parse("en").territories if re.fullmatch("[A-Z]{2}", str(code))
}
# Where the JSON Schema of a text goes; app.profile.schema puts `$defs/text` there.
TEXT_SCHEMA_MARKER = "$hoster-text"
WEB_ADDRESS_SCHEMA = {"type": "string", "format": "uri", "pattern": "^https?://[^\\s]+$"}


def phrase(choices: tuple[str, ...] | list[str]) -> str:
    """The choices as a sentence lists them: "a, b or c"."""
    return ", ".join(choices[:-1]) + " or " + choices[-1] if len(choices) > 1 else choices[0]


def refusal(rest_of_sentence: str) -> PydanticCustomError:
    """An error whose message is the key's full name followed by `rest_of_sentence`."""
    return PydanticCustomError("hoster", "{rest}", {"rest": rest_of_sentence})


class Kind:
    """A kind of value: `read` turns the TOML value into the model's, or raises `refusal`."""

    json_schema: JsonSchemaValue = {"type": "string"}

    def read(self, value: Any, info: ValidationInfo) -> Any:
        raise NotImplementedError

    def _read_or_none(self, value: Any, info: ValidationInfo) -> Any:
        return None if value is None else self.read(value, info)

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.with_info_plain_validator_function(
            self._read_or_none, serialization=self.serialization()
        )

    def serialization(self) -> core_schema.SerSchema | None:
        return None

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return dict(self.json_schema)


def _line(value: Any, key: str = "") -> str:
    """`key` (".mastodon") names a key inside the value, for a table of addresses."""
    if not isinstance(value, str):
        raise refusal(f"{key} must be a text value in quotes.")
    return value.strip()


class Line(Kind):
    """One line of text, e.g. a name."""

    def read(self, value: Any, info: ValidationInfo) -> str:
        return _line(value)


def _web_address(value: Any, key: str = "") -> str:
    value = _line(value, key)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in value):
        raise refusal(
            f"{key}: {value!r} is not a web address; "
            "write it in full, like https://example.org/page."
        )
    return value


class WebAddress(Kind):
    json_schema = WEB_ADDRESS_SCHEMA

    def read(self, value: Any, info: ValidationInfo) -> str:
        return _web_address(value)


class Logo(Kind):
    """A web address, or a file under static/."""

    def read(self, value: Any, info: ValidationInfo) -> str:
        value = _line(value)
        return _web_address(value) if value.startswith(("http:", "https:")) else value


class EmailAddress(Kind):
    json_schema = {"type": "string", "format": "email"}

    def read(self, value: Any, info: ValidationInfo) -> str:
        value = _line(value)
        if not is_email_address(value):
            raise refusal(f": {value!r} is not an e-mail address, like contact@example.org.")
        return value


class Contact(Kind):
    json_schema = {
        "type": "string",
        "description": "A web address (https://…) or an e-mail address.",
    }

    def read(self, value: Any, info: ValidationInfo) -> str:
        value = _line(value)
        return value if is_email_address(value) else _web_address(value)


class CountryCode(Kind):
    json_schema = {"type": "string", "pattern": "^[A-Za-z]{2}$"}

    def read(self, value: Any, info: ValidationInfo) -> str:
        code = _line(value).upper()
        if code not in _COUNTRIES:
            raise refusal(
                f": {value!r} is not a country code; "
                "use the two-letter ISO 3166 code, like FR or BE."
            )
        return code


class Slug(Kind):
    json_schema = {"type": "string", "pattern": SLUG.pattern}

    def read(self, value: Any, info: ValidationInfo) -> str:
        slug = _line(value)
        if not SLUG.match(slug):
            raise refusal(f": {slug!r} must be lowercase letters, digits and dashes.")
        return slug


class Licence(Kind):
    json_schema = {"type": "string", "minLength": 1}

    def read(self, value: Any, info: ValidationInfo) -> str:
        value = _line(value)
        tokens = [t for t in re.split(r"[()\s]+", value) if t]
        expect_id = True
        ok = bool(tokens)
        for token in tokens:
            if expect_id:
                ok = ok and bool(SPDX_ID.match(token)) and token not in ("AND", "OR", "WITH")
            else:
                ok = ok and token in ("AND", "OR", "WITH")
            expect_id = not expect_id
        if not ok or expect_id:
            raise refusal(
                f": {value!r} is not an SPDX licence identifier; "
                "use the identifier from https://spdx.org/licenses/, like AGPL-3.0-or-later."
            )
        return value


class TextOrNumber(Kind):
    """A version or a rate: written as a text or a bare number, kept as a text."""

    json_schema = {"type": ["string", "number"]}

    def read(self, value: Any, info: ValidationInfo) -> str:
        return str(value)


class TimeZone(Kind):
    json_schema = {"type": "string", "examples": ["Europe/Paris", "Europe/Brussels"]}

    def read(self, value: Any, info: ValidationInfo) -> str:
        name = _line(value)
        try:
            ZoneInfo(name)
        except (ValueError, KeyError, OSError) as exc:
            raise refusal(f": {name!r} is not a time zone; use a name like Europe/Paris.") from exc
        return name


class Choice(Kind):
    """One of a closed list of codes, matched without regard to case."""

    def __init__(self, choices: tuple[str, ...], what: str) -> None:
        self.choices = choices
        self.what = what
        self.json_schema = {
            "type": "string",
            "enum": list(choices),
            "description": "One of: " + ", ".join(choices) + ".",
        }

    def read(self, value: Any, info: ValidationInfo) -> str:
        text = _line(value)
        found = {c.casefold(): c for c in self.choices}.get(text.casefold())
        if found is None:
            raise refusal(
                f": {text!r} is not a known {self.what}; expected {phrase(list(self.choices))}."
            )
        return found


class Boolean(Kind):
    json_schema = {"type": "boolean"}

    def read(self, value: Any, info: ValidationInfo) -> bool:
        if not isinstance(value, bool):
            raise refusal(" must be true or false (without quotes).")
        return value


class Day(Kind):
    # TOML dates (2024-05-31) reach validators as ISO strings; quoted ones are accepted.
    json_schema = {"type": "string", "format": "date"}

    def read(self, value: Any, info: ValidationInfo) -> date:
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                pass
        raise refusal(f": {value!r} is not a date like 2024-05-31.")

    def serialization(self) -> core_schema.SerSchema:
        return core_schema.plain_serializer_function_ser_schema(
            date.isoformat, when_used="json-unless-none"
        )


class Year(Kind):
    json_schema = {"type": "integer"}

    def read(self, value: Any, info: ValidationInfo) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not 1900 <= value <= 2200:
            raise refusal(" must be a year like 2024 (without quotes).")
        return value


class Degrees(Kind):
    json_schema = {"type": "number"}

    def __init__(self, low: float, high: float) -> None:
        self.low = low
        self.high = high

    def read(self, value: Any, info: ValidationInfo) -> float:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not self.low <= value <= self.high
        ):
            raise refusal(
                f" must be a number between {self.low:g} and {self.high:g} (without quotes)."
            )
        return float(value)


class TextList(Kind):
    json_schema = {"type": "array", "items": {"type": "string"}}

    def read(self, value: Any, info: ValidationInfo) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise refusal(' must be a list of texts, like ["a", "b"].')
        return tuple(v.strip() for v in value)


class WebAddresses(Kind):
    """Names and web addresses: `{ mastodon = "https://…" }`; empty is left out."""

    json_schema = {
        "type": "object",
        "propertyNames": {"pattern": SHORT_NAME.pattern},
        "additionalProperties": WEB_ADDRESS_SCHEMA,
    }

    def read(self, value: Any, info: ValidationInfo) -> dict[str, str] | None:
        if not isinstance(value, dict):
            raise refusal(" must be a table (a [section] or { key = value }).")
        found: dict[str, str] = {}
        for name, address in value.items():
            if not SHORT_NAME.match(name):
                raise refusal(
                    f".{name}: {name!r} must be a short name in lowercase letters, "
                    "like mastodon or liberapay."
                )
            if address is None or address == "":
                raise refusal(f".{name} is missing: add it to hoster.toml.")
            found[name] = _web_address(address, f".{name}")
        return found or None


class ConnectorTable(Kind):
    """A connector's settings, checked by app.connectors when the app starts."""

    json_schema = {
        "type": "object",
        "required": ["type"],
        "properties": {"type": {"type": "string"}},
    }

    def read(self, value: Any, info: ValidationInfo) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise refusal(" must be a table ([services.connector]).")
        return dict(value)


class Text(Kind):
    """A text people read: a string, or a table of languages `{ fr = "…", en = "…" }`.

    A string is in the language the file declares (top-level `language`, passed in the
    validation context); an empty text is refused where required and left out elsewhere.
    """

    json_schema = {TEXT_SCHEMA_MARKER: True}

    def __init__(self, *, required: bool = True) -> None:
        self.required = required

    def read(self, value: Any, info: ValidationInfo) -> LocalizedText | None:
        if isinstance(value, LocalizedText):
            texts = dict(value.texts)
        elif isinstance(value, str):
            language = (info.context or {}).get("language", FALLBACK_LANGUAGE)
            texts = {language: value.strip()}
        elif isinstance(value, dict):
            texts = {}
            for language, text in value.items():
                if language not in TEXT_LANGUAGES:
                    raise refusal(
                        f".{language}: {language!r} is not a language of the panel; "
                        f"use {phrase(list(TEXT_LANGUAGES))}."
                    )
                if not isinstance(text, str):
                    raise refusal(f".{language} must be a text value in quotes.")
                if text.strip():
                    texts[language] = text.strip()
            if not texts:
                if self.required:
                    raise refusal(" is empty: write the text in French at least.")
                return None
        else:
            raise refusal(
                ' must be a text in quotes, or one per language like { fr = "…", en = "…" }.'
            )
        return LocalizedText(texts)

    def serialization(self) -> core_schema.SerSchema:
        # The public JSON carries the reader's language (Accept-Language or ?lang), else French.
        return core_schema.plain_serializer_function_ser_schema(
            lambda text: str(text) if text else None
        )


def text_schema() -> JsonSchemaValue:
    """The JSON Schema of a text (`$defs/text`)."""
    languages = {
        language: {"type": "string", "description": f"The text in {name}."}
        for language, name in zip(TEXT_LANGUAGES, ("French", "English"), strict=True)
    }
    return {
        "description": (
            "A text people read: one string, or one per language "
            '{ fr = "…", en = "…" }. Readers get their language, else French.'
        ),
        "anyOf": [
            {"type": "string"},
            {
                "type": "object",
                "properties": languages,
                "additionalProperties": False,
                "minProperties": 1,
            },
        ],
    }
