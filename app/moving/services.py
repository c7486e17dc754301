"""Moving-house services: start, plan, confirm, run, cancel and retry an import job.

The request starts a job (an uploaded archive, or a transfer from the old panel); the worker
checks the archive and makes the plan (`plan_job`); she confirms; the worker runs the parts
in order (`run_job`), writing progress as it goes, and deletes the archive at the end.
Services take explicit arguments and do not commit, except the worker's two functions,
which commit step by step (progress must be seen while they run).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from app import audit
from app.connectors.base import N_, ConnectorError
from app.connectors.importing import (
    IMPORTED,
    REFUSED,
    SKIPPED,
    ImportCancelled,
    Importer,
    ImportItem,
    ImportPart,
    Malformed,
    Outcome,
)
from app.db import rows_changed, utcnow
from app.directory import Person
from app.moving.archive import ArchiveRefused, Limits, check_archive, open_zip
from app.moving.models import ACTIVE_STATES, MAX_REFUSALS, ImportJob
from app.moving.models import ImportPart as PartRow
from app.moving.plan import (
    PlannedPart,
    check_room,
    classify,
    count_and_verify,
    importers_of,
    items,
    place,
)

if TYPE_CHECKING:
    from app.accounts.attention import ProbeParameters

log = logging.getLogger(__name__)

STALLED_SECONDS = 15 * 60  # a running job silent this long was killed: staff may retry it


class ImportRefused(Exception):
    """A person's or staff's action that cannot be done now (message: English, N_)."""


@dataclass(frozen=True)
class MovingSettings:
    upload_dir: Path
    limits: Limits
    progress_items: int = 200
    progress_seconds: float = 2.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> MovingSettings:
        return cls(
            upload_dir=Path(config["MOVING_UPLOAD_DIR"]),
            limits=Limits(
                max_archive_bytes=int(config["MOVING_MAX_ARCHIVE_BYTES"]),
                max_expanded_bytes=int(config["MOVING_MAX_EXPANDED_BYTES"]),
                max_ratio=int(config["MOVING_MAX_RATIO"]),
                max_members=int(config["MOVING_MAX_FILES"]),
            ),
            progress_items=int(config["MOVING_PROGRESS_ITEMS"]),
            progress_seconds=float(config["MOVING_PROGRESS_SECONDS"]),
        )


def _fail(job: ImportJob | PartRow, message: str, values: Mapping[str, Any] | None = None) -> None:
    job.error = message
    job.error_values = dict(values or {})


def failure_message(exc: BaseException) -> tuple[str, dict[str, Any]]:
    """What to store of an error: the archive's and connectors' messages, else its kind."""
    if isinstance(exc, ArchiveRefused):
        return exc.message, {k: str(v) for k, v in exc.values.items()}
    if isinstance(exc, ConnectorError):
        return str(exc), {}
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror, {}
    return N_("unexpected error (%(kind)s)"), {"kind": type(exc).__name__}


def delete_archive(job: ImportJob) -> None:
    if job.archive_path:
        Path(job.archive_path).unlink(missing_ok=True)
    job.archive_path = None


# Starting (the request) --------------------------------------------------------------------


def active_job(session: Session, account_id: int) -> ImportJob | None:
    return session.scalar(
        select(ImportJob)
        .where(ImportJob.account_id == account_id, ImportJob.state.in_(ACTIVE_STATES))
        .order_by(ImportJob.id.desc())
        .limit(1)
    )


def active_job_probe(parameters: ProbeParameters) -> ColumnElement[bool]:
    """The account page's probe: the same conditions as `active_job`."""
    return (
        select(ImportJob.id)
        .where(ImportJob.account_id == parameters.account_id, ImportJob.state.in_(ACTIVE_STATES))
        .exists()
    )


def jobs_of(session: Session, account_id: int) -> list[ImportJob]:
    return list(
        session.scalars(
            select(ImportJob)
            .where(ImportJob.account_id == account_id)
            .order_by(ImportJob.id.desc())
        )
    )


def start_import(
    session: Session,
    account_id: int,
    *,
    archive: Path | None = None,
    transfer_url: str | None = None,
) -> ImportJob:
    """A new job in `checking`: the worker checks the archive (or fetches it) next."""
    if active_job(session, account_id) is not None:
        raise ImportRefused(
            N_("An import is already under way: finish or cancel it before starting another.")
        )
    job = ImportJob(
        account_id=account_id,
        source="upload" if archive is not None else "transfer",
        transfer_url=transfer_url if archive is None else None,
        archive_path=str(archive) if archive is not None else None,
        archive_bytes=archive.stat().st_size if archive is not None else None,
        state="checking",
        cancel_requested=False,
        created_at=utcnow(),
        attempts=0,
        items_total=0,
        bytes_total=0,
        items_done=0,
        bytes_done=0,
    )
    session.add(job)
    session.flush()
    audit.record(
        session,
        "moving.started",
        account_id=account_id,
        actor_id=account_id,
        job=job.id,
        source=job.source,
    )
    return job


def confirm_import(session: Session, job: ImportJob) -> None:
    """She read the plan: queue the work (the caller hands it to the worker after commit)."""
    if job.state != "planned":
        raise ImportRefused(N_("This import cannot be confirmed any more."))
    if not any(p.service_slug for p in job.parts):
        raise ImportRefused(N_("Nothing in this archive can be imported here."))
    job.state = "queued"
    job.confirmed_at = utcnow()
    audit.record(
        session, "moving.confirmed", account_id=job.account_id, actor_id=job.account_id, job=job.id
    )


def cancel_import(session: Session, job: ImportJob, *, actor_id: int) -> bool:
    """Stop it: at once before it runs (archive deleted), else at the worker's next step.

    True when it is cancelled now; False when the worker will stop it soon."""
    if job.state in ("checking", "planned", "queued", "failed"):
        job.state = "cancelled"
        job.finished_at = utcnow()
        for part in job.parts:
            if part.state in ("pending", "running"):
                part.state = "cancelled"
        delete_archive(job)
        cancelled = True
    elif job.state == "running":
        job.cancel_requested = True
        cancelled = False
    else:
        raise ImportRefused(N_("This import has ended: there is nothing to cancel."))
    audit.record(
        session, "moving.cancelled", account_id=job.account_id, actor_id=actor_id, job=job.id
    )
    return cancelled


def retry_import(session: Session, job: ImportJob, *, actor_id: int) -> None:
    """Staff: run a job that failed (or whose worker died) again; parts done stay done."""
    stalled = job.state == "running" and (
        job.updated_at is None or (utcnow() - job.updated_at).total_seconds() > STALLED_SECONDS
    )
    if not (job.state == "failed" or stalled):
        raise ImportRefused(N_("Only an import that failed or stopped answering can be retried."))
    if not job.archive_path or not Path(job.archive_path).exists():
        raise ImportRefused(N_("The archive of this import is gone: she has to start again."))
    job.state = "queued" if job.confirmed_at else "checking"
    job.error = None
    job.error_values = None
    job.cancel_requested = False
    audit.record(
        session, "moving.retried", account_id=job.account_id, actor_id=actor_id, job=job.id
    )


# Planning (the worker) ---------------------------------------------------------------------


def _part_row(position: int, planned: PlannedPart) -> PartRow:
    return PartRow(
        position=position,
        key=planned.key,
        kind=planned.kind,
        name=planned.name[:1024],
        source_service=planned.source_service[:64],
        service_slug=planned.target,
        note=planned.note,
        note_values=planned.note_values or None,
        state="pending" if planned.target else "left",
        items_total=planned.count,
        bytes_total=planned.size,
        items_done=0,
        bytes_done=0,
        imported=0,
        skipped=0,
        refused=0,
    )


def plan_job(
    session: Session,
    job: ImportJob,
    *,
    settings: MovingSettings,
    connectors: Mapping[str, Any],
    person: Person,
    fetch: Callable[[Path], None] | None = None,
) -> None:
    """Fetch (transfer), check, make the plan and check the room; commits its outcome.

    A refused archive is deleted and the job fails with the reason; nothing is written
    to any service here."""
    if job.state != "checking":
        return
    try:
        if job.archive_path is None:
            if fetch is None:
                raise ArchiveRefused(N_("The archive could not be fetched."))
            settings.upload_dir.mkdir(parents=True, exist_ok=True)
            target = settings.upload_dir / f"import-{job.id}.zip"
            job.archive_path = str(target)
            session.commit()  # a failure below deletes the file it names
            fetch(target)
            job.archive_bytes = target.stat().st_size
        checked = check_archive(Path(job.archive_path), settings.limits)
        parts = classify(checked)
        importers = importers_of(connectors)
        place(parts, importers)
        count_and_verify(checked, parts)
        check_room(parts, importers, person)
    except Exception as exc:
        if not isinstance(exc, ArchiveRefused | ConnectorError):
            log.warning("import %s: the archive could not be checked: %r", job.id, exc)
        message, values = failure_message(exc)
        if not isinstance(exc, ArchiveRefused | ConnectorError | OSError):
            message, values = _transfer_message(exc) or (message, values)
        _fail(job, message, values)
        job.state = "failed"
        job.finished_at = utcnow()
        delete_archive(job)
        session.commit()
        return
    job.parts = [_part_row(n, p) for n, p in enumerate(parts)]
    job.items_total = sum(p.count for p in parts if p.target)
    job.bytes_total = sum(p.size for p in parts if p.target)
    job.state = "planned"
    job.planned_at = utcnow()
    session.commit()


def _transfer_message(exc: BaseException) -> tuple[str, dict[str, Any]] | None:
    # The transfer client is the worker's: a web worker never loads it for this message.
    from app.moving.transfer import TransferRefused

    if isinstance(exc, TransferRefused):
        return str(exc), {}
    return None


# Running (the worker) ----------------------------------------------------------------------


@dataclass
class JobProgress:
    """The connector's ImportProgress for one part: counts, writes to the database every
    `every_items` items or `every_seconds`, and stops when cancellation was asked."""

    session: Session
    job: ImportJob
    part: PartRow
    every_items: int
    every_seconds: float
    clock: Callable[[], float] = time.monotonic
    _pending: int = 0
    _last: float = field(default=0.0)

    def __post_init__(self) -> None:
        self._last = self.clock()

    def done(self, item: ImportItem | Malformed, outcome: Outcome, reason: str = "") -> None:
        part, job = self.part, self.job
        size = item.size if isinstance(item, ImportItem) else 0
        part.items_done += 1
        part.bytes_done += size
        job.items_done += 1
        job.bytes_done += size
        if outcome == IMPORTED:
            part.imported += 1
        elif outcome == SKIPPED:
            part.skipped += 1
        elif outcome == REFUSED:
            part.refused += 1
            listed = list(part.refusals or [])
            if len(listed) < MAX_REFUSALS:
                listed.append({"item": item.name[:300], "reason": reason[:500]})
                part.refusals = listed
        self._pending += 1
        if self._pending >= self.every_items or self.clock() - self._last >= self.every_seconds:
            self.flush()

    def flush(self) -> None:
        """Write the progress; raise ImportCancelled if she (or staff) cancelled meanwhile."""
        self._pending = 0
        self._last = self.clock()
        self.job.updated_at = utcnow()
        self.session.commit()
        asked = self.session.scalar(
            select(ImportJob.cancel_requested).where(ImportJob.id == self.job.id)
        )
        if asked:
            raise ImportCancelled


def _claim(session: Session, job_id: int) -> bool:
    """queued → running, once: a second worker given the same job finds it taken."""
    changed = session.execute(
        update(ImportJob)
        .where(ImportJob.id == job_id, ImportJob.state == "queued")
        .values(
            state="running",
            started_at=func.coalesce(ImportJob.started_at, utcnow()),
            updated_at=utcnow(),
            attempts=ImportJob.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return rows_changed(changed) == 1


def run_job(
    session: Session,
    job_id: int,
    *,
    settings: MovingSettings,
    connectors: Mapping[str, Any],
    person: Person,
) -> ImportJob | None:
    """Run the job's parts in order; resumable (parts done stay done, a part begun is run
    again and its connector skips what is there). Commits as it goes. None if not claimed."""
    if not _claim(session, job_id):
        return None
    job = session.get(ImportJob, job_id)
    assert job is not None
    session.refresh(job)
    importers = importers_of(connectors)
    current: PartRow | None = None
    try:
        if not job.archive_path or not Path(job.archive_path).exists():
            raise ArchiveRefused(N_("The archive of this import is gone: start again."))
        checked = check_archive(Path(job.archive_path), settings.limits)
        planned = {p.key: p for p in classify(checked)}
        if job.attempts == 1:  # a resumed import already took some of the room
            for row in job.parts:
                if row.key in planned:
                    planned[row.key].target = row.service_slug
            check_room(list(planned.values()), importers, person)
        with open_zip(Path(job.archive_path)) as archive:
            for current in job.parts:
                if current.state in ("done", "left"):
                    continue
                _run_part(
                    session, job, current, planned, archive, checked, importers, person, settings
                )
            current = None
        failed = [p for p in job.parts if p.state == "failed"]
        job.state = "failed" if failed else "done"
        if failed:
            _fail(job, N_("Some parts could not be imported; the team can try them again."))
        else:
            job.error, job.error_values = None, None
            delete_archive(job)
    except ImportCancelled:
        for part in job.parts:
            if part.state in ("pending", "running"):
                part.state = "cancelled"
        job.state = "cancelled"
        delete_archive(job)
    except Exception as exc:
        log.exception("import %s stopped", job_id)
        message, values = failure_message(exc)
        _fail(job, message, values)
        if current is not None and current.state == "running":
            current.state = "failed"
        job.state = "failed"
    job.finished_at = utcnow()
    job.updated_at = job.finished_at
    audit.record(
        session,
        f"moving.{job.state}",
        account_id=job.account_id,
        job=job.id,
        items=job.items_done,
    )
    session.commit()
    return job


def _run_part(
    session: Session,
    job: ImportJob,
    row: PartRow,
    planned: Mapping[str, PlannedPart],
    archive: Any,
    checked: Any,
    importers: Mapping[str, Importer],
    person: Person,
    settings: MovingSettings,
) -> None:
    if session.scalar(select(ImportJob.cancel_requested).where(ImportJob.id == job.id)):
        raise ImportCancelled
    part = planned.get(row.key)
    connector = importers.get(row.service_slug or "")
    if part is None or row.kind is None:
        row.state = "failed"
        _fail(row, N_("This part is no longer in the archive."))
        return
    if connector is None or row.kind not in connector.imports:
        row.state = "failed"
        _fail(
            row,
            N_("The service %(service)s no longer takes imports."),
            {"service": row.service_slug},
        )
        return
    # Run again from its start: the connector skips what a first run wrote.
    job.items_done -= row.items_done
    job.bytes_done -= row.bytes_done
    for counter in ("items_done", "bytes_done", "imported", "skipped", "refused"):
        setattr(row, counter, 0)
    row.refusals = None
    row.error, row.error_values = None, None
    row.state = "running"
    session.commit()
    progress = JobProgress(session, job, row, settings.progress_items, settings.progress_seconds)
    try:
        connector.import_(
            person,
            ImportPart(
                kind=row.kind,
                name=row.name,
                items=items(archive, checked, part),
                count=row.items_total,
                size=row.bytes_total,
                source=row.key,
            ),
            progress,
        )
    except ImportCancelled:
        row.state = "cancelled"
        raise
    except Exception as exc:
        if not isinstance(exc, ConnectorError | ArchiveRefused):
            log.exception("import %s: part %s failed", job.id, row.position)
        message, values = failure_message(exc)
        row.state = "failed"
        _fail(row, message, values)
        session.commit()
        return
    if row.items_done > row.items_total:  # the reader was not there to count at planning
        job.items_total += row.items_done - row.items_total
        row.items_total = row.items_done
    row.state = "done"
    progress.flush()


# The report ----------------------------------------------------------------------------------


@dataclass
class ServiceReport:
    """What one service of this hoster received, for the person's report."""

    slug: str
    imported: int = 0
    skipped: int = 0
    refused: int = 0
    items_done: int = 0
    items_total: int = 0
    bytes_done: int = 0
    bytes_total: int = 0
    parts: list[PartRow] = field(default_factory=list)


def report_by_service(job: ImportJob) -> list[ServiceReport]:
    found: dict[str, ServiceReport] = {}
    for part in job.parts:
        if not part.service_slug:
            continue
        entry = found.setdefault(part.service_slug, ServiceReport(part.service_slug))
        entry.imported += part.imported
        entry.skipped += part.skipped
        entry.refused += part.refused
        entry.items_done += part.items_done
        entry.items_total += part.items_total
        entry.bytes_done += part.bytes_done
        entry.bytes_total += part.bytes_total
        entry.parts.append(part)
    return list(found.values())


def seconds_left(job: ImportJob) -> int | None:
    """A rough estimate from the bytes done so far, once there is something to go on."""
    if job.state != "running" or not job.started_at or job.bytes_done <= 0:
        return None
    spent = (utcnow() - job.started_at).total_seconds()
    if spent < 2:
        return None
    left = max(job.bytes_total - job.bytes_done, 0)
    return int(spent * left / job.bytes_done)
