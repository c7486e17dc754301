"""ChatonsInfos `.properties` files: the federation's machine-readable view of the hoster.

The files follow the ChatonsInfos ontology (protocol 0.5): `file.*`, `organization.*`,
`subs.*` in the organisation file, `service.*`, `software.*`, `host.*` in each service
file. Values are written in the Java `.properties` syntax, escaped so that a value always
stays on its own line: a newline (or any other line or paragraph separator) in a
description is written as an escape, so no text can start a new `key = value` line. An
`=` or `:` inside a value is left as it is: after the key's separator both Java's
`Properties.load` and a plain "split at the first =" reader keep it as text, and URLs stay
readable (no backslash in `https://…`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from app.hoster.profile import HosterProfile, LocalizedText, Service, country_name

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


def _file_section(profile: HosterProfile, file_class: str) -> tuple[str, list]:
    stamp = profile.updated_at or datetime.now(ZoneInfo(profile.timezone))
    local = stamp.astimezone(ZoneInfo(profile.timezone)).replace(tzinfo=None)
    return (
        "File",
        [
            ("file.class", file_class),
            ("file.protocol", PROTOCOL),
            ("file.datetime", local.isoformat(timespec="seconds")),
            ("file.generator", GENERATOR),
        ],
    )


def organization_properties(
    profile: HosterProfile,
    *,
    service_urls: dict[str, str],
    legal_url: str | None = None,
    logo_url: str | None = None,
) -> str:
    """`organization.properties`: the hoster, and `subs.<slug>` links to each service file."""
    org = profile.organisation
    membership_since = org.membership_since
    return render(
        [
            _file_section(profile, "organization"),
            (
                "Organization",
                [
                    ("organization.name", org.name),
                    ("organization.description", _text(org.description)),
                    ("organization.website", org.website),
                    ("organization.logo", logo_url),
                    ("organization.legal.url", org.legal_notice_url or legal_url),
                    ("organization.contact.url", org.contact_url),
                    ("organization.contact.email", org.contact_email),
                    ("organization.type", org.chatonsinfos_type),
                    ("organization.status.level", "ACTIVE"),
                    ("organization.startdate", _day(org.start_date)),
                    ("organization.country.name", _country(org.country)),
                    ("organization.country.code", org.country),
                    ("organization.memberof.chatons.startdate", membership_since),
                    ("organization.memberof.chatons.status.level", org.membership_status),
                ],
            ),
            ("Subs", [(f"subs.{slug}", url) for slug, url in service_urls.items()]),
        ]
    )


def service_properties(
    profile: HosterProfile,
    service: Service,
    *,
    legal_url: str | None = None,
    contact_url: str | None = None,
) -> str:
    """`<slug>.properties`: one service, its software and the host it runs on."""
    org = profile.organisation
    software = service.software
    host = profile.host(service.host)
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
            _file_section(profile, "service"),
            (
                "Service",
                [
                    ("service.name", str(service.name)),
                    ("service.description", _text(service.description)),
                    ("service.website", service.url),
                    ("service.legal.url", legal_url or org.legal_notice_url),
                    ("service.guide.user", service.guide_url),
                    ("service.contact.url", contact_url or org.contact_url),
                    ("service.contact.email", org.contact_email),
                    ("service.startdate", _day(service.start_date)),
                    ("service.status.level", STATUS_LEVELS[service.status]),
                    ("service.registration", service.registration),
                    ("service.install.type", service.install_type),
                ],
            ),
            (
                "Software",
                [
                    ("software.name", software.name),
                    ("software.website", software.website),
                    ("software.license.url", software.licence_url),
                    ("software.license.name", software.licence),
                    ("software.version", software.version),
                    ("software.source.url", software.source_url),
                ],
            ),
            ("Host", host_pairs),
        ]
    )


def _text(value: LocalizedText | None) -> str | None:
    """The hoster's text in the reader's language (Accept-Language), else French."""
    return str(value) if value else None


def _day(value: object) -> str | None:
    return value.isoformat() if value is not None else None  # type: ignore[attr-defined]


def _country(code: str | None) -> str | None:
    # The federation's files are read by French-speaking volunteers first.
    return country_name(code, "fr") if code else None
