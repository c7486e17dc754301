"""The hoster profile as frozen dataclasses, and the ChatonsInfos values its fields take.

Each field's `metadata` says how it is written in hoster.toml when the Python type alone
does not: the JSON Schema of hoster.toml (app/hoster/schema.py) is generated from these
classes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from app.hoster.texts import FALLBACK_LANGUAGE, TEXT_LANGUAGES, LocalizedText

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
