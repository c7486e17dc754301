"""Deletion requests: ask, cancel, approve, refuse, and the step pipeline that erases an account.

The pipeline runs each step at most once at a time, whoever runs it (a staff member, the
cron command, two of them at once): a step is *claimed* by a conditional UPDATE that only
one transaction can win, and the claim is committed before the slow work starts. Its
outcome is recorded only by the claimant (the claim token). A step left `running` by a
crash is claimable again once it is older than the connector timeout: every step is
idempotent, so running it twice after a crash is harmless, running it twice at once is
what the claim prevents.

`run_request` therefore commits after each step on purpose (progress must survive a crash);
every other function here follows the house rule: the caller commits.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import and_, case, delete, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from app import audit
from app.accounts.models import Account
from app.audit import AuditEvent
from app.connectors.base import (
    Connector,
    ConnectorError,
    StepResult,
    panel_sections,
    service_connectors,
)
from app.db import utcnow
from app.deletion.models import ACTIVE_STATES, DeletionRequest, DeletionStep
from app.deletion.outcomes import describe_outcome_text
from app.deletion.receipt import NOTHING_BY_HAND, receipt_lines
from app.directory import Directory, DirectoryUnavailable, Person
from app.hoster.profile import FALLBACK_LANGUAGE, HosterProfile, LocalizedText, current_profile
from app.mail import queue_mail

log = logging.getLogger(__name__)

REDACTED = "[erased]"
# The pipeline itself deletes the account row (last, after the request is unlinked) and
# anonymises the audit events instead of deleting them, so the record of how the request
# was processed survives without personal data.
SECTIONS_KEPT_BY_THE_PIPELINE = frozenset({"account", "activity"})


# Errors --------------------------------------------------------------------------------


class DeletionError(Exception):
    """A deletion action is not possible now; the view turns it into a message."""


class WrongConfirmation(DeletionError):
    """The login typed as confirmation is not the account's login."""


class AlreadyActive(DeletionError):
    """The account already has a request in progress."""


class NotCancellable(DeletionError):
    """Processing started (or the request is closed): it can no longer be cancelled."""


class NotDue(DeletionError):
    """The grace period is not over: staff cannot approve yet."""


class WrongState(DeletionError):
    """The request or step is not in a state that allows this action."""


# Settings ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeletionSettings:
    grace_days: int = 7
    approval: str = "staff"  # "staff": staff approve every request; "automatic": cron may
    connector_timeout: float = 600.0
    deadline_days: int = 30

    @classmethod
    def from_config(cls, config: Any) -> DeletionSettings:
        return cls(
            grace_days=int(config["DELETION_GRACE_DAYS"]),
            approval=str(config["DELETION_APPROVAL"]),
            connector_timeout=float(config["DELETION_CONNECTOR_TIMEOUT"]),
            deadline_days=int(config["DELETION_DEADLINE_DAYS"]),
        )

    @property
    def stale_after(self) -> timedelta:
        """A `running` claim older than this was left by a crash and may be taken over."""
        return timedelta(seconds=self.connector_timeout + 60)


# Plan: what a request will do, per service -----------------------------------------------


@dataclass(frozen=True)
class ServicePlan:
    slug: str
    name: LocalizedText
    automatic: bool
    # Staff only: the person leaving is told "by our team, by hand", never these steps.
    manual_deletion: LocalizedText | None
    retention: LocalizedText | None


def plan_services(profile: HosterProfile, connectors: dict[str, Connector]) -> list[ServicePlan]:
    """Per hosted service: deleted automatically (a connector) or by staff, and what is kept."""
    return [
        ServicePlan(
            slug=service.slug,
            name=service.name,
            automatic=service.slug in connectors,
            manual_deletion=service.manual_deletion,
            retention=service.retention,
        )
        for service in profile.services
    ]


def build_steps(plan: Iterable[ServicePlan]) -> list[DeletionStep]:
    """The checklist: one step per service, then the directory entry, then the panel's data.

    The directory goes after the services (some services need the entry to find the data)
    and the panel last (it erases the request's own copy of who is being deleted).
    """
    steps = [
        DeletionStep(
            kind="service",
            mode="automatic" if item.automatic else "manual",
            service_slug=item.slug,
            # Kept in French, the reference text; staff pages show the current profile's
            # text in their own language while the service is still declared.
            label=item.name.for_language(FALLBACK_LANGUAGE),
            instructions=None
            if item.automatic or item.manual_deletion is None
            else item.manual_deletion.for_language(FALLBACK_LANGUAGE),
        )
        for item in plan
    ]
    steps.append(DeletionStep(kind="directory", mode="automatic", label=""))
    steps.append(DeletionStep(kind="panel", mode="automatic", label=""))
    for position, step in enumerate(steps):
        step.position = position
        step.state = "pending"
        step.attempts = 0
    return steps


# Queries -------------------------------------------------------------------------------


def active_request(session: Session, account_id: int) -> DeletionRequest | None:
    return session.scalar(
        select(DeletionRequest).where(
            DeletionRequest.account_id == account_id,
            DeletionRequest.state.in_(ACTIVE_STATES),
        )
    )


def latest_closed_request(session: Session, account_id: int) -> DeletionRequest | None:
    return session.scalar(
        select(DeletionRequest)
        .where(
            DeletionRequest.account_id == account_id,
            DeletionRequest.state.in_(("cancelled", "refused")),
        )
        .order_by(DeletionRequest.requested_at.desc(), DeletionRequest.id.desc())
        .limit(1)
    )


def request_for_account(session: Session, request_id: int, account_id: int) -> DeletionRequest:
    """The account's own request, or LookupError (a foreign id is a 404)."""
    found = session.get(DeletionRequest, request_id)
    if found is None or found.account_id != account_id:
        raise LookupError(request_id)
    return found


def cancellable(req: DeletionRequest) -> bool:
    return req.state == "requested"


def due(req: DeletionRequest, now: datetime) -> bool:
    return req.state == "requested" and req.grace_until <= now


# User actions --------------------------------------------------------------------------


def request_deletion(
    session: Session,
    account: Account,
    *,
    confirm_login: str,
    plan: list[ServicePlan],
    settings: DeletionSettings,
    page_url: str,
    receipt_to: str | None = None,
    now: datetime | None = None,
) -> DeletionRequest:
    """Open a request in its grace period and mail the user the cancel link.

    `receipt_to`: an address outside the hoster for the receipt (the account's own mailbox
    is usually deleted with it); the view has warned when it looks like the hoster's.
    """
    if confirm_login.strip() != account.uid:
        raise WrongConfirmation
    if active_request(session, account.id) is not None:
        raise AlreadyActive
    now = now or utcnow()
    req = DeletionRequest(
        account_id=account.id,
        state="requested",
        requested_at=now,
        grace_until=now + timedelta(days=settings.grace_days),
        subject_uid=account.uid,
        subject_dn=account.dn,
        subject_name=account.display_name,
        subject_language=account.preferred_language,
        receipt_email=account.email,
        receipt_to=(receipt_to or "").strip().lower() or None,
    )
    req.steps = build_steps(plan)
    session.add(req)
    try:
        session.flush()
    except IntegrityError as exc:  # a second request sent at the same moment
        raise AlreadyActive from exc
    audit.record(
        session,
        "deletion.requested",
        account_id=account.id,
        actor_id=account.id,
        request_id=req.id,
        grace_days=settings.grace_days,
    )
    if account.email:
        _queue(
            session,
            req,
            "deletion_requested",
            purpose="deletion.requested",
            page_url=page_url,
            grace_days=settings.grace_days,
        )
    return req


def _transition(
    session: Session,
    row: DeletionRequest | DeletionStep,
    *conditions: Any,
    error: type[Exception] = WrongState,
    **values: Any,
) -> None:
    """Change a row only if the database still finds it in the expected state, so two staff
    members or two processes can never both make the same move; then reload it."""
    model = type(row)
    changed = session.execute(
        update(model)
        .where(model.id == row.id, *conditions)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise error
    session.refresh(row)


def cancel_deletion(
    session: Session, req: DeletionRequest, *, actor_id: int, now: datetime | None = None
) -> None:
    """Cancel while processing has not started (a database-checked transition)."""
    now = now or utcnow()
    _transition(
        session,
        req,
        DeletionRequest.state == "requested",
        error=NotCancellable,
        state="cancelled",
        cancelled_at=now,
    )
    audit.record(
        session,
        "deletion.cancelled",
        account_id=req.account_id,
        actor_id=actor_id,
        request_id=req.id,
    )
    if req.receipt_email:
        _queue(session, req, "deletion_cancelled", purpose="deletion.cancelled")


# Staff actions -------------------------------------------------------------------------


def approve_deletion(
    session: Session, req: DeletionRequest, *, actor_id: int | None, now: datetime | None = None
) -> None:
    """Start processing once the grace period is over (None as actor: the cron command)."""
    now = now or utcnow()
    if req.state == "requested" and req.grace_until > now:
        raise NotDue
    _transition(
        session,
        req,
        DeletionRequest.state == "requested",
        DeletionRequest.grace_until <= now,
        state="approved",
        approved_at=now,
        approved_by=actor_id,
    )
    audit.record(
        session,
        "deletion.approved",
        account_id=req.account_id,
        actor_id=actor_id,
        request_id=req.id,
    )


def refuse_deletion(
    session: Session,
    req: DeletionRequest,
    *,
    actor_id: int,
    reason: str,
    now: datetime | None = None,
) -> None:
    """Refuse (e.g. a legal hold) with a reason the user sees; only before anything ran."""
    reason = reason.strip()
    if not reason:
        raise WrongState
    now = now or utcnow()
    _lock_request(session, req.id)
    started = exists().where(
        DeletionStep.request_id == req.id,
        or_(DeletionStep.state.in_(("running", "done")), DeletionStep.attempts > 0),
    )
    _transition(
        session,
        req,
        DeletionRequest.state.in_(ACTIVE_STATES),
        ~started,
        state="refused",
        refused_at=now,
        refused_by=actor_id,
        refusal_reason=reason,
    )
    audit.record(
        session, "deletion.refused", account_id=req.account_id, actor_id=actor_id, request_id=req.id
    )
    if req.receipt_email:
        _queue(session, req, "deletion_refused", purpose="deletion.refused")


def retry_step(session: Session, step: DeletionStep, *, actor_id: int | None) -> None:
    """Put a failed automatic step back in line; the next run executes it."""
    _transition(
        session,
        step,
        DeletionStep.state == "failed",
        DeletionStep.mode == "automatic",
        state="pending",
    )
    audit.record(
        session,
        "deletion.step_retried",
        account_id=step.request.account_id,
        actor_id=actor_id,
        request_id=step.request_id,
        step=step_name(step),
    )


def mark_manual_step_done(
    session: Session,
    step: DeletionStep,
    *,
    actor_id: int,
    comment: str,
    found_nothing: bool = False,
    now: datetime | None = None,
) -> None:
    """Staff did a step by hand; the comment says what they did.

    `found_nothing`: the team looked and there was nothing of the person's to delete; the
    receipt then says so instead of "deleted by our team".

    A manual step, or a service's automatic step that failed: when a connector keeps
    failing (a server gone for good, a protocol it cannot speak), the team deletes by hand
    and the request can still finish. The panel's own step is never done by hand: it is
    what erases the account here.
    """
    comment = comment.strip()
    if not comment:
        raise WrongState
    now = now or utcnow()
    _transition(
        session,
        step,
        or_(
            and_(DeletionStep.mode == "manual", DeletionStep.state.in_(("pending", "failed"))),
            and_(
                DeletionStep.mode == "automatic",
                DeletionStep.kind == "service",
                DeletionStep.state == "failed",
            ),
        ),
        exists().where(
            DeletionRequest.id == step.request_id,
            DeletionRequest.state == "approved",
        ),
        state="done",
        finished_at=now,
        comment=comment,
        done_by=actor_id,
        # A connector's failure no longer describes the step: the comment does.
        detail=NOTHING_BY_HAND if found_nothing else None,
        # At least one try: a request with a step tried can no longer be refused.
        attempts=case((DeletionStep.attempts < 1, 1), else_=DeletionStep.attempts),
    )
    audit.record(
        session,
        "deletion.step_done",
        account_id=step.request.account_id,
        actor_id=actor_id,
        request_id=step.request_id,
        step=step_name(step),
        manual=True,
    )


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


def step_label(step: DeletionStep) -> str:
    """The step as people read it (translated)."""
    if step.kind == "directory":
        return _("Directory entry (your login and group memberships)")
    if step.kind == "panel":
        return _("This panel's data about you")
    service = current_profile().service(step.service_slug) if step.service_slug else None
    if service is not None:
        return str(service.name)  # in the reader's language while the service is declared
    return step.label or step.service_slug or ""


_EARLIER_KINDS = {"service": (), "directory": ("service",), "panel": ("service", "directory")}


def steps_in_progress(req: DeletionRequest) -> bool:
    """True while the worker has automatic steps of this approved request it can run now
    (a directory step waiting for a manual service step is not progress)."""
    if req.state != "approved":
        return False
    unfinished = {s.kind for s in req.steps if s.state != "done"}
    return any(
        s.mode == "automatic"
        and s.state in ("pending", "running")
        and not unfinished.intersection(_EARLIER_KINDS[s.kind])
        for s in req.steps
    )


def step_instructions(step: DeletionStep) -> LocalizedText | str | None:
    """What staff do by hand, in their language while the service is still declared."""
    if step.mode != "manual":
        return None
    service = current_profile().service(step.service_slug) if step.service_slug else None
    if service is not None and service.manual_deletion:
        return service.manual_deletion
    return step.instructions


def step_name(step: DeletionStep) -> str:
    return step.service_slug if step.kind == "service" and step.service_slug else step.kind


def _lock_request(session: Session, request_id: int) -> bool:
    """Row lock on PostgreSQL (SQLite serialises writers itself); True if the row exists."""
    found = session.execute(
        select(DeletionRequest.id).where(DeletionRequest.id == request_id).with_for_update()
    ).first()
    return found is not None


def _prerequisites_done(session: Session, step: DeletionStep) -> bool:
    """Services first, then the directory entry, then the panel's data."""
    kinds = _EARLIER_KINDS[step.kind]
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
        if not _lock_request(session, request_id):
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
        if changed.rowcount != 1:  # type: ignore[attr-defined]
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
    return changed.rowcount == 1  # type: ignore[attr-defined]


def person_of(req: DeletionRequest) -> Person:
    """The person a request is about, from what the request recorded."""
    return Person(
        uid=req.subject_uid or "",
        dn=req.subject_dn or "",
        display_name=req.subject_name or req.subject_uid or "",
        email=req.receipt_email,
        language=req.subject_language,
    )


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
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise WrongState("the request left the approved state during processing")
    session.refresh(req)
    for step in req.steps:
        session.refresh(step)
    if req.receipt_address:
        _queue(
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


def _queue(
    session: Session,
    req: DeletionRequest,
    template: str,
    *,
    purpose: str,
    to: str | None = None,
    **ctx: Any,
) -> None:
    address = to or req.receipt_email
    assert address
    with force_locale(req.subject_language or "fr"):
        queue_mail(
            session,
            to=address,
            template=template,
            purpose=purpose,
            request=req,
            step_label=step_label,
            describe_outcome=describe_outcome_text,
            **ctx,
        )


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


# Staff queue ---------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueRow:
    request: DeletionRequest
    urgency: str  # overdue, due, processing, grace
    deadline: datetime


def urgency(req: DeletionRequest, now: datetime, deadline_days: int) -> str:
    """overdue: past the legal deadline; due: waits for staff; else processing or in grace."""
    if req.requested_at + timedelta(days=deadline_days) <= now:
        return "overdue"
    if req.state == "requested":
        return "due" if req.grace_until <= now else "grace"
    if any(s.state == "failed" or (s.mode == "manual" and s.state != "done") for s in req.steps):
        return "due"
    return "processing"


URGENCY_ORDER = {"overdue": 0, "due": 1, "processing": 2, "grace": 3}


def open_queue(
    session: Session, settings: DeletionSettings, now: datetime | None = None
) -> list[QueueRow]:
    """Active requests, overdue and due first, then by deadline."""
    now = now or utcnow()
    requests = session.scalars(
        select(DeletionRequest)
        .where(DeletionRequest.state.in_(ACTIVE_STATES))
        .options(selectinload(DeletionRequest.steps))
    ).all()
    rows = [
        QueueRow(
            request=req,
            urgency=urgency(req, now, settings.deadline_days),
            deadline=req.requested_at + timedelta(days=settings.deadline_days),
        )
        for req in requests
    ]
    rows.sort(key=lambda r: (URGENCY_ORDER[r.urgency], r.deadline, r.request.id))
    return rows


def closed_requests(
    session: Session, state: str, *, page: int = 1, per_page: int = 50
) -> tuple[list[DeletionRequest], int]:
    total = session.scalar(
        select(func.count()).select_from(DeletionRequest).where(DeletionRequest.state == state)
    )
    order = {
        "completed": DeletionRequest.completed_at,
        "cancelled": DeletionRequest.cancelled_at,
        "refused": DeletionRequest.refused_at,
    }[state]
    rows = session.scalars(
        select(DeletionRequest)
        .where(DeletionRequest.state == state)
        .order_by(order.desc(), DeletionRequest.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return list(rows), int(total or 0)


def count_waiting_for_staff(session: Session, deadline_days: int = 30) -> int:
    """Active requests that wait for a staff decision or action (for the staff home)."""
    now = utcnow()
    return sum(
        1
        for row in open_queue(session, DeletionSettings(deadline_days=deadline_days), now)
        if row.urgency in ("overdue", "due")
    )


# The panel's own data about deletion requests --------------------------------------------


def delete_closed_requests_of(session: Session, account_id: int) -> None:
    """Earlier cancelled or refused requests are the person's history: erased with them."""
    session.execute(
        delete(DeletionRequest)
        .where(
            DeletionRequest.account_id == account_id,
            DeletionRequest.state.in_(("cancelled", "refused")),
        )
        .execution_options(synchronize_session=False)
    )
