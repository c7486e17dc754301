"""Export services: what is held (inventory), plan an archive, manifest, README, file name."""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol, runtime_checkable
from urllib.parse import quote
from zoneinfo import ZoneInfo

from flask import render_template
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from app import audit
from app.accounts.models import Account
from app.connectors.base import (
    ArchiveEntry,
    Connector,
    ConnectorError,
    DataItem,
    ServiceUnreachable,
    Skipped,
    StepResult,
)
from app.connectors.formats import file_format
from app.directory import Person
from app.export.archive import ExportArchive
from app.export.plan import (
    Part,
    PlannedFile,
    Problem,
    Report,
    failure_reason,
    planned_file,
)
from app.profile.model import HosterProfile

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
ERRORS = "ERRORS.txt"
MANIFEST_VERSION = 1


def person_of(account: Account) -> Person:
    """The person as the panel mirrors it; connectors need nothing more."""
    return Person(
        uid=account.uid,
        dn=account.dn,
        display_name=account.display_name,
        email=account.email,
        language=account.preferred_language,
    )


def connector_name(connector: Connector, profile: HosterProfile) -> str:
    service = profile.service(connector.slug)
    if service is not None:
        return str(service.name)
    return str(getattr(connector, "name", connector.slug))


# Inventory (/account/data) ----------------------------------------------------------------


@dataclass
class HeldData:
    """What one service holds about a person, for /account/data."""

    slug: str
    name: str
    items: list[DataItem] = field(default_factory=list)
    error: str | None = None
    unreachable: bool = False  # the service did not answer (down, timed out)


def inventory(
    connectors: list[Connector], profile: HosterProfile, person: Person
) -> list[HeldData]:
    """Every connector's inventory, then the services without a connector."""
    held: list[HeldData] = []
    for connector in connectors:
        entry = HeldData(connector.slug, connector_name(connector, profile))
        try:
            entry.items = list(connector.inventory(person))
        except Exception as exc:
            log.warning("inventory of %s failed: %s", connector.slug, exc)
            entry.error = failure_reason(exc)
            entry.unreachable = isinstance(exc, ServiceUnreachable)
        held.append(entry)
    covered = {c.slug for c in connectors}
    for service in profile.services:
        if service.slug in covered:
            continue
        held.append(
            HeldData(
                service.slug,
                str(service.name),
                [
                    DataItem(
                        service=service.slug,
                        kind=_("Your data in %(service)s", service=service.name),
                        location=str(service.data_location or _("Not stated by the hoster")),
                        retention=str(service.retention or _("Not stated by the hoster")),
                        exported=False,
                    )
                ],
            )
        )
    return held


# Planning ---------------------------------------------------------------------------------


@runtime_checkable
class AsksPassword(Protocol):
    asks_password: bool

    def export_with_password(
        self, person: Person, password: str
    ) -> Iterator[ArchiveEntry | Skipped]: ...


class WithPersonPassword:
    """A connector that exports signed in as the person, with the password they typed in
    the export form for this one download (`asks_password` connectors, e.g. `dav`).

    The password lives only in this object, for the length of the request: it is never
    stored, logged, audited or written to the archive.
    """

    def __init__(self, connector: Connector, password: str) -> None:
        self.connector = connector
        self.slug = connector.slug
        self.name = getattr(connector, "name", connector.slug)
        self.plannable = getattr(connector, "plannable", False)
        self._password = password

    def __repr__(self) -> str:
        return f"WithPersonPassword({self.slug})"

    def inventory(self, person: Person) -> list[DataItem]:
        return self.connector.inventory(person)

    def export(self, person: Person) -> Iterator[ArchiveEntry | Skipped]:
        assert isinstance(self.connector, AsksPassword)
        return self.connector.export_with_password(person, self._password)

    def delete(self, person: Person) -> StepResult:
        return self.connector.delete(person)


def asking_password(connectors: Iterable[Connector]) -> list[Connector]:
    """The connectors whose export needs the person's own password."""
    return [c for c in connectors if isinstance(c, AsksPassword) and c.asks_password]


def with_person_passwords(
    connectors: list[Connector], passwords: Mapping[str, str]
) -> list[Connector]:
    """The connectors of one download, those asking a password given the one typed."""
    asking = {id(c) for c in asking_password(connectors)}
    return [
        WithPersonPassword(c, passwords.get(c.slug, "")) if id(c) in asking else c
        for c in connectors
    ]


def part_folder(connector: Connector, profile: HosterProfile) -> str:
    """Services write under services/<slug>/, the panel and the directory at the top."""
    if profile.service(connector.slug) is not None:
        return f"services/{connector.slug}/"
    return f"{connector.slug}/"


def plan_parts(connectors: list[Connector], profile: HosterProfile, person: Person) -> list[Part]:
    """Ask every connector for its files; those that can list them cheaply do it now."""
    parts: list[Part] = []
    for connector in connectors:
        part = Part(
            service=connector.slug,
            name=connector_name(connector, profile),
            folder=part_folder(connector, profile),
        )
        parts.append(part)
        try:
            items = connector.export(person)
        except Exception as exc:
            if not isinstance(exc, ConnectorError):
                log.exception("connector %s failed to start its export", connector.slug)
            part.error = failure_reason(exc)
            continue
        if not getattr(connector, "plannable", False):
            part.stream = iter(items)
            continue
        part.planned = []
        try:
            for item in items:
                if isinstance(item, Skipped):
                    part.problems.append(Problem(item.path, item.reason))
                else:
                    part.planned.append(planned_file(item, connector.slug))
        except Exception as exc:
            if not isinstance(exc, ConnectorError):
                log.exception("connector %s failed while listing", connector.slug)
            part.error = failure_reason(exc)
    return parts


def archive_name(hoster: str, uid: str, day: date) -> str:
    """`<hoster>-<uid>-<date>.zip`, the hoster's name as a plain lower-case slug."""
    ascii_name = unicodedata.normalize("NFKD", hoster).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-") or "export"
    return f"{slug}-{uid}-{day.isoformat()}.zip"


def content_disposition(filename: str) -> str:
    """RFC 6266: an ASCII fallback and the exact UTF-8 name (RFC 8187 encoding)."""
    fallback = "".join(c if 32 < ord(c) < 127 and c not in '"\\%;' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def record_export(session: Session, account: Account, connectors: list[Connector]) -> None:
    """Audit the download (counted on the statistics page); the caller commits."""
    audit.record(
        session,
        "export.downloaded",
        account_id=account.id,
        actor_id=account.id,
        services=[c.slug for c in connectors],
    )


@dataclass
class ExportContext:
    """Who, when and for which hoster, shared by the README, manifest and ERRORS.txt."""

    hoster: str
    account: Account
    created_at: datetime
    timezone: ZoneInfo
    profile: HosterProfile


def build_archive(
    context: ExportContext, parts: list[Part], *, announce_length: bool
) -> ExportArchive:
    folders = _folders(context, parts)
    head = [
        _readme(context, folders, "README.html", "export/readme.html"),
        _readme(context, folders, "README.txt", "export/readme.txt"),
    ]

    def trailer(report: Report, room: dict[str, int] | None) -> list[tuple[str, bytes]]:
        return render_trailer(context, report, room)

    return ExportArchive(
        head=head,
        parts=parts,
        render_trailer=trailer,
        timezone=context.timezone,
        announce_length=announce_length,
        now=context.created_at,
    )


# README -----------------------------------------------------------------------------------


@dataclass
class FolderGuide:
    """One folder of the archive as the README explains it."""

    path: str
    name: str
    files: list[PlannedFile]
    formats: list[tuple[Any, int]]  # (format, number of files) for service folders
    listed: bool  # every file is described one by one
    known_now: bool  # the files were listed before the download started
    failed: str | None


def _folders(context: ExportContext, parts: list[Part]) -> list[FolderGuide]:
    folders = []
    for part in parts:
        files = part.planned or []
        service = context.profile.service(part.service)
        counts = Counter(file_format(f.path) for f in files)
        folders.append(
            FolderGuide(
                path=f"services/{part.service}/" if service else f"{part.service}/",
                name=part.name,
                files=files,
                formats=sorted(counts.items(), key=lambda kv: (-kv[1], kv[0].name)),
                listed=service is None,
                known_now=part.planned is not None,
                failed=part.error if part.planned is not None or part.stream is None else None,
            )
        )
    return folders


def _readme(
    context: ExportContext, folders: list[FolderGuide], path: str, template: str
) -> PlannedFile:
    formats = {file_format(f.path) for folder in folders for f in folder.files}
    formats |= {file_format(p) for p in ("x.json", "x.txt", "x.html")}
    text = render_template(
        template,
        context=context,
        folders=folders,
        formats=sorted(formats, key=lambda f: f.name),
        file_format=file_format,
        manifest=MANIFEST,
        errors=ERRORS,
    )
    data = text.encode("utf-8")
    return PlannedFile(
        path=path,
        chunks=[data],
        size=len(data),
        mtime=context.created_at,
        format="HTML" if path.endswith(".html") else "Plain text",
        service="export",
        compress=True,
        data=data,
    )


# Trailer: ERRORS.txt and manifest.json ------------------------------------------------------


def render_trailer(
    context: ExportContext, report: Report, room: dict[str, int] | None
) -> list[tuple[str, bytes]]:
    """ERRORS.txt (only if something failed) and manifest.json, each within its room."""
    out: list[tuple[str, bytes]] = []
    if any(p.status != "ok" for p in report.parts):
        budget = room.get(ERRORS) if room else None
        out.append((ERRORS, _fit(lambda limit: _errors_text(context, report, limit), budget)))
    budget = room.get(MANIFEST) if room else None
    out.append((MANIFEST, _fit(lambda limit: _manifest(context, report, limit), budget)))
    return out


def _fit(render: Any, budget: int | None) -> bytes:
    """Render with every problem listed, or with fewer until it fits its room."""
    content: bytes = render(None)
    if budget is None or len(content) <= budget:
        return content
    limit = 64
    while limit:
        content = render(limit)
        if len(content) <= budget:
            return content
        limit //= 2
    return bytes(render(0))


def _connector_type(profile: HosterProfile, slug: str) -> str | None:
    """The kind of connector that wrote a folder (imap, dav, files…): what an import needs
    to know what the folder holds. The panel's and directory's own parts are named so."""
    if slug in ("panel", "directory"):
        return slug
    find = getattr(profile, "service", None)  # archive tests build a context without one
    service = find(slug) if find is not None else None
    if service is None:
        return None
    kind = (service.connector or {}).get("type")
    return kind if isinstance(kind, str) else None


def _manifest(context: ExportContext, report: Report, limit: int | None) -> bytes:
    """The manifest, one file per line (json's C encoder: thousands of files stay fast)."""
    services = []
    for part in report.parts:
        problems = part.problems if limit is None else part.problems[:limit]
        services.append(
            {
                "service": part.service,
                "name": part.name,
                "connector": _connector_type(context.profile, part.service),
                "status": part.status,
                "reason": part.error,
                "files": part.files,
                "bytes": part.bytes,
                "problems": [{"path": p.path, "reason": p.reason} for p in problems],
                "problems_not_listed": len(part.problems) - len(problems),
            }
        )
    head = {
        "manifest_version": MANIFEST_VERSION,
        "created_at": context.created_at.isoformat(),
        "hoster": context.hoster,
        "account": context.account.uid,
        "services": services,
    }
    encode = json.JSONEncoder(ensure_ascii=False).encode
    files = ",\n".join(
        "  "
        + encode(
            {"path": f.path, "size": f.size, "sha256": f.sha256, "format": f.format,
             "service": f.service}
        )
        for f in report.files
    )  # fmt: skip
    text = json.dumps(head, ensure_ascii=False, indent=1)
    text = text[: text.rindex("}")].rstrip() + ',\n "files": [\n' + files + "\n ]\n}\n"
    return text.encode("utf-8")


def _errors_text(context: ExportContext, report: Report, limit: int | None) -> bytes:
    title = _("What could not be exported")
    lines = [
        title,
        "=" * len(title),
        "",
        _(
            "Everything else is in the archive. manifest.json has the same information "
            "for programs. You can ask the team for help through support."
        ),
        "",
    ]
    labels = {"partial": _("partly exported"), "failed": _("not exported")}
    for part in report.parts:
        if part.status == "ok":
            continue
        lines.append(
            _(
                "%(service)s (%(slug)s): %(status)s",
                service=part.name,
                slug=part.service,
                status=labels[part.status],
            )
        )
        if part.error:
            lines.append("  " + _("Reason: %(reason)s", reason=part.error))
        problems = part.problems if limit is None else part.problems[:limit]
        for problem in problems:
            lines.append(
                "  - " + _("%(path)s: %(reason)s", path=problem.path, reason=problem.reason)
            )
        hidden = len(part.problems) - len(problems)
        if hidden:
            lines.append(
                "  - " + _("and %(num)s more, not listed to keep this file short", num=hidden)
            )
        lines.append("")
    return "\n".join(lines).encode("utf-8")
