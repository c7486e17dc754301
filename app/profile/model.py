"""The hoster profile (hoster.toml) as one pydantic model, and the ChatonsInfos codes it uses.

The same classes read and check hoster.toml (app/profile/parsing.py turns their errors into
messages naming the key), give its JSON Schema (app/profile/schema.py) and the public JSON
(app/disclosure/disclosure.py). The kind of each value (a web address, a text in several
languages, a code) is in app/profile/fields.py.
"""

from __future__ import annotations

import difflib
import logging
from datetime import date, datetime
from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from app.profile.fields import (
    SPDX_ID,
    Boolean,
    Choice,
    ConnectorTable,
    Contact,
    CountryCode,
    Day,
    Degrees,
    EmailAddress,
    Licence,
    Line,
    Logo,
    Slug,
    Text,
    TextList,
    TextOrNumber,
    TimeZone,
    WebAddress,
    WebAddresses,
    Year,
    phrase,
    refusal,
)
from app.profile.texts import FALLBACK_LANGUAGE, TEXT_LANGUAGES, LocalizedText

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


class ProfileError(Exception):
    """hoster.toml is wrong; the message names the key and says what is expected."""


# The kinds of value most tables hold.
TextIn = Annotated[LocalizedText, Text()]
MaybeText = Annotated[LocalizedText | None, Text(required=False)]
Name = Annotated[str, Line()]
MaybeLine = Annotated[str | None, Line()]
MaybeWebAddress = Annotated[str | None, WebAddress()]
MaybeDay = Annotated[date | None, Day()]
MaybeCountry = Annotated[str | None, CountryCode()]
MaybeBoolean = Annotated[bool | None, Boolean()]


class Table(BaseModel):
    """A table of hoster.toml: unknown keys are refused, values are read as people write them."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    @model_validator(mode="before")
    @classmethod
    def _as_written(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data  # pydantic refuses it: "must be a table"
        known = sorted(cls.model_fields)
        kept: dict[str, Any] = {}
        for key, value in data.items():
            if value is None or (isinstance(value, str) and value == ""):
                continue  # an empty value is a key left out
            if key not in cls.model_fields and not difflib.get_close_matches(
                key, known, n=1, cutoff=0.8
            ):
                # Another feature's key, or a note: only a misspelt known key is an error.
                log.info("hoster.toml: %s in %s is not used by the hoster pages", key, cls.__name__)
                continue
            kept[key] = value
        return cls.complete(kept)

    @classmethod
    def complete(cls, data: dict[str, Any]) -> dict[str, Any]:
        """Defaults that depend on other keys of the table."""
        return data


class Closing(Table):
    """A closing plan (`closing = { date = 2027-03-31, message = { fr = "…", en = "…" } }`)."""

    date: Annotated[date, Day()] = Field(
        description="The day it closes: people's data is gone after it."
    )
    message: TextIn = Field(description="What people read: why, and what happens to their data.")

    @classmethod
    def complete(cls, data: dict[str, Any]) -> dict[str, Any]:
        if "date" not in data:
            raise refusal(".date is missing: say the day it closes.")
        return data


class Geolocation(Table):
    """Where the organisation is, for the federation's map."""

    latitude: Annotated[float | None, Degrees(-90, 90)] = Field(
        None, description="Decimal degrees, e.g. 45.75."
    )
    longitude: Annotated[float | None, Degrees(-180, 180)] = Field(
        None, description="Decimal degrees, e.g. 4.85."
    )
    address: MaybeLine = None


class Software(Table):
    name: Name = Field(description="The software's name, e.g. Nextcloud.")
    licence: Annotated[str, Licence()] = Field(
        description="SPDX licence identifier or expression, e.g. AGPL-3.0-or-later."
    )
    website: MaybeWebAddress = None
    source_url: MaybeWebAddress = Field(None, description="Where its source code is.")
    version: Annotated[str | None, TextOrNumber()] = None
    modifications_url: MaybeWebAddress = Field(
        None, description="Where your changes to it are published."
    )

    @property
    def licence_url(self) -> str | None:
        """The SPDX page of a single-identifier licence; None for expressions."""
        if SPDX_ID.match(self.licence) and not self.licence.startswith("LicenseRef-"):
            return f"https://spdx.org/licenses/{self.licence}.html"
        return None


class Service(Table):
    slug: Annotated[str, Slug()] = Field(
        description="Short name in addresses: lowercase letters, digits, dashes."
    )
    name: TextIn = Field(description="The service's name, as people know it.")
    description: MaybeText = Field(None, description="What it is for, in one sentence.")
    url: MaybeWebAddress = Field(None, description="Where people use it.")
    # "" until the profile gives it its only host (see HosterProfile.complete).
    host: Annotated[str, Line()] = Field(
        default_factory=str,
        description="Slug of the [[hosts]] section it runs on (may be left out with one host).",
    )
    software: Software
    status: Annotated[str, Choice(SERVICE_STATUSES, "service status")] = "ok"
    registration: Annotated[str, Choice(REGISTRATIONS, "registration")] = "Member"
    install_type: Annotated[str | None, Choice(INSTALL_TYPES, "install type")] = None
    guide_url: MaybeWebAddress = Field(None, description="The user guide.")
    data_location: MaybeText = Field(None, description="Where people's data is stored.")
    # What is kept after deletion and why (legal retention), shown before a deletion request.
    retention: MaybeText = Field(
        None, description="How long data is kept, and what stays after deletion."
    )
    # Export/delete connector: {"type": "files", "path": "/srv/files/{uid}", ...}, or None.
    # Staff only: never shown on a page for users or visitors.
    connector: Annotated[dict[str, Any] | None, ConnectorTable()] = Field(
        None,
        description="Export and deletion connector ([services.connector], with its type). "
        "Staff only.",
    )
    # For services without a connector: what staff do by hand to delete the data. Staff
    # only: the person leaving is told "our team deletes it by hand".
    manual_deletion: MaybeText = Field(
        None, description="What staff do by hand to delete a person's data. Shown to staff only."
    )
    start_date: MaybeDay = None
    end_date: MaybeDay = Field(
        None, description="When the service closed (it is then listed as closed)."
    )
    registration_load: Annotated[str, Choice(REGISTRATION_LOADS, "registration load")] = Field(
        "OPEN", description="OPEN: new accounts welcome; FULL: none for now."
    )
    guide_technical_url: MaybeWebAddress = Field(None, description="The technical documentation.")
    closing: Closing | None = Field(None, description="The closing plan, once decided.")

    @field_validator("slug")
    @classmethod
    def _not_reserved(cls, slug: str) -> str:
        if slug == "organization":
            raise refusal(
                ": 'organization' is reserved for the ChatonsInfos organisation file; "
                "choose another slug."
            )
        return slug


class Host(Table):
    """One machine (or rented space) the services run on, and who controls it."""

    slug: Annotated[str, Slug()] = Field(description="Short name the services refer to.")
    name: Annotated[LocalizedText, Text(required=False)] = Field(
        None, validate_default=True, description="Shown on the pages (default: the slug)."
    )
    provider_name: Name = Field(description="Who provides the machine or the room.")
    provider_type: Annotated[str, Choice(PROVIDER_TYPES, "provider type")]
    server_type: Annotated[str, Choice(SERVER_TYPES, "server type")]
    description: MaybeText = None
    provider_website: MaybeWebAddress = None
    hypervisor: MaybeLine = None
    country: MaybeCountry = Field(None, description="ISO 3166 two-letter code, e.g. FR.")
    root_access: MaybeText = Field(None, description="Who has administrator (root) rights.")
    physical_access: MaybeText = Field(None, description="Who can touch the machine.")
    # None = not stated; the charter self-assessment reports it as missing.
    contract_forbids_access: MaybeBoolean = Field(
        None, description="Does the provider's contract forbid it to read the data?"
    )
    contract_url: MaybeWebAddress = None
    distribution: MaybeLine = Field(None, description="Operating system, e.g. Debian 12.")

    @field_validator("name")
    @classmethod
    def _slug_by_default(cls, name: LocalizedText | None, info: ValidationInfo) -> LocalizedText:
        return name or LocalizedText.neutral(info.data.get("slug", ""))


class Membership(Table):
    """Membership of the CHATONS collective (`[organisation.membership]`)."""

    status: Annotated[str | None, Choice(MEMBERSHIP_STATUSES, "status")] = None
    since: MaybeDay = None


class Organisation(Table):
    name: Name = Field(description="The hoster's name.")
    type: Annotated[str, Choice(tuple(ORGANISATION_TYPES), "organisation type")]
    description: MaybeText = Field(None, description="Who you are, in a sentence or two.")
    website: MaybeWebAddress = None
    contact_url: MaybeWebAddress = Field(None, description="A contact page.")
    contact_email: Annotated[str | None, EmailAddress()] = Field(
        None, description="The team's address, shown on the home page."
    )
    country: MaybeCountry = None
    legal_notice_url: MaybeWebAddress = None
    logo: Annotated[str | None, Logo()] = Field(
        None, description="A web address, or a file under static/."
    )
    start_date: MaybeDay = Field(None, description="When the organisation started hosting.")
    membership: Membership = Field(default_factory=Membership)
    status: Annotated[str, Choice(ORGANISATION_STATUSES, "status")] = Field(
        "ACTIVE", description="ACTIVE, IDLE (paused) or AWAY (stopped)."
    )
    status_description: MaybeText = Field(None, description="Why, when the status is not ACTIVE.")
    end_date: MaybeDay = Field(None, description="When the organisation stopped hosting.")
    guide_user_url: MaybeWebAddress = Field(None, description="The user guide.")
    guide_technical_url: MaybeWebAddress = Field(None, description="The technical documentation.")
    social_networks: Annotated[dict[str, str] | None, WebAddresses()] = Field(
        None, description='Name = address, e.g. { mastodon = "https://…" }.'
    )
    chat_rooms: Annotated[dict[str, str] | None, WebAddresses()] = Field(
        None, description='Name = address, e.g. { matrix = "https://matrix.to/#/…" }.'
    )
    funding: Annotated[dict[str, str] | None, WebAddresses()] = Field(
        None, description='Name = address, e.g. { liberapay = "https://liberapay.com/…" }.'
    )
    geolocation: Geolocation | None = None
    closing: Closing | None = Field(
        None, description="The closing plan of the whole organisation, once decided."
    )

    @property
    def chatonsinfos_type(self) -> str:
        return ORGANISATION_TYPES[self.type]

    @property
    def membership_status(self) -> str | None:
        return self.membership.status

    @property
    def membership_since(self) -> str | None:
        """The day it joined, as ChatonsInfos writes it (2020-01-31)."""
        return self.membership.since.isoformat() if self.membership.since else None


class BackupPolicy(Table):
    what: TextIn
    frequency: TextIn
    retention: TextIn
    location: TextIn
    encrypted: MaybeBoolean = None
    restore_tested: MaybeText = None


class SecurityPolicy(Table):
    summary: TextIn
    updates: MaybeText = None
    # URL or e-mail address for reporting vulnerabilities
    contact: Annotated[str | None, Contact()] = Field(
        None, description="A web address or an e-mail address."
    )


class EncryptionPolicy(Table):
    in_transit: MaybeText = None
    at_rest: MaybeText = None


class LogPolicy(Table):
    retention: TextIn
    content: MaybeText = None


class SubProcessor(Table):
    name: Name
    purpose: TextIn
    country: MaybeCountry = None
    website: MaybeWebAddress = None


class NonFreeComponent(Table):
    name: TextIn
    purpose: TextIn
    host: MaybeLine = Field(None, description="Slug of the host it is on (default: all of them).")


class AccessibilityStatement(Table):
    level: Annotated[str, Choice(ACCESSIBILITY_LEVELS, "accessibility conformance level")]
    standard: Name = "RGAA 4.1"
    audit_date: MaybeDay = None
    rate: Annotated[str | None, TextOrNumber()] = Field(
        None, description='Share of criteria met, e.g. "87 %".'
    )
    statement_url: MaybeWebAddress = None


class Policies(Table):
    backups: BackupPolicy | None = None
    security: SecurityPolicy | None = None
    encryption: EncryptionPolicy | None = None
    logs: LogPolicy | None = None
    # None = not stated; an empty tuple = "none" stated explicitly.
    sub_processors: tuple[SubProcessor, ...] | None = None
    nonfree: tuple[NonFreeComponent, ...] | None = None
    accessibility: AccessibilityStatement | None = None


class Price(Table):
    label: TextIn
    amount: TextIn

    @classmethod
    def complete(cls, data: dict[str, Any]) -> dict[str, Any]:
        amount = data.get("amount")
        if isinstance(amount, int | float) and not isinstance(amount, bool):
            return {**data, "amount": str(amount)}  # `amount = 20` reads as "20"
        return data


class Offer(Table):
    summary: TextIn
    # slugs of the services offered; empty = all of them
    services: Annotated[tuple[str, ...], TextList()] = Field(
        (), description="Slugs of the services offered (default: all)."
    )
    free: Annotated[bool, Boolean()] = False
    prices: tuple[Price, ...] = ()
    target_public: MaybeText = None
    how_to_join: MaybeText = None
    join_url: MaybeWebAddress = None
    other_chatons_url: Annotated[str, WebAddress()] = "https://www.chatons.org/"

    @property
    def prices_stated(self) -> bool:
        return self.free or bool(self.prices)


class ReportLink(Table):
    url: Annotated[str, WebAddress()]
    year: Annotated[int | None, Year()] = None
    title: Annotated[LocalizedText, Text(required=False)] = Field(
        None, validate_default=True, description="Default: the year."
    )

    @field_validator("title")
    @classmethod
    def _year_by_default(cls, title: LocalizedText | None, info: ValidationInfo) -> LocalizedText:
        year = info.data.get("year")
        return title or LocalizedText.neutral(str(year) if year else "")


class Reports(Table):
    activity: tuple[ReportLink, ...] = ()
    accounts: tuple[ReportLink, ...] = ()
    contributions: tuple[ReportLink, ...] = ()
    pay_ratio: MaybeText = None
    pay_ratio_url: MaybeWebAddress = None

    @classmethod
    def complete(cls, data: dict[str, Any]) -> dict[str, Any]:
        # A report with neither title nor year is named by its key, so it can be found.
        for key in ("activity", "accounts", "contributions"):
            links = data.get(key)
            if isinstance(links, list):
                data[key] = [
                    {**link, "title": LocalizedText.neutral(f"reports.{key}[{index}].title")}
                    if isinstance(link, dict) and not link.get("title") and not link.get("year")
                    else link
                    for index, link in enumerate(links)
                ]
        return data

    @field_validator("activity", "accounts", "contributions")
    @classmethod
    def _latest_first(cls, links: tuple[ReportLink, ...]) -> tuple[ReportLink, ...]:
        return tuple(sorted(links, key=lambda r: -(r.year or 0)))


class HosterProfile(Table):
    """How a CHATON describes itself once: organisation, hosts, services, policies..."""

    organisation: Organisation
    services: tuple[Service, ...] = ()
    timezone: Annotated[str, TimeZone()] = Field(
        "Europe/Paris", description="Time zone of the dates on the pages (IANA name)."
    )
    language: Annotated[str, Choice(TEXT_LANGUAGES, "language")] = Field(
        FALLBACK_LANGUAGE,
        description="The language of texts written as a plain string (not a table of languages).",
    )
    hosts: tuple[Host, ...] = ()
    policies: Policies = Field(default_factory=Policies)
    offer: Offer | None = None
    reports: Reports | None = None
    # The file as written, keys of other features included, and when it last changed
    # (ChatonsInfos `file.datetime`): set by `loaded_from`, not read from the file.
    _raw: dict[str, Any] = PrivateAttr(default_factory=dict)
    _updated_at: datetime | None = PrivateAttr(default=None)

    @classmethod
    def complete(cls, data: dict[str, Any]) -> dict[str, Any]:
        if "organisation" not in data:
            raise ProfileError("[organisation] is missing: hoster.toml must describe the hoster.")
        hosts, services = data.get("hosts"), data.get("services")
        if isinstance(hosts, list) and len(hosts) == 1 and isinstance(services, list):
            only = hosts[0].get("slug") if isinstance(hosts[0], dict) else None
            if isinstance(only, str):
                data["services"] = [
                    {**s, "host": only.strip()} if isinstance(s, dict) and not s.get("host") else s
                    for s in services
                ]
        return data

    @model_validator(mode="after")
    def _references_hold(self) -> Self:
        """Slugs are unique and every slug refers to something declared in the file."""
        host_slugs = [h.slug for h in self.hosts]
        _no_duplicates("hosts", host_slugs)
        for index, service in enumerate(self.services):
            where = f"services[{index}].host"
            if not service.host and self.hosts:
                raise ProfileError(
                    f"{where} is missing: say which host runs {service.slug!r} "
                    f"({phrase(host_slugs)})."
                )
            if service.host and service.host not in host_slugs:
                declared = (
                    f"declared hosts: {phrase(host_slugs)}" if self.hosts else "no host is declared"
                )
                raise ProfileError(
                    f"{where}: {service.host!r} is not a host of this file ({declared}); "
                    f"add a [[hosts]] section with slug = {service.host!r} or fix the name."
                )
        _no_duplicates("services", list(self.service_slugs))
        for index, component in enumerate(self.policies.nonfree or ()):
            if component.host is not None and component.host not in host_slugs:
                raise ProfileError(
                    f"policies.nonfree[{index}].host: {component.host!r} is not a host of this "
                    "file; use the slug of a [[hosts]] section."
                )
        slugs = list(self.service_slugs)
        for index, slug in enumerate(self.offer.services if self.offer else ()):
            if slug not in slugs:
                raise ProfileError(
                    f"offer.services[{index}]: {slug!r} is not a service of this file; use the "
                    f"slugs of [[services]] ({phrase(slugs) if slugs else 'none declared'})."
                )
        return self

    def loaded_from(self, raw: dict[str, Any], updated_at: datetime | None) -> Self:
        self._raw = raw
        self._updated_at = updated_at
        return self

    @property
    def raw(self) -> dict[str, Any]:
        return self._raw

    @property
    def updated_at(self) -> datetime | None:
        return self._updated_at

    def service(self, slug: str) -> Service | None:
        return next((s for s in self.services if s.slug == slug), None)

    @property
    def service_slugs(self) -> tuple[str, ...]:
        return tuple(s.slug for s in self.services)

    def host(self, slug: str) -> Host | None:
        return next((h for h in self.hosts if h.slug == slug), None)

    def services_on(self, host_slug: str) -> tuple[Service, ...]:
        return tuple(s for s in self.services if s.host == host_slug)


def _no_duplicates(where: str, slugs: list[str]) -> None:
    duplicates = {s for s in slugs if slugs.count(s) > 1}
    if duplicates:
        raise ProfileError(f"{where}: the slug {sorted(duplicates)[0]!r} is used twice.")
