"""Texts the hoster writes in several languages, shown in the reader's; country names."""

from __future__ import annotations

from typing import Any

from babel import Locale
from flask import has_app_context
from flask_babel import get_locale
from markupsafe import Markup, escape

# The panel's languages, French first: it is the reference and the fallback of every text.
TEXT_LANGUAGES = ("fr", "en")
FALLBACK_LANGUAGE = "fr"


def reader_language() -> str:
    """The language of the page being rendered; French outside a request (CLI, worker)."""
    if has_app_context():
        try:
            # In a request, or in a worker under force_locale (mail to a person).
            locale = get_locale()
        except RuntimeError:  # no request and no forced locale: the selector needs one
            return FALLBACK_LANGUAGE
        if locale is not None:
            return str(locale.language)
    return FALLBACK_LANGUAGE


class LocalizedText:
    """A text the hoster wrote, in one or several languages (hoster.toml `{ fr = …, en = … }`).

    `str()` gives the reader's text, so a text works wherever a string did; in a template
    it also says its language (`<span lang="fr">`) when it is not the page's, so screen
    readers pronounce it right. Attribute values must use `|string`, not the bare value.
    """

    __slots__ = ("texts",)

    def __init__(self, texts: dict[str, str]) -> None:
        self.texts = dict(texts)

    @classmethod
    def of(cls, text: str, language: str = FALLBACK_LANGUAGE) -> LocalizedText:
        return cls({language: text})

    @classmethod
    def neutral(cls, text: str) -> LocalizedText:
        """A name or a number, the same in every language (a slug, a year)."""
        return cls(dict.fromkeys(TEXT_LANGUAGES, text))

    def pick(self, language: str) -> tuple[str, str]:
        """(the language actually shown, the text): the reader's, else French, else any."""
        for candidate in (language, FALLBACK_LANGUAGE):
            if self.texts.get(candidate):
                return candidate, self.texts[candidate]
        for found, text in self.texts.items():
            if text:
                return found, text
        return language, ""

    def for_language(self, language: str) -> str:
        return self.pick(language)[1]

    def map(self, change: Any) -> LocalizedText:
        """The same text with `change(str) -> str` applied to each language."""
        return LocalizedText({lang: change(text) for lang, text in self.texts.items()})

    def __str__(self) -> str:
        return self.for_language(reader_language())

    def __html__(self) -> Markup:
        reader = reader_language()
        shown, text = self.pick(reader)
        if shown != reader:
            return Markup('<span lang="{}">{}</span>').format(shown, text)
        return escape(text)

    def __bool__(self) -> bool:
        return any(self.texts.values())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LocalizedText):
            return self.texts == other.texts
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.texts.items())))

    def __repr__(self) -> str:
        return f"LocalizedText({self.texts!r})"


def country_name(code: str, language: str = "en") -> str:
    """The country's name in a language ("FR" → "France"), from Babel's CLDR data."""
    try:
        return str(Locale.parse(language).territories.get(code, code))
    except (ValueError, TypeError):
        return code
