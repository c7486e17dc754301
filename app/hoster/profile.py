"""Load and validate hoster.toml into frozen dataclasses; errors name the key at fault."""

from __future__ import annotations

import difflib
import logging
import re
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from babel import Locale
from flask import Flask, current_app, has_app_context
from markupsafe import Markup, escape

DEMO_FILE = Path(__file__).resolve().parent / "demo.toml"
log = logging.getLogger(__name__)

# Values of the ChatonsInfos ontology (the federation's machine-readable format).
ORGANISATION_TYPES = {
    "association": "ASSOCIATION",
    "informal": "INFORMAL",
    "co-op": "COOPERATIVE",
    "micro-company": "MICROCOMPANY",
    "company": "COMPANY",
    "individual": "INDIVIDUAL",
    "other": "OTHER",
}
MEMBERSHIP_STATUSES = ("ACTIVE", "IDLE", "AWAY")
ORGANISATION_STATUSES = MEMBERSHIP_STATUSES
# Whether a service still takes new accounts (ChatonsInfos `service.registration.load`).
REGISTRATION_LOADS = ("OPEN", "FULL")
PROVIDER_TYPES = ("HOME", "HOSTEDBAY", "HOSTEDSERVER", "OUTSOURCED")
SERVER_TYPES = ("NANO", "PHYSICAL", "VIRTUAL", "SHARED", "CLOUD")
SERVICE_STATUSES = ("ok", "warning", "alert", "error", "over", "void")
REGISTRATIONS = ("None", "Free", "Member", "Client")
INSTALL_TYPES = (
    "DISTRIBUTION",
    "PROVIDER",
    "PACKAGE",
    "TOOLING",
    "CLONEREPO",
    "ARCHIVE",
    "SOURCES",
    "CONTAINER",
)
# RGAA wording: totally, partially or not compliant.
ACCESSIBILITY_LEVELS = ("full", "partial", "none")

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
EMAIL = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")
SPDX_ID = re.compile(r"^(?:LicenseRef-)?[A-Za-z0-9][A-Za-z0-9.+-]*$")
TOP_LEVEL_KEYS = (
    "timezone",
    "language",
    "organisation",
    "hosts",
    "services",
    "policies",
    "offer",
    "reports",
)


class ProfileError(Exception):
    """hoster.toml is wrong; the message names the key and says what is expected."""


# The panel's languages, French first: it is the reference and the fallback of every text.
TEXT_LANGUAGES = ("fr", "en")
FALLBACK_LANGUAGE = "fr"


def reader_language() -> str:
    """The language of the page being rendered; French outside a request (CLI, worker)."""
    if has_app_context():
        from flask_babel import get_locale

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


# Data --------------------------------------------------------------------------------------
#
# Each field's `metadata` says how it is written in hoster.toml when the Python type alone
# does not (a web address, a list of codes, a key that is optional there): the JSON Schema
# of hoster.toml (app/hoster/schema.py) is generated from these classes.


def _toml(
    *,
    doc: str | None = None,
    format: str | None = None,  # uri, email, contact, country, slug, licence, timezone
    choices: tuple[str, ...] | None = None,
    required: bool | None = None,  # overrides "no default value = required"
    key: str | None = None,  # the TOML key when it differs from the field name
    skip: bool = False,  # not written in hoster.toml
) -> dict[str, Any]:
    return {
        "doc": doc,
        "format": format,
        "choices": choices,
        "required": required,
        "key": key,
        "skip": skip,
    }


def _url(doc: str | None = None) -> Any:
    return field(default=None, metadata=_toml(doc=doc, format="uri"))


def _opt(doc: str | None = None, **kwargs: Any) -> Any:
    return field(default=None, metadata=_toml(doc=doc, **kwargs))


def _req(doc: str | None = None, **kwargs: Any) -> Any:
    return field(metadata=_toml(doc=doc, **kwargs))


@dataclass(frozen=True, kw_only=True)
class Closing:
    """A closing plan (`closing = { date = 2027-03-31, message = { fr = "…", en = "…" } }`)."""

    date: date = _req("The day it closes: people's data is gone after it.")
    message: LocalizedText = _req("What people read: why, and what happens to their data.")


@dataclass(frozen=True, kw_only=True)
class Geolocation:
    """Where the organisation is, for the federation's map."""

    latitude: float | None = _opt("Decimal degrees, e.g. 45.75.")
    longitude: float | None = _opt("Decimal degrees, e.g. 4.85.")
    address: str | None = _opt()


@dataclass(frozen=True, kw_only=True)
class Software:
    name: str = _req("The software's name, e.g. Nextcloud.")
    # SPDX licence expression, e.g. "AGPL-3.0-or-later"
    licence: str = _req(
        "SPDX licence identifier or expression, e.g. AGPL-3.0-or-later.", format="licence"
    )
    website: str | None = _url()
    source_url: str | None = _url("Where its source code is.")
    version: str | None = _opt(format="text_or_number")
    modifications_url: str | None = _url("Where your changes to it are published.")

    @property
    def licence_url(self) -> str | None:
        """The SPDX page of a single-identifier licence; None for expressions."""
        if SPDX_ID.match(self.licence) and not self.licence.startswith("LicenseRef-"):
            return f"https://spdx.org/licenses/{self.licence}.html"
        return None


@dataclass(frozen=True, kw_only=True)
class Service:
    slug: str = _req("Short name in addresses: lowercase letters, digits, dashes.", format="slug")
    name: LocalizedText = _req("The service's name, as people know it.")
    description: LocalizedText | None = _opt("What it is for, in one sentence.")
    url: str | None = _url("Where people use it.")
    host: str = _req(
        "Slug of the [[hosts]] section it runs on (may be left out with one host).",
        required=False,
    )
    software: Software = _req()
    status: str = field(default="ok", metadata=_toml(choices=SERVICE_STATUSES))
    registration: str = field(default="Member", metadata=_toml(choices=REGISTRATIONS))
    install_type: str | None = _opt(choices=INSTALL_TYPES)
    guide_url: str | None = _url("The user guide.")
    data_location: LocalizedText | None = _opt("Where people's data is stored.")
    # What is kept after deletion and why (legal retention), shown before a deletion request.
    retention: LocalizedText | None = _opt("How long data is kept, and what stays after deletion.")
    # Export/delete connector: {"type": "files", "path": "/srv/files/{uid}", ...}, or None.
    # Staff only: never shown on a page for users or visitors.
    connector: dict[str, Any] | None = _opt(
        "Export and deletion connector ([services.connector], with its type). Staff only."
    )
    # For services without a connector: what staff do by hand to delete the data. Staff
    # only: the person leaving is told "our team deletes it by hand".
    manual_deletion: LocalizedText | None = _opt(
        "What staff do by hand to delete a person's data. Shown to staff only."
    )
    start_date: date | None = _opt()
    end_date: date | None = _opt("When the service closed (it is then listed as closed).")
    registration_load: str = field(
        default="OPEN",
        metadata=_toml(
            doc="OPEN: new accounts welcome; FULL: none for now.", choices=REGISTRATION_LOADS
        ),
    )
    guide_technical_url: str | None = _url("The technical documentation.")
    closing: Closing | None = _opt("The closing plan, once decided.")


@dataclass(frozen=True, kw_only=True)
class Host:
    """One machine (or rented space) the services run on, and who controls it."""

    slug: str = _req("Short name the services refer to.", format="slug")
    name: LocalizedText = _req("Shown on the pages (default: the slug).", required=False)
    provider_name: str = _req("Who provides the machine or the room.")
    provider_type: str = _req(choices=PROVIDER_TYPES)  # PROVIDER_TYPES
    server_type: str = _req(choices=SERVER_TYPES)  # SERVER_TYPES
    description: LocalizedText | None = _opt()
    provider_website: str | None = _url()
    hypervisor: str | None = _opt()
    country: str | None = _opt("ISO 3166 two-letter code, e.g. FR.", format="country")
    root_access: LocalizedText | None = _opt("Who has administrator (root) rights.")
    physical_access: LocalizedText | None = _opt("Who can touch the machine.")
    # None = not stated; the charter self-assessment reports it as missing.
    contract_forbids_access: bool | None = _opt(
        "Does the provider's contract forbid it to read the data?"
    )
    contract_url: str | None = _url()
    distribution: str | None = _opt("Operating system, e.g. Debian 12.")


@dataclass(frozen=True, kw_only=True)
class Membership:
    """Membership of the CHATONS collective (`[organisation.membership]`)."""

    status: str | None = _opt(choices=MEMBERSHIP_STATUSES)
    since: date | None = _opt()


@dataclass(frozen=True, kw_only=True)
class Organisation:
    name: str = _req("The hoster's name.")
    type: str = _req(choices=tuple(ORGANISATION_TYPES))
    description: LocalizedText | None = _opt("Who you are, in a sentence or two.")
    website: str | None = _url()
    contact_url: str | None = _url("A contact page.")
    contact_email: str | None = _opt("The team's address, shown on the home page.", format="email")
    country: str | None = _opt(format="country")
    legal_notice_url: str | None = _url()
    membership_status: str | None = _opt(skip=True)
    membership_since: str | None = _opt(skip=True)
    logo: str | None = _opt("A web address, or a file under static/.")
    start_date: date | None = _opt("When the organisation started hosting.")
    membership: Membership | None = _opt(key="membership")
    status: str = field(
        default="ACTIVE",
        metadata=_toml(
            doc="ACTIVE, IDLE (paused) or AWAY (stopped).", choices=ORGANISATION_STATUSES
        ),
    )
    status_description: LocalizedText | None = _opt("Why, when the status is not ACTIVE.")
    end_date: date | None = _opt("When the organisation stopped hosting.")
    guide_user_url: str | None = _url("The user guide.")
    guide_technical_url: str | None = _url("The technical documentation.")
    social_networks: dict[str, str] | None = _opt(
        'Name = address, e.g. { mastodon = "https://…" }.', format="uri_map"
    )
    chat_rooms: dict[str, str] | None = _opt(
        'Name = address, e.g. { matrix = "https://matrix.to/#/…" }.', format="uri_map"
    )
    funding: dict[str, str] | None = _opt(
        'Name = address, e.g. { liberapay = "https://liberapay.com/…" }.', format="uri_map"
    )
    geolocation: Geolocation | None = _opt()
    closing: Closing | None = _opt("The closing plan of the whole organisation, once decided.")

    @property
    def chatonsinfos_type(self) -> str:
        return ORGANISATION_TYPES[self.type]


@dataclass(frozen=True, kw_only=True)
class BackupPolicy:
    what: LocalizedText = _req()
    frequency: LocalizedText = _req()
    retention: LocalizedText = _req()
    location: LocalizedText = _req()
    encrypted: bool | None = _opt()
    restore_tested: LocalizedText | None = _opt()


@dataclass(frozen=True, kw_only=True)
class SecurityPolicy:
    summary: LocalizedText = _req()
    updates: LocalizedText | None = _opt()
    # URL or e-mail address for reporting vulnerabilities
    contact: str | None = _opt("A web address or an e-mail address.", format="contact")


@dataclass(frozen=True, kw_only=True)
class EncryptionPolicy:
    in_transit: LocalizedText | None = _opt()
    at_rest: LocalizedText | None = _opt()


@dataclass(frozen=True, kw_only=True)
class LogPolicy:
    retention: LocalizedText = _req()
    content: LocalizedText | None = _opt()


@dataclass(frozen=True, kw_only=True)
class SubProcessor:
    name: str = _req()
    purpose: LocalizedText = _req()
    country: str | None = _opt(format="country")
    website: str | None = _url()


@dataclass(frozen=True, kw_only=True)
class NonFreeComponent:
    name: LocalizedText = _req()
    purpose: LocalizedText = _req()
    host: str | None = _opt("Slug of the host it is on (default: all of them).")


@dataclass(frozen=True, kw_only=True)
class AccessibilityStatement:
    level: str = _req(choices=ACCESSIBILITY_LEVELS)  # ACCESSIBILITY_LEVELS
    standard: str = field(default="RGAA 4.1", metadata=_toml())
    audit_date: date | None = _opt()
    rate: str | None = _opt('Share of criteria met, e.g. "87 %".', format="text_or_number")
    statement_url: str | None = _url()


@dataclass(frozen=True, kw_only=True)
class Policies:
    backups: BackupPolicy | None = _opt()
    security: SecurityPolicy | None = _opt()
    encryption: EncryptionPolicy | None = _opt()
    logs: LogPolicy | None = _opt()
    # None = not stated; an empty tuple = "none" stated explicitly.
    sub_processors: tuple[SubProcessor, ...] | None = _opt()
    nonfree: tuple[NonFreeComponent, ...] | None = _opt()
    accessibility: AccessibilityStatement | None = _opt()


@dataclass(frozen=True, kw_only=True)
class Price:
    label: LocalizedText = _req()
    amount: LocalizedText = _req()


@dataclass(frozen=True, kw_only=True)
class Offer:
    summary: LocalizedText = _req()
    # slugs of the services offered; empty = all of them
    services: tuple[str, ...] = field(
        default=(), metadata=_toml(doc="Slugs of the services offered (default: all).")
    )
    free: bool = field(default=False, metadata=_toml())
    prices: tuple[Price, ...] = field(default=(), metadata=_toml())
    target_public: LocalizedText | None = _opt()
    how_to_join: LocalizedText | None = _opt()
    join_url: str | None = _url()
    other_chatons_url: str = field(default="https://www.chatons.org/", metadata=_toml(format="uri"))

    @property
    def prices_stated(self) -> bool:
        return self.free or bool(self.prices)


@dataclass(frozen=True, kw_only=True)
class ReportLink:
    url: str = _req(format="uri")
    title: LocalizedText = _req("Default: the year.", required=False)
    year: int | None = _opt()


@dataclass(frozen=True, kw_only=True)
class Reports:
    activity: tuple[ReportLink, ...] = field(default=(), metadata=_toml())
    accounts: tuple[ReportLink, ...] = field(default=(), metadata=_toml())
    contributions: tuple[ReportLink, ...] = field(default=(), metadata=_toml())
    pay_ratio: LocalizedText | None = _opt()
    pay_ratio_url: str | None = _url()


@dataclass(frozen=True, kw_only=True)
class HosterProfile:
    organisation: Organisation = _req()
    services: tuple[Service, ...] = _req(required=False)
    raw: dict[str, Any] = field(repr=False, default_factory=dict, metadata=_toml(skip=True))
    timezone: str = field(
        default="Europe/Paris",
        metadata=_toml(doc="Time zone of the dates on the pages (IANA name).", format="timezone"),
    )
    language: str = field(
        default=FALLBACK_LANGUAGE,
        metadata=_toml(
            doc="The language of texts written as a plain string (not a table of languages).",
            choices=TEXT_LANGUAGES,
        ),
    )
    hosts: tuple[Host, ...] = field(default=(), metadata=_toml())
    policies: Policies = field(default_factory=lambda: Policies(), metadata=_toml())
    offer: Offer | None = _opt()
    reports: Reports | None = _opt()
    # When hoster.toml last changed (ChatonsInfos `file.datetime`).
    updated_at: datetime | None = _opt(skip=True)

    def service(self, slug: str) -> Service | None:
        return next((s for s in self.services if s.slug == slug), None)

    @property
    def service_slugs(self) -> tuple[str, ...]:
        return tuple(s.slug for s in self.services)

    def host(self, slug: str) -> Host | None:
        return next((h for h in self.hosts if h.slug == slug), None)

    def services_on(self, host_slug: str) -> tuple[Service, ...]:
        return tuple(s for s in self.services if s.host == host_slug)


# Validation --------------------------------------------------------------------------------


def country_name(code: str, language: str = "en") -> str:
    """The country's name in a language ("FR" → "France"), from Babel's CLDR data."""
    try:
        return str(Locale.parse(language).territories.get(code, code))
    except (ValueError, TypeError):
        return code


_COUNTRIES = {
    str(code) for code in Locale.parse("en").territories if re.fullmatch("[A-Z]{2}", str(code))
}


def _phrase(choices: tuple[str, ...] | list[str]) -> str:
    return ", ".join(choices[:-1]) + " or " + choices[-1] if len(choices) > 1 else choices[0]


class _Table:
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
                message = f"{self.path(key)} is missing: add it to hoster.toml."
                close = difflib.get_close_matches(key, list(self.data), n=1, cutoff=0.8)
                if close:
                    message += f" ({close[0]!r} looks like a misspelling of it.)"
                raise ProfileError(message)
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
                    f"use {_phrase(list(TEXT_LANGUAGES))}."
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
        if value is not None and not EMAIL.match(value):
            raise ProfileError(
                f"{self.path(key)}: {value!r} is not an e-mail address, like contact@example.org."
            )
        return value

    def contact(self, key: str) -> str | None:
        """A web address or an e-mail address."""
        value = self.text(key)
        if value is None or EMAIL.match(value):
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
                f"expected {_phrase(list(choices))}."
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
    ) -> _Table | None:
        value = self._get(key, required)
        if value is None:
            return None
        return _Table(value, self.path(key), known, self.plain_language)

    def tables(self, key: str, known: tuple[str, ...] = ()) -> list[_Table] | None:
        """An array of tables ([[key]]); None when absent, [] when written `key = []`."""
        self.known.add(key)
        if key not in self.data:
            return None
        value = self.data[key]
        if not isinstance(value, list):
            raise ProfileError(f"{self.path(key)} must be a list of tables ([[{key}]] sections).")
        return [
            _Table(item, f"{self.path(key)}[{i}]", known, self.plain_language)
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


def _licence(table: _Table, key: str) -> str:
    value = table.required_text(key)
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
        raise ProfileError(
            f"{table.path(key)}: {value!r} is not an SPDX licence identifier; "
            "use the identifier from https://spdx.org/licenses/, like AGPL-3.0-or-later."
        )
    return value


def _organisation(root: _Table) -> Organisation:
    org = root.table("organisation")
    if org is None:
        raise ProfileError("[organisation] is missing: hoster.toml must describe the hoster.")
    membership = org.table("membership", ("status", "since"))
    org_type = org.choice(
        "type", tuple(ORGANISATION_TYPES), required=True, what="organisation type"
    )
    assert org_type is not None
    membership_status = membership_since = None
    if membership is not None:
        membership_status = membership.choice("status", MEMBERSHIP_STATUSES, what="status")
        membership_since = membership.day("since")
    logo = org.text("logo")
    if logo and logo.startswith(("http:", "https:")):
        logo = org.url("logo")
    geolocation = None
    if (place := org.table("geolocation", ("latitude", "longitude", "address"))) is not None:
        geolocation = Geolocation(
            latitude=place.number("latitude", -90, 90),
            longitude=place.number("longitude", -180, 180),
            address=place.text("address"),
        )
        place.finish()
    organisation = Organisation(
        name=org.required_text("name"),
        type=org_type,
        description=org.localized("description"),
        website=org.url("website"),
        contact_url=org.url("contact_url"),
        contact_email=org.email("contact_email"),
        country=org.country("country"),
        legal_notice_url=org.url("legal_notice_url"),
        membership_status=membership_status,
        membership_since=membership_since.isoformat() if membership_since else None,
        logo=logo,
        start_date=org.day("start_date"),
        membership=Membership(status=membership_status, since=membership_since)
        if membership is not None
        else None,
        status=str(org.choice("status", ORGANISATION_STATUSES, default="ACTIVE", what="status")),
        status_description=org.localized("status_description"),
        end_date=org.day("end_date"),
        guide_user_url=org.url("guide_user_url"),
        guide_technical_url=org.url("guide_technical_url"),
        social_networks=org.url_map("social_networks"),
        chat_rooms=org.url_map("chat_rooms"),
        funding=org.url_map("funding"),
        geolocation=geolocation,
        closing=org.closing(),
    )
    if membership:
        membership.finish()
    org.finish()
    return organisation


def _hosts(root: _Table) -> tuple[Host, ...]:
    hosts: list[Host] = []
    for table in root.tables("hosts") or []:
        slug = table.required_text("slug")
        if not SLUG.match(slug):
            raise ProfileError(
                f"{table.path('slug')}: {slug!r} must be lowercase letters, digits and dashes."
            )
        provider_type = table.choice(
            "provider_type", PROVIDER_TYPES, required=True, what="provider type"
        )
        server_type = table.choice("server_type", SERVER_TYPES, required=True, what="server type")
        assert provider_type and server_type
        hosts.append(
            Host(
                slug=slug,
                name=table.localized("name") or LocalizedText.neutral(slug),
                description=table.localized("description"),
                provider_name=table.required_text("provider_name"),
                provider_website=table.url("provider_website"),
                provider_type=provider_type,
                server_type=server_type,
                hypervisor=table.text("hypervisor"),
                country=table.country("country"),
                root_access=table.localized("root_access"),
                physical_access=table.localized("physical_access"),
                contract_forbids_access=table.boolean("contract_forbids_access"),
                contract_url=table.url("contract_url"),
                distribution=table.text("distribution"),
            )
        )
        table.finish()
    _no_duplicates("hosts", [h.slug for h in hosts])
    return tuple(hosts)


SERVICE_KEYS = (
    "slug",
    "name",
    "description",
    "url",
    "host",
    "software",
    "status",
    "registration",
    "install_type",
    "guide_url",
    "data_location",
    "retention",
    "connector",
    "manual_deletion",
    "start_date",
    "end_date",
    "registration_load",
    "guide_technical_url",
    "closing",
)


def _services(root: _Table, hosts: tuple[Host, ...]) -> tuple[Service, ...]:
    host_slugs = [h.slug for h in hosts]
    services: list[Service] = []
    for table in root.tables("services") or []:
        slug = table.required_text("slug")
        if not SLUG.match(slug):
            raise ProfileError(
                f"{table.path('slug')}: {slug!r} must be lowercase letters, digits and dashes."
            )
        if slug == "organization":
            raise ProfileError(
                f"{table.path('slug')}: 'organization' is reserved for the ChatonsInfos "
                "organisation file; choose another slug."
            )
        host = table.text("host")
        if host is None and len(hosts) == 1:
            host = hosts[0].slug
        if host is None and hosts:
            raise ProfileError(
                f"{table.path('host')} is missing: say which host runs {slug!r} "
                f"({_phrase(host_slugs)})."
            )
        if host is not None and host not in host_slugs:
            declared = f"declared hosts: {_phrase(host_slugs)}" if hosts else "no host is declared"
            raise ProfileError(
                f"{table.path('host')}: {host!r} is not a host of this file ({declared}); "
                f"add a [[hosts]] section with slug = {host!r} or fix the name."
            )
        software = table.table(
            "software",
            ("name", "licence", "website", "source_url", "version", "modifications_url"),
            required=True,
        )
        assert software is not None
        connector = table.data.get("connector")
        if connector is not None and not isinstance(connector, dict):
            raise ProfileError(f"{table.path('connector')} must be a table ([services.connector]).")
        services.append(
            Service(
                slug=slug,
                name=table.required_localized("name"),
                description=table.localized("description"),
                url=table.url("url"),
                host=host or "",
                software=Software(
                    name=software.required_text("name"),
                    licence=_licence(software, "licence"),
                    website=software.url("website"),
                    source_url=software.url("source_url"),
                    version=str(software.data["version"])
                    if software.data.get("version") not in (None, "")
                    else None,
                    modifications_url=software.url("modifications_url"),
                ),
                status=str(
                    table.choice("status", SERVICE_STATUSES, default="ok", what="service status")
                ),
                registration=str(
                    table.choice(
                        "registration", REGISTRATIONS, default="Member", what="registration"
                    )
                ),
                install_type=table.choice("install_type", INSTALL_TYPES, what="install type"),
                guide_url=table.url("guide_url"),
                data_location=table.localized("data_location"),
                retention=table.localized("retention"),
                connector=dict(connector) if connector is not None else None,
                manual_deletion=table.localized("manual_deletion"),
                start_date=table.day("start_date"),
                end_date=table.day("end_date"),
                registration_load=str(
                    table.choice(
                        "registration_load",
                        REGISTRATION_LOADS,
                        default="OPEN",
                        what="registration load",
                    )
                ),
                guide_technical_url=table.url("guide_technical_url"),
                closing=table.closing(),
            )
        )
        software.finish()
        table.known.update(SERVICE_KEYS)
        table.finish()
    _no_duplicates("services", [s.slug for s in services])
    return tuple(services)


def _policies(root: _Table, hosts: tuple[Host, ...]) -> Policies:
    table = root.table("policies")
    if table is None:
        return Policies()
    backups = security = encryption = logs = accessibility = None
    if (t := table.table("backups")) is not None:
        backups = BackupPolicy(
            what=t.required_localized("what"),
            frequency=t.required_localized("frequency"),
            retention=t.required_localized("retention"),
            location=t.required_localized("location"),
            encrypted=t.boolean("encrypted"),
            restore_tested=t.localized("restore_tested"),
        )
        t.finish()
    if (t := table.table("security")) is not None:
        security = SecurityPolicy(
            summary=t.required_localized("summary"),
            updates=t.localized("updates"),
            contact=t.contact("contact"),
        )
        t.finish()
    if (t := table.table("encryption")) is not None:
        encryption = EncryptionPolicy(
            in_transit=t.localized("in_transit"), at_rest=t.localized("at_rest")
        )
        t.finish()
    if (t := table.table("logs")) is not None:
        logs = LogPolicy(
            retention=t.required_localized("retention"), content=t.localized("content")
        )
        t.finish()
    sub_processors: tuple[SubProcessor, ...] | None = None
    if (items := table.tables("sub_processors")) is not None:
        found = []
        for t in items:
            found.append(
                SubProcessor(
                    name=t.required_text("name"),
                    purpose=t.required_localized("purpose"),
                    country=t.country("country"),
                    website=t.url("website"),
                )
            )
            t.finish()
        sub_processors = tuple(found)
    nonfree: tuple[NonFreeComponent, ...] | None = None
    if (items := table.tables("nonfree")) is not None:
        components = []
        for t in items:
            host = t.text("host")
            if host is not None and host not in {h.slug for h in hosts}:
                raise ProfileError(
                    f"{t.path('host')}: {host!r} is not a host of this file; "
                    "use the slug of a [[hosts]] section."
                )
            components.append(
                NonFreeComponent(
                    name=t.required_localized("name"),
                    purpose=t.required_localized("purpose"),
                    host=host,
                )
            )
            t.finish()
        nonfree = tuple(components)
    if (t := table.table("accessibility")) is not None:
        level = t.choice(
            "level", ACCESSIBILITY_LEVELS, required=True, what="accessibility conformance level"
        )
        assert level is not None
        rate = t.data.get("rate")
        t.known.add("rate")
        accessibility = AccessibilityStatement(
            level=level,
            standard=t.text("standard") or "RGAA 4.1",
            audit_date=t.day("audit_date"),
            rate=str(rate) if rate not in (None, "") else None,
            statement_url=t.url("statement_url"),
        )
        t.finish()
    table.finish()
    return Policies(
        backups=backups,
        security=security,
        encryption=encryption,
        logs=logs,
        sub_processors=sub_processors,
        nonfree=nonfree,
        accessibility=accessibility,
    )


def _offer(root: _Table, services: tuple[Service, ...]) -> Offer | None:
    table = root.table("offer")
    if table is None:
        return None
    offered = table.text_list("services")
    slugs = [s.slug for s in services]
    for index, slug in enumerate(offered):
        if slug not in slugs:
            raise ProfileError(
                f"offer.services[{index}]: {slug!r} is not a service of this file; "
                f"use the slugs of [[services]] ({_phrase(slugs) if slugs else 'none declared'})."
            )
    prices = []
    for t in table.tables("prices") or []:
        amount = t.data.get("amount")
        if isinstance(amount, int | float) and not isinstance(amount, bool):
            t.data = {**t.data, "amount": str(amount)}
        prices.append(
            Price(label=t.required_localized("label"), amount=t.required_localized("amount"))
        )
        t.finish()
    offer = Offer(
        summary=table.required_localized("summary"),
        services=offered,
        free=bool(table.boolean("free")),
        prices=tuple(prices),
        target_public=table.localized("target_public"),
        how_to_join=table.localized("how_to_join"),
        join_url=table.url("join_url"),
        other_chatons_url=table.url("other_chatons_url") or "https://www.chatons.org/",
    )
    table.finish()
    return offer


def _report_links(table: _Table, key: str) -> tuple[ReportLink, ...]:
    links = []
    for t in table.tables(key) or []:
        year = t.year("year")
        links.append(
            ReportLink(
                title=t.localized("title")
                or LocalizedText.neutral(str(year) if year else t.path("title")),
                url=str(t.url("url", required=True)),
                year=year,
            )
        )
        t.finish()
    return tuple(sorted(links, key=lambda r: -(r.year or 0)))


def _reports(root: _Table) -> Reports | None:
    table = root.table("reports")
    if table is None:
        return None
    reports = Reports(
        activity=_report_links(table, "activity"),
        accounts=_report_links(table, "accounts"),
        contributions=_report_links(table, "contributions"),
        pay_ratio=table.localized("pay_ratio"),
        pay_ratio_url=table.url("pay_ratio_url"),
    )
    table.finish()
    return reports


def _no_duplicates(where: str, slugs: list[str]) -> None:
    duplicates = {s for s in slugs if slugs.count(s) > 1}
    if duplicates:
        raise ProfileError(f"{where}: the slug {sorted(duplicates)[0]!r} is used twice.")


def parse_profile(data: dict[str, Any], *, updated_at: datetime | None = None) -> HosterProfile:
    root = _Table(data, "", TOP_LEVEL_KEYS)
    language = root.choice("language", TEXT_LANGUAGES, default=FALLBACK_LANGUAGE, what="language")
    root.plain_language = str(language)
    organisation = _organisation(root)
    hosts = _hosts(root)
    services = _services(root, hosts)
    policies = _policies(root, hosts)
    offer = _offer(root, services)
    reports = _reports(root)
    timezone = root.text("timezone") or "Europe/Paris"
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(timezone)
    except (ValueError, KeyError, OSError) as exc:
        raise ProfileError(
            f"timezone: {timezone!r} is not a time zone; use a name like Europe/Paris."
        ) from exc
    root.finish()
    return HosterProfile(
        organisation=organisation,
        services=services,
        raw=data,
        timezone=timezone,
        language=root.plain_language,
        hosts=hosts,
        policies=policies,
        offer=offer,
        reports=reports,
        updated_at=updated_at,
    )


def load_profile(path: Path) -> HosterProfile:
    try:
        text = path.read_text(encoding="utf-8")
        updated_at = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except FileNotFoundError as exc:
        raise ProfileError(
            f"{path} does not exist: set PANEL_HOSTER_FILE to your hoster.toml."
        ) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path} is not valid TOML: {exc}") from exc
    try:
        return parse_profile(data, updated_at=updated_at)
    except ProfileError as exc:
        raise ProfileError(f"{path}: {exc}") from exc


def init_app(app: Flask) -> None:
    configured = app.config.get("HOSTER_FILE")
    if configured:
        path = Path(configured)
    else:
        default = Path(app.instance_path) / "hoster.toml"
        if default.exists():
            path = default
        elif app.config["ENV"] == "production":
            raise ProfileError(
                f"{default} does not exist: write your hoster.toml there "
                "(see docs/hoster.example.toml) or set PANEL_HOSTER_FILE."
            )
        else:
            path = DEMO_FILE
    profile = load_profile(path)
    app.extensions["panel_hoster"] = profile
    # The demo's connectors reach servers that may not run here (flask doctor says so).
    app.extensions["panel_hoster_is_demo"] = path.resolve() == DEMO_FILE
    app.config["BABEL_DEFAULT_TIMEZONE"] = profile.timezone
    if profile.organisation.name:
        app.config["HOSTER_NAME"] = profile.organisation.name


def current_profile() -> HosterProfile:
    profile: HosterProfile = current_app.extensions["panel_hoster"]
    return profile
