"""The step pipeline that erases an account, and the cron run that approves and runs due requests.

The pipeline runs each step at most once at a time, whoever runs it (a staff member, the
cron command, two of them at once): a step is *claimed* by a conditional UPDATE that only
one transaction can win, and the claim is committed before the slow work starts. Its
outcome is recorded only by the claimant (the claim token). A step left `running` by a
crash is claimable again once it is older than the connector timeout: every step is
idempotent, so running it twice after a crash is harmless, running it twice at once is
what the claim prevents.

`run_request` and `run_due` therefore commit after each step on purpose (progress must
survive a crash); this is the only module of the feature that commits.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Flask
from flask_babel import force_locale
from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.orm import Session

from app import audit
from app.accounts.models import Account
from app.audit import AuditEvent
from app.connectors.base import ConnectorError, StepResult, service_connectors
from app.db import rows_changed, utcnow
from app.deletion.models import DeletionRequest, DeletionStep
from app.deletion.notifications import queue_request_mail
from app.deletion.receipt import receipt_lines
from app.deletion.requests import (
    DeletionError,
    DeletionSettings,
    WrongState,
    approve_deletion,
    lock_request,
    retry_step,
)
from app.deletion.steps import EARLIER_KINDS, person_of, step_name
from app.directory import Directory, DirectoryUnavailable, Person
from app.features import panel_sections
from app.profile.loading import current_profile

log = logging.getLogger(__name__)

REDACTED = "[erased]"
# The pipeline itself deletes the account row (last, after the request is unlinked) and
# anonymises the audit events instead of deleting them, so the record of how the request
# was processed survives without personal data.
SECTIONS_KEPT_BY_THE_PIPELINE = frozenset({"account", "activity"})


# The pipeline --------------------------------------------------------------------------


@dataclass
class RunReport:
    """What one run did: counts for the CLI and the staff flash message."""

    done: int = 0
    failed: int = 0
    waiting_manual: int = 0
    busy: int = 0
    completed: bool = False
    errors: list[str] = field(default_factory=list)


def _prerequisites_done(session: Session, step: DeletionStep) -> bool:
    """Services first, then the directory entry, then the panel's data."""
    kinds = EARLIER_KINDS[step.kind]
    if not kinds:
        return True
    unfinished = session.scalar(
        select(func.count())
        .select_from(DeletionStep)
        .where(
            DeletionStep.request_id == step.request_id,
            DeletionStep.kind.in_(kinds),
            DeletionStep.state != "done",
        )
    )
    return not unfinished


def _claim(session: Session, step_id: int, request_id: int, stale_before: datetime) -> str | None:
    """Take the step for this run, or None if someone else holds it (or it is not runnable)."""
    token = secrets.token_hex(16)
    now = utcnow()
    try:
        if not lock_request(session, request_id):
            session.rollback()
            return None
        changed = session.execute(
            update(DeletionStep)
            .where(
                DeletionStep.id == step_id,
                DeletionStep.mode == "automatic",
                or_(
                    DeletionStep.state == "pending",
                    and_(DeletionStep.state == "running", DeletionStep.claimed_at < stale_before),
                ),
                exists().where(
                    DeletionRequest.id == request_id, DeletionRequest.state == "approved"
                ),
            )
            .values(
                state="running",
                claim_token=token,
                claimed_at=now,
                attempts=DeletionStep.attempts + 1,
            )
            .execution_options(synchronize_session=False)
        )
        if rows_changed(changed) != 1:
            session.rollback()
            return None
        session.commit()
    except Exception:
        session.rollback()
        raise
    return token


def _finish(
    session: Session,
    step_id: int,
    token: str,
    *,
    ok: bool,
    detail: str,
    kept: str | None = None,
) -> bool:
    """Record the outcome, only if this run still holds the claim."""
    changed = session.execute(
        update(DeletionStep)
        .where(
            DeletionStep.id == step_id,
            DeletionStep.claim_token == token,
            DeletionStep.state == "running",
        )
        .values(
            state="done" if ok else "failed",
            finished_at=utcnow(),
            detail=detail[:4000] or None,
            kept=kept,
            claim_token=None,
        )
        .execution_options(synchronize_session=False)
    )
    return rows_changed(changed) == 1


def _with_timeout(app: Flask, work: Callable[[], StepResult], timeout: float) -> StepResult:
    """Run a connector call in a daemon thread; a hung service fails the step, not the panel.

    A thread cannot be killed: a connector that never returns keeps its thread until the
    process ends. Connectors should enforce their own timeouts (the `command` one does).
    """
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            # In English: the outcome is recorded for logs and readers of any language
            # (app/deletion/outcomes.py translates it when it is shown).
            with app.app_context(), force_locale("en"):
                outcome["result"] = work()
        except BaseException as exc:  # reported to staff below
            outcome["error"] = exc

    worker = threading.Thread(target=target, name="deletion-connector", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise TimeoutError(f"no answer after {timeout:g} s")
    if "error" in outcome:
        raise outcome["error"]
    result: StepResult = outcome["result"]
    return result


def _run_service_step(
    app: Flask, step: DeletionStep, person: Person, settings: DeletionSettings
) -> StepResult:
    connector = service_connectors(app).get(step.service_slug or "")
    if connector is None:
        return StepResult(
            ok=False,
            detail="No connector is registered for this service any more: "
            "delete the data by hand, then mark the step done.",
        )
    return _with_timeout(app, lambda: connector.delete(person), settings.connector_timeout)


def _run_directory_step(directory: Directory, person: Person) -> StepResult:
    removed = directory.delete(person)
    return StepResult(
        ok=True,
        detail="Entry and group memberships removed."
        if removed
        else "The entry was already gone from the directory.",
    )


def run_request(
    session: Session,
    app: Flask,
    request_id: int,
    *,
    actor_id: int | None = None,
    directory: Directory | None = None,
) -> RunReport:
    """Run every runnable automatic step of an approved request, in order; commits per step."""
    report = RunReport()
    settings = DeletionSettings.from_config(app.config)
    directory = directory or app.extensions["panel_directory"]
    session.commit()
    req = session.get(DeletionRequest, request_id, populate_existing=True)
    if req is None or req.state != "approved":
        return report
    person = person_of(req)
    step_ids = [s.id for s in req.steps]
    for step_id in step_ids:
        step = session.get(DeletionStep, step_id, populate_existing=True)
        if step is None or step.state == "done":
            continue
        if step.mode == "manual":
            report.waiting_manual += 1
            continue
        if step.state == "failed":
            report.failed += 1
            continue
        if not _prerequisites_done(session, step):
            continue
        stale_before = utcnow() - settings.stale_after
        token = _claim(session, step.id, request_id, stale_before)
        if token is None:
            report.busy += 1
            continue
        if step.kind == "panel":
            ok = _run_panel_step(session, app, request_id, step_id, token, actor_id, report)
        else:
            ok = _run_outside_step(
                session, app, req, step, token, person, directory, settings, actor_id, report
            )
        if ok:
            report.done += 1
        else:
            report.failed += 1
    session.commit()
    return report


def _run_outside_step(
    session: Session,
    app: Flask,
    req: DeletionRequest,
    step: DeletionStep,
    token: str,
    person: Person,
    directory: Directory,
    settings: DeletionSettings,
    actor_id: int | None,
    report: RunReport,
) -> bool:
    """A service connector or the directory: slow work outside any transaction."""
    try:
        if step.kind == "directory":
            result = _run_directory_step(directory, person)
        else:
            result = _run_service_step(app, step, person, settings)
    except DirectoryUnavailable as exc:
        result = StepResult(ok=False, detail=f"The directory could not be reached: {exc}")
    except TimeoutError as exc:
        result = StepResult(ok=False, detail=f"The service did not answer in time ({exc}).")
    except ConnectorError as exc:
        # Staff may read the server's answer (scrubbed of secrets); people never do.
        result = StepResult(ok=False, detail=exc.staff_detail())
    except Exception as exc:
        log.exception("deletion step %s of request %s crashed", step.id, req.id)
        result = StepResult(ok=False, detail=f"{type(exc).__name__}: {exc}")
    kept = "\n".join(result.kept) or None
    if not _finish(session, step.id, token, ok=result.ok, detail=result.detail, kept=kept):
        session.rollback()  # a crash-recovery run took the step over; its outcome counts
        return result.ok
    audit.record(
        session,
        "deletion.step_done" if result.ok else "deletion.step_failed",
        account_id=req.account_id,
        actor_id=actor_id,
        request_id=req.id,
        step=step_name(step),
    )
    session.commit()
    if not result.ok:
        report.errors.append(f"{step_name(step)}: {result.detail}")
    return result.ok


def _run_panel_step(
    session: Session,
    app: Flask,
    request_id: int,
    step_id: int,
    token: str,
    actor_id: int | None,
    report: RunReport,
) -> bool:
    """The panel's own data, the account row and the request's personal fields, atomically."""
    try:
        req = session.get(DeletionRequest, request_id, populate_existing=True)
        assert req is not None
        account = session.get(Account, req.account_id) if req.account_id else None
        if account is not None:
            for section in panel_sections(app):
                if section.name in SECTIONS_KEPT_BY_THE_PIPELINE:
                    continue
                section.delete(session, account)
        _anonymise_audit(session, req, account)
        if account is not None:
            req.account_id = None
            session.flush()
            session.delete(account)
            session.flush()
        if not _finish(session, step_id, token, ok=True, detail="Panel data and account removed."):
            session.rollback()
            return True
        _complete(session, req, actor_id)
        session.commit()
        report.completed = True
        return True
    except Exception as exc:
        session.rollback()
        log.exception("panel deletion step of request %s failed", request_id)
        _finish(session, step_id, token, ok=False, detail=f"{type(exc).__name__}: {exc}")
        audit.record(
            session,
            "deletion.step_failed",
            actor_id=actor_id,
            request_id=request_id,
            step="panel",
        )
        session.commit()
        report.errors.append(f"panel: {type(exc).__name__}: {exc}")
        return False


def _anonymise_audit(session: Session, req: DeletionRequest, account: Account | None) -> None:
    """Keep the events (the hoster may need the trail) but nothing that points at the person."""
    who = []
    if account is not None:
        who.append(AuditEvent.account_id == account.id)
    if req.subject_uid:
        who.append(func.lower(AuditEvent.login) == req.subject_uid.lower())
    if not who:
        return
    events = session.scalars(select(AuditEvent).where(or_(*who))).all()
    secrets_ = _personal_values(req)
    for event in events:
        event.account_id = None
        event.login = None
        event.details = _redact(event.details, secrets_) or "{}"
    if account is not None:
        session.execute(
            update(AuditEvent)
            .where(AuditEvent.actor_id == account.id)
            .values(actor_id=None)
            .execution_options(synchronize_session=False)
        )


def _personal_values(req: DeletionRequest) -> list[str]:
    values = [req.subject_uid, req.subject_dn, req.subject_name, req.receipt_email, req.receipt_to]
    # Longest first, so a name containing the login is erased whole.
    return sorted({v for v in values if v and len(v) >= 2}, key=len, reverse=True)


def _redact(text: str | None, values: list[str]) -> str | None:
    if not text:
        return text
    lowered = text.lower()
    for value in values:
        needle = value.lower()
        start = lowered.find(needle)
        while start != -1:
            text = text[:start] + REDACTED + text[start + len(value) :]
            lowered = text.lower()
            start = lowered.find(needle, start + len(REDACTED))
    return text


def _complete(session: Session, req: DeletionRequest, actor_id: int | None) -> None:
    """Mark completed, queue the receipt to the captured address, then erase that address."""
    now = utcnow()
    changed = session.execute(
        update(DeletionRequest)
        .where(DeletionRequest.id == req.id, DeletionRequest.state == "approved")
        .values(state="completed", completed_at=now)
        .execution_options(synchronize_session=False)
    )
    if rows_changed(changed) != 1:
        raise WrongState("the request left the approved state during processing")
    session.refresh(req)
    for step in req.steps:
        session.refresh(step)
    if req.receipt_address:
        queue_request_mail(
            session,
            req,
            "deletion_completed",
            purpose="deletion.receipt",
            to=req.receipt_address,
            lines=receipt_lines(req),
            retention={s.slug: s.retention for s in current_profile().services if s.retention},
        )
    values = _personal_values(req)
    for step in req.steps:
        step.detail = _redact(step.detail, values)
        step.comment = _redact(step.comment, values)
        step.kept = _redact(step.kept, values)
    req.subject_uid = None
    req.subject_dn = None
    req.subject_name = None
    req.subject_language = None
    req.receipt_email = None
    req.receipt_to = None
    req.refusal_reason = None
    audit.record(session, "deletion.completed", actor_id=actor_id, request_id=req.id)


# Scheduled processing ------------------------------------------------------------------


@dataclass
class DueReport:
    approved: list[int] = field(default_factory=list)
    completed: list[int] = field(default_factory=list)
    waiting_staff: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


def all_automatic(req: DeletionRequest) -> bool:
    return all(step.mode == "automatic" for step in req.steps)


def run_due(
    session: Session, app: Flask, *, retry_failed: bool = False, now: datetime | None = None
) -> DueReport:
    """For cron: approve what the policy lets the panel approve, and run approved requests."""
    settings = DeletionSettings.from_config(app.config)
    now = now or utcnow()
    report = DueReport()
    due_ids = session.scalars(
        select(DeletionRequest.id)
        .where(DeletionRequest.state == "requested", DeletionRequest.grace_until <= now)
        .order_by(DeletionRequest.grace_until)
    ).all()
    for request_id in due_ids:
        req = session.get(DeletionRequest, request_id, populate_existing=True)
        if req is None:
            continue
        if settings.approval != "automatic" or not all_automatic(req):
            report.waiting_staff.append(request_id)
            continue
        try:
            approve_deletion(session, req, actor_id=None, now=now)
        except DeletionError:
            session.rollback()
            continue
        session.commit()
        report.approved.append(request_id)
    approved_ids = session.scalars(
        select(DeletionRequest.id)
        .where(DeletionRequest.state == "approved")
        .order_by(DeletionRequest.approved_at, DeletionRequest.id)
    ).all()
    for request_id in approved_ids:
        if retry_failed:
            failed_steps = session.scalars(
                select(DeletionStep).where(
                    DeletionStep.request_id == request_id,
                    DeletionStep.state == "failed",
                    DeletionStep.mode == "automatic",
                )
            ).all()
            for step in failed_steps:
                try:
                    retry_step(session, step, actor_id=None)
                except WrongState:
                    session.rollback()
            session.commit()
        run = run_request(session, app, request_id)
        if run.completed:
            report.completed.append(request_id)
        elif run.failed:
            report.failed.append(request_id)
        elif run.waiting_manual:
            report.waiting_staff.append(request_id)
    return report
