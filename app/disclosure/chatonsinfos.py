"""ChatonsInfos `.properties` files: the federation's machine-readable view of the hoster.

The files follow the ChatonsInfos ontology (protocol 0.5) as StatoolInfos reads it: `file.*`
(complete, `file.url` included) in every file, `organization.*` and `subs.*` in the
organisation file, `service.*`, `software.*`, `host.*` in each service file; each file links
its metrics file (metrics.py) with `subs.metrics`. Values are written in the Java
`.properties` syntax, escaped so that a value always stays on its own line: a newline (or
any other line or paragraph separator) in a description is written as an escape, so no text
can start a new `key = value` line. An `=` or `:` inside a value is left as it is: after the
key's separator both Java's `Properties.load` and a plain "split at the first =" reader keep
it as text, and URLs stay readable (no backslash in `https://…`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from datetime import date, datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from app.dates import iso_or_none
from app.profile.model import HosterProfile, Service
from app.profile.texts import LocalizedText, country_name

PROTOCOL = "ChatonsInfos-0.5"
GENERATOR = "chatons-panel"
STATUS_LEVELS = {
    "ok": "OK",
    "warning": "WARNING",
    "alert": "ALERT",
    "error": "ERROR",
    "over": "OVER",
    "void": "VOID",
}
_SIMPLE_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\f": "\\f"}


def _unicode_escape(char: str) -> str:
    return "".join(f"\\u{unit:04x}" for unit in _utf16_units(char))


def _utf16_units(char: str) -> list[int]:
    data = char.encode("utf-16-be")
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


def _escape(text: str, *, key: bool) -> str:
    out = []
    for index, char in enumerate(text):
        if char in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[char])
        elif key and char in "=:#!":
            out.append("\\" + char)
        elif char == " " and (key or index == 0):
            out.append("\\ ")
        elif unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp", "Cs"):
            # Any other control or line/paragraph separator: some readers split lines on them.
            out.append(_unicode_escape(char))
        else:
            out.append(char)
    return "".join(out)


def escape_value(value: str) -> str:
    """A value that reads back as exactly `value` and always stays on one line."""
    return _escape(value, key=False)


def escape_key(key: str) -> str:
    return _escape(key, key=True)


def render(sections: Iterable[tuple[str, list[tuple[str, str | None]]]]) -> str:
    """`# [Section]` blocks of `key = value` lines; keys without a value are left out."""
    lines: list[str] = []
    for title, pairs in sections:
        rows = [(k, v) for k, v in pairs if v not in (None, "")]
        if not rows:
            continue
        if lines:
            lines.append("")
        lines.append(f"# [{title}]")
        lines.extend(f"{escape_key(k)} = {escape_value(str(v))}" for k, v in rows)
    return "\n".join(lines) + "\n"


def file_section(
    profile: HosterProfile, file_class: str, file_url: str, now: datetime | None = None
) -> tuple[str, list]:
    """`file.*`, complete in every file: the date-time carries its offset (GENERAL.md)."""
    zone = ZoneInfo(profile.timezone)
    stamp = now or profile.updated_at or datetime.now(zone)
    return (
        "File",
        [
            ("file.class", file_class),
            ("file.protocol", PROTOCOL),
            ("file.datetime", stamp.astimezone(zone).isoformat(timespec="seconds")),
            ("file.generator", GENERATOR),
            ("file.url", file_url),
        ],
    )


def site_url(url: str | None) -> str | None:
    """A web address as the ontology writes it: a bare site gets its trailing slash."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.path == "" and not parts.query and not parts.fragment:
        return url + "/"
    return url


def organisation_status(profile: HosterProfile, today: date) -> tuple[str, str | None]:
    """ACTIVE, IDLE or AWAY, and why: a closing date that has passed makes it AWAY."""
    org = profile.organisation
    description = _text(org.status_description)
    if org.closing is not None:
        description = description or _text(org.closing.message)
        if today >= org.closing.date:
            return "AWAY", description
    if org.end_date is not None and today >= org.end_date:
        return "AWAY", description
    return org.status, description


def organization_properties(
    profile: HosterProfile,
    *,
    file_url: str,
    service_urls: dict[str, str],
    metrics_url: str | None = None,
    legal_url: str | None = None,
    logo_url: str | None = None,
    today: date | None = None,
    now: datetime | None = None,
) -> str:
    """`organization.properties`: the hoster, and `subs.<slug>` links to each service file."""
    org = profile.organisation
    today = today or datetime.now(ZoneInfo(profile.timezone)).date()
    level, description = organisation_status(profile, today)
    end = org.end_date or (org.closing.date if org.closing else None)
    membership_since = org.membership_since
    geo = org.geolocation
    pairs: list[tuple[str, str | None]] = [
        ("organization.name", org.name),
        ("organization.description", _text(org.description)),
        ("organization.website", site_url(org.website)),
        ("organization.logo", logo_url),
        ("organization.legal.url", site_url(org.legal_notice_url or legal_url)),
        ("organization.guide.user", site_url(org.guide_user_url)),
        ("organization.guide.technical", site_url(org.guide_technical_url)),
        ("organization.contact.url", site_url(org.contact_url)),
        ("organization.contact.email", org.contact_email),
        ("organization.type", org.chatonsinfos_type),
        ("organization.status.level", level),
        ("organization.status.description", description),
        ("organization.startdate", iso_or_none(org.start_date)),
        ("organization.enddate", iso_or_none(end)),
        ("organization.country.name", _country(org.country)),
        ("organization.country.code", org.country),
        ("organization.memberof.chatons.startdate", membership_since),
        ("organization.memberof.chatons.status.level", org.membership_status),
    ]
    if geo is not None:
        pairs += [
            ("organization.geolocation.latitude", _degrees(geo.latitude)),
            ("organization.geolocation.longitude", _degrees(geo.longitude)),
            ("organization.geolocation.address", geo.address),
        ]
    for group, links in (
        ("socialnetworks", org.social_networks),
        ("chatrooms", org.chat_rooms),
        ("funding", org.funding),
    ):
        pairs += [(f"organization.{group}.{name}", url) for name, url in (links or {}).items()]
    subs: list[tuple[str, str | None]] = [
        (f"subs.{slug}", url) for slug, url in service_urls.items()
    ]
    if metrics_url:
        subs.append(("subs.metrics", metrics_url))
    return render(
        [
            file_section(profile, "organization", file_url, now),
            ("Organization", pairs),
            ("Subs", subs),
        ]
    )


# The journal's level of a service → the ontology's status level.
JOURNAL_LEVELS = {
    "operational": "OK",
    "maintenance": "WARNING",
    "degraded": "WARNING",
    "partial_outage": "ALERT",
    "major_outage": "ERROR",
}
_LEVEL_RANK = ("OK", "WARNING", "ALERT", "ERROR")


def service_status(
    service: Service, journal_level: str | None, today: date
) -> tuple[str, str | None]:
    """The service's level: closed (OVER) after its end, else the worse of hoster.toml's
    stated status and what the incident journal says right now."""
    end = service.end_date or (service.closing.date if service.closing else None)
    closing_text = _text(service.closing.message) if service.closing else None
    if end is not None and today >= end:
        return "OVER", closing_text
    stated = STATUS_LEVELS[service.status]
    if stated in ("OVER", "VOID"):
        return stated, closing_text
    derived = JOURNAL_LEVELS.get(journal_level or "operational", "OK")
    level = max(stated, derived, key=_LEVEL_RANK.index)
    return level, closing_text


def service_properties(
    profile: HosterProfile,
    service: Service,
    *,
    file_url: str,
    metrics_url: str | None = None,
    journal_level: str | None = None,
    legal_url: str | None = None,
    contact_url: str | None = None,
    today: date | None = None,
    now: datetime | None = None,
) -> str:
    """`<slug>.properties`: one service, its software and the host it runs on."""
    org = profile.organisation
    software = service.software
    host = profile.host(service.host)
    today = today or datetime.now(ZoneInfo(profile.timezone)).date()
    level, description = service_status(service, journal_level, today)
    end = service.end_date or (service.closing.date if service.closing else None)
    # A service that announced its closing takes no new accounts.
    load = "FULL" if service.closing is not None or level == "OVER" else service.registration_load
    host_pairs: list[tuple[str, str | None]] = []
    if host is not None:
        host_pairs = [
            ("host.name", host.provider_name),
            ("host.description", _text(host.description)),
            ("host.server.distribution", host.distribution),
            ("host.server.type", host.server_type),
            ("host.provider.type", host.provider_type),
            ("host.provider.hypervisor", host.hypervisor),
            ("host.country.name", _country(host.country)),
            ("host.country.code", host.country),
        ]
    return render(
        [
            file_section(profile, "service", file_url, now),
            (
                "Service",
                [
                    ("service.name", str(service.name)),
                    ("service.description", _text(service.description)),
                    ("service.website", site_url(service.url)),
                    ("service.legal.url", site_url(legal_url or org.legal_notice_url)),
                    ("service.guide.user", site_url(service.guide_url)),
                    ("service.guide.technical", site_url(service.guide_technical_url)),
                    ("service.contact.url", site_url(contact_url or org.contact_url)),
                    ("service.contact.email", org.contact_email),
                    ("service.startdate", iso_or_none(service.start_date)),
                    ("service.enddate", iso_or_none(end)),
                    ("service.status.level", level),
                    ("service.status.description", description),
                    ("service.registration", service.registration),
                    ("service.registration.load", load),
                    ("service.install.type", service.install_type),
                ],
            ),
            (
                "Software",
                [
                    ("software.name", software.name),
                    ("software.website", site_url(software.website)),
                    ("software.license.url", software.licence_url),
                    ("software.license.name", software.licence),
                    ("software.version", software.version),
                    ("software.source.url", site_url(software.source_url)),
                ],
            ),
            ("Host", host_pairs),
            ("Subs", [("subs.metrics", metrics_url)]),
        ]
    )


def _degrees(value: float | None) -> str | None:
    return None if value is None else f"{value:.6f}".rstrip("0").rstrip(".")


def _text(value: LocalizedText | None) -> str | None:
    """The hoster's text in the reader's language (Accept-Language), else French."""
    return str(value) if value else None


def _country(code: str | None) -> str | None:
    # The federation's files are read by French-speaking volunteers first.
    return country_name(code, "fr") if code else None
