"""A ChatonsInfos checker: what StatoolInfos would say about a set of `.properties` files.

`check_properties` checks one file against the ontology (mandatory and recommended keys,
the type of each value, series lengths, unknown paths); `crawl` follows a federation or
organisation file to its members, their services and their metrics files through their
`subs.*` links, as the crawler does. Fetching is the caller's (see federation.fetch_text),
so the same checker reads the panel's own files without a network round trip.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from flask_babel import lazy_gettext as _l

from app.disclosure.metrics import weeks_in_year
from app.email_address import is_email_address
from app.profile.model import (
    INSTALL_TYPES,
    MEMBERSHIP_STATUSES,
    ORGANISATION_TYPES,
    PROVIDER_TYPES,
    REGISTRATION_LOADS,
    REGISTRATIONS,
    SERVER_TYPES,
    SERVICE_STATUSES,
)

ERROR, WARNING = "error", "warning"
MANDATORY, RECOMMENDED, OPTIONAL = "mandatory", "recommended", "optional"
CLASSES = ("federation", "organization", "service", "metrics")

# The ontology's closed lists: the values hoster.toml is checked against (app/profile/model.py).
_ENUMS: dict[str, tuple[str, ...]] = {
    "ORGANIZATION_TYPE": tuple(ORGANISATION_TYPES.values()),
    "ACTIVITY": MEMBERSHIP_STATUSES,
    "STATUS": tuple(status.upper() for status in SERVICE_STATUSES),
    "LOAD": REGISTRATION_LOADS,
    "INSTALL_TYPE": INSTALL_TYPES,
    "SERVER_TYPE": SERVER_TYPES,
    "PROVIDER_TYPE": PROVIDER_TYPES,
    "CLASS": CLASSES,
}
_REGISTRATIONS = {registration.lower() for registration in REGISTRATIONS}

# Types of GENERAL.md, with the words a person reads when a value does not match.
TYPE_WORDS = {
    "STRING": _l("a text"),
    "URL": _l("a web address (https://…)"),
    "EMAIL": _l("an e-mail address"),
    "DATE": _l("a date (2024-05-31 or 31/05/2024)"),
    "DATETIME": _l("a date and time (2024-05-31T14:30:00+02:00)"),
    "COUNTRY_CODE": _l("a two-letter country code (FR)"),
    "DECIMAL_DEGREE": _l("a number of degrees (45.75)"),
    "REGISTRATION": _l("a list of None, Free, Member, Client separated by ;"),
    "LIST": _l("a list separated by ;"),
    **{kind: ", ".join(values) for kind, values in _ENUMS.items()},
}

FILE_KEYS = {
    "file.class": (MANDATORY, "CLASS"),
    "file.protocol": (MANDATORY, "STRING"),
    "file.datetime": (MANDATORY, "DATETIME"),
    "file.generator": (RECOMMENDED, "STRING"),
    "file.url": (MANDATORY, "URL"),
}
_ORG = {
    "name": (MANDATORY, "STRING"),
    "description": (RECOMMENDED, "STRING"),
    "type": (RECOMMENDED, "ORGANIZATION_TYPE"),
    "website": (RECOMMENDED, "URL"),
    "logo": (RECOMMENDED, "URL"),
    "legal.url": (RECOMMENDED, "URL"),
    "guide.user": (OPTIONAL, "URL"),
    "guide.technical": (OPTIONAL, "URL"),
    "contact.url": (RECOMMENDED, "URL"),
    "contact.email": (RECOMMENDED, "EMAIL"),
    "status.level": (MANDATORY, "ACTIVITY"),
    "status.description": (OPTIONAL, "STRING"),
    "startdate": (RECOMMENDED, "DATE"),
    "enddate": (OPTIONAL, "DATE"),
    "country.name": (RECOMMENDED, "STRING"),
    "country.code": (RECOMMENDED, "COUNTRY_CODE"),
    "memberof.chatons.startdate": (RECOMMENDED, "DATE"),
    "memberof.chatons.enddate": (OPTIONAL, "DATE"),
    "memberof.chatons.status.level": (RECOMMENDED, "ACTIVITY"),
    "memberof.chatons.status.description": (OPTIONAL, "STRING"),
    "geolocation.latitude": (OPTIONAL, "DECIMAL_DEGREE"),
    "geolocation.longitude": (OPTIONAL, "DECIMAL_DEGREE"),
    "geolocation.address": (OPTIONAL, "STRING"),
    "owner.name": (OPTIONAL, "STRING"),
    "owner.website": (OPTIONAL, "URL"),
    "owner.logo": (OPTIONAL, "URL"),
}
_FEDERATION = {
    "name": (MANDATORY, "STRING"),
    "description": (RECOMMENDED, "STRING"),
    "website": (RECOMMENDED, "URL"),
    "logo": (RECOMMENDED, "URL"),
    "favicon": (OPTIONAL, "URL"),
    "legal.url": (OPTIONAL, "URL"),
    "guide.user": (OPTIONAL, "URL"),
    "guide.technical": (OPTIONAL, "URL"),
    "contact.url": (RECOMMENDED, "URL"),
    "contact.email": (RECOMMENDED, "EMAIL"),
    "startdate": (RECOMMENDED, "DATE"),
    "enddate": (OPTIONAL, "DATE"),
}
SERVICE_KEYS = {
    "service.name": (MANDATORY, "STRING"),
    "service.description": (RECOMMENDED, "STRING"),
    "service.website": (RECOMMENDED, "URL"),
    "service.logo": (OPTIONAL, "URL"),
    "service.legal.url": (RECOMMENDED, "URL"),
    "service.guide.user": (RECOMMENDED, "URL"),
    "service.guide.technical": (OPTIONAL, "URL"),
    "service.contact.url": (RECOMMENDED, "URL"),
    "service.contact.email": (RECOMMENDED, "EMAIL"),
    "service.startdate": (MANDATORY, "DATE"),
    "service.enddate": (OPTIONAL, "DATE"),
    "service.status.level": (MANDATORY, "STATUS"),
    "service.status.description": (OPTIONAL, "STRING"),
    "service.registration": (MANDATORY, "REGISTRATION"),
    "service.registration.load": (MANDATORY, "LOAD"),
    "service.install.type": (MANDATORY, "INSTALL_TYPE"),
    "software.name": (MANDATORY, "STRING"),
    "software.website": (RECOMMENDED, "URL"),
    "software.license.url": (RECOMMENDED, "URL"),
    "software.license.name": (MANDATORY, "STRING"),
    "software.version": (RECOMMENDED, "STRING"),
    "software.source.url": (RECOMMENDED, "URL"),
    "software.modules": (OPTIONAL, "LIST"),
    "host.name": (MANDATORY, "STRING"),
    "host.description": (OPTIONAL, "STRING"),
    "host.server.distribution": (RECOMMENDED, "STRING"),
    "host.server.type": (MANDATORY, "SERVER_TYPE"),
    "host.provider.type": (MANDATORY, "PROVIDER_TYPE"),
    "host.provider.hypervisor": (OPTIONAL, "STRING"),
    "host.country.name": (RECOMMENDED, "STRING"),
    "host.country.code": (RECOMMENDED, "COUNTRY_CODE"),
}
SPECS: dict[str, dict[str, tuple[str, str]]] = {
    "federation": {f"federation.{k}": v for k, v in _FEDERATION.items()},
    "organization": {f"organization.{k}": v for k, v in _ORG.items()},
    "service": SERVICE_KEYS,
    "metrics": {},
}
# Open families of keys: any name after the prefix, one type.
FAMILIES = {
    "federation": (("federation.socialnetworks.", "URL"),),
    "organization": (
        ("organization.socialnetworks.", "URL"),
        ("organization.chatrooms.", "URL"),
        ("organization.funding.", "URL"),
    ),
    "service": (),
    "metrics": (),
}
SUB_NAME = re.compile(r"^subs\.[A-Za-z0-9_.-]+$")
METRIC_TEXT = re.compile(r"^metrics\.[a-z0-9_.-]+\.(name|description)$")
METRIC_SERIES = re.compile(r"^metrics\.[a-z0-9_.-]+\.(\d{4})\.(months|weeks|days)$")
URL = re.compile(r"^https?://[^\s/]+(/[^\s]*)?$")
DEGREES = re.compile(r"^-?\d{1,3}([.,]\d+)?$")
NUMBER = re.compile(r"^-?\d+([.,]\d+)?$")


@dataclass(frozen=True)
class Finding:
    severity: str  # ERROR or WARNING
    key: str
    message: str


@dataclass
class FileReport:
    url: str
    file_class: str | None = None
    name: str | None = None
    findings: list[Finding] = field(default_factory=list)
    unreachable: str | None = None  # why it could not be read

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == ERROR) + (1 if self.unreachable else 0)

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity == WARNING)


# Reading ------------------------------------------------------------------------------------

_WHITESPACE = " \t\f"


def parse_properties(text: str) -> dict[str, str]:
    """Read a .properties file the way java.util.Properties.load does (StatoolInfos' reader)."""
    logical: list[str] = []
    current: str | None = None
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = raw.lstrip(_WHITESPACE)
        if current is None and (not line or line[0] in "#!"):
            continue
        continued = (len(line) - len(line.rstrip("\\"))) % 2 == 1
        piece = line[:-1] if continued else line
        current = piece if current is None else current + piece
        if not continued:
            logical.append(current)
            current = None
    if current is not None:
        logical.append(current)
    result: dict[str, str] = {}
    for line in logical:
        index, key = 0, []
        while index < len(line):
            char = line[index]
            if char == "\\":
                key.append(line[index : index + 2])
                index += 2
                continue
            if char in "=:" or char in _WHITESPACE:
                break
            key.append(char)
            index += 1
        while index < len(line) and line[index] in _WHITESPACE:
            index += 1
        if index < len(line) and line[index] in "=:":
            index += 1
        while index < len(line) and line[index] in _WHITESPACE:
            index += 1
        result[_unescape("".join(key))] = _unescape(line[index:])
    return result


def _unescape(text: str) -> str:
    out, index = [], 0
    while index < len(text):
        char = text[index]
        if char != "\\" or index + 1 >= len(text):
            out.append(char)
            index += 1
            continue
        nxt = text[index + 1]
        if nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", text[index + 2 : index + 6]):
            out.append(chr(int(text[index + 2 : index + 6], 16)))
            index += 6
            continue
        out.append({"t": "\t", "n": "\n", "r": "\r", "f": "\f"}.get(nxt, nxt))
        index += 2
    return "".join(out).encode("utf-16", "surrogatepass").decode("utf-16", "replace")


# Checking -----------------------------------------------------------------------------------


def _valid(kind: str, value: str) -> bool:
    value = value.strip()
    if kind == "STRING":
        return True
    if kind == "URL":
        return bool(URL.match(value))
    if kind == "EMAIL":
        return is_email_address(value)
    if kind == "DATE":
        for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
            try:
                datetime.strptime(value, pattern)
                return True
            except ValueError:
                continue
        return False
    if kind == "DATETIME":
        try:
            datetime.fromisoformat(value)
            return True
        except ValueError:
            return False
    if kind == "COUNTRY_CODE":
        return bool(re.fullmatch(r"[A-Za-z]{2}", value))
    if kind == "DECIMAL_DEGREE":
        return bool(DEGREES.match(value)) and abs(float(value.replace(",", "."))) <= 180
    if kind == "REGISTRATION":
        items = [i.strip().casefold() for i in value.split(";") if i.strip()]
        return bool(items) and all(i in _REGISTRATIONS for i in items)
    if kind == "LIST":
        return True
    if kind == "CLASS":
        return value.lower() in _ENUMS[kind]
    return value.upper() in _ENUMS[kind]


def _series_length(year: int, unit: str) -> int:
    if unit == "months":
        return 12
    if unit == "weeks":
        return weeks_in_year(year)
    return (date(year + 1, 1, 1) - date(year, 1, 1)).days


def _check_series(key: str, value: str, year: int, unit: str) -> Finding | None:
    values = value.split(",")
    expected = _series_length(year, unit)
    if len(values) > expected:
        return Finding(
            ERROR,
            key,
            str(
                _l(
                    "%(count)d values where a %(unit)s series of %(year)d has %(expected)d.",
                    count=len(values),
                    unit=unit.upper(),
                    year=year,
                    expected=expected,
                )
            ),
        )
    bad = next((v for v in values if v.strip() and not NUMBER.match(v.strip())), None)
    if bad is not None:
        return Finding(
            ERROR,
            key,
            str(_l("%(value)r is not a number; expected numbers separated by commas.", value=bad)),
        )
    if len(values) < expected:
        return Finding(
            WARNING,
            key,
            str(
                _l(
                    "%(count)d values; a full %(unit)s series of %(year)d has %(expected)d.",
                    count=len(values),
                    unit=unit.upper(),
                    year=year,
                    expected=expected,
                )
            ),
        )
    return None


def check_properties(props: dict[str, str], expected_class: str | None = None) -> list[Finding]:
    """Every finding about one file: missing keys, malformed values, unknown paths."""
    findings: list[Finding] = []
    file_class = props.get("file.class", "").strip().lower()
    if expected_class and file_class and file_class != expected_class:
        findings.append(
            Finding(
                ERROR,
                "file.class",
                str(
                    _l(
                        "This file says it is %(found)r where a %(expected)r file was linked.",
                        found=file_class,
                        expected=expected_class,
                    )
                ),
            )
        )
    spec = {**FILE_KEYS, **SPECS.get(file_class, {})}
    for key, (level, _kind) in spec.items():
        if props.get(key, "").strip():
            continue
        if level == MANDATORY:
            findings.append(Finding(ERROR, key, str(_l("Mandatory key missing."))))
        elif level == RECOMMENDED:
            findings.append(Finding(WARNING, key, str(_l("Recommended key missing."))))
    for key, value in props.items():
        if not value.strip() and key not in spec:
            continue
        if key in spec:
            kind = spec[key][1]
            if value.strip() and not _valid(kind, value):
                findings.append(
                    Finding(
                        ERROR,
                        key,
                        str(
                            _l(
                                "%(value)r is malformed; expected %(type)s.",
                                value=value,
                                type=TYPE_WORDS[kind],
                            )
                        ),
                    )
                )
            continue
        family = next((k for p, k in FAMILIES.get(file_class, ()) if key.startswith(p)), None)
        if family is not None:
            if not _valid(family, value):
                findings.append(
                    Finding(
                        ERROR,
                        key,
                        str(
                            _l(
                                "%(value)r is malformed; expected %(type)s.",
                                value=value,
                                type=TYPE_WORDS[family],
                            )
                        ),
                    )
                )
            continue
        if SUB_NAME.match(key):
            if not _valid("URL", value):
                findings.append(
                    Finding(
                        ERROR,
                        key,
                        str(
                            _l(
                                "%(value)r is malformed; expected %(type)s.",
                                value=value,
                                type=TYPE_WORDS["URL"],
                            )
                        ),
                    )
                )
            continue
        if METRIC_TEXT.match(key):
            continue
        if match := METRIC_SERIES.match(key):
            found = _check_series(key, value, int(match[1]), match[2])
            if found is not None:
                findings.append(found)
            continue
        findings.append(Finding(WARNING, key, str(_l("Unknown path: not in the ontology."))))
    return findings


# Crawling -----------------------------------------------------------------------------------

Fetch = Callable[[str], str]


class FetchError(Exception):
    """A file could not be read: the message says why, for the report."""


def _subs(props: dict[str, str]) -> list[tuple[str, str]]:
    return [(k, v.strip()) for k, v in props.items() if SUB_NAME.match(k) and v.strip()]


def crawl(url: str, fetch: Fetch, *, max_files: int = 500) -> list[FileReport]:
    """Check the file at `url` and everything it links with `subs.*`, depth first.

    A federation's subs are organisations, an organisation's are services (and its metrics
    file), a service's are its metrics; a file that cannot be read is reported, not fatal.
    """
    reports: list[FileReport] = []
    seen: set[str] = set()
    children = {"federation": "organization", "organization": "service", "service": "metrics"}

    def visit(address: str, expected: str | None) -> None:
        if address in seen or len(reports) >= max_files:
            return
        seen.add(address)
        report = FileReport(url=address)
        reports.append(report)
        try:
            props = parse_properties(fetch(address))
        except FetchError as exc:
            report.unreachable = str(exc)
            return
        report.file_class = props.get("file.class", "").strip().lower() or None
        kind = expected
        # Metrics files are linked from any file as `subs.metrics`: their class says so.
        if expected != (report.file_class or expected) and report.file_class == "metrics":
            kind = "metrics"
        report.name = next(
            (
                props[k]
                for k in ("federation.name", "organization.name", "service.name")
                if props.get(k)
            ),
            None,
        )
        report.findings = check_properties(props, kind)
        child = children.get(report.file_class or "")
        for key, link in _subs(props):
            visit(link, "metrics" if key == "subs.metrics" else child)

    visit(url, None)
    return reports


def count(reports: list[FileReport]) -> tuple[int, int]:
    """(errors, warnings) over all the files."""
    return sum(r.errors for r in reports), sum(r.warnings for r in reports)
