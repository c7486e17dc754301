"""Deletion requests as a state machine: ask, cancel, approve, refuse, retry or do a step by hand.

Every move is a database-checked transition (`_transition`), so two staff members or two
processes can never both make it. The caller commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, and_, case, exists, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import audit
from app.accounts.models import Account
from app.connectors.base import (
    Connector,
)
from app.db import rows_changed, utcnow
from app.deletion.models import ACTIVE_STATES, DeletionRequest, DeletionStep
from app.deletion.notifications import queue_request_mail
from app.deletion.receipt import NOTHING_BY_HAND
from app.deletion.steps import step_name
from app.profile.model import HosterProfile
from app.profile.texts import FALLBACK_LANGUAGE, LocalizedText

if TYPE_CHECKING:
    from app.accounts.attention import ProbeParameters

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


def active_request_probe(parameters: ProbeParameters) -> ColumnElement[bool]:
    """The account page's probe: the same conditions as `active_request`."""
    return (
        select(DeletionRequest.id)
        .where(
            DeletionRequest.account_id == parameters.account_id,
            DeletionRequest.state.in_(ACTIVE_STATES),
        )
        .exists()
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
        queue_request_mail(
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
    if rows_changed(changed) != 1:
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
        queue_request_mail(session, req, "deletion_cancelled", purpose="deletion.cancelled")


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
    lock_request(session, req.id)
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
        queue_request_mail(session, req, "deletion_refused", purpose="deletion.refused")


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


def lock_request(session: Session, request_id: int) -> bool:
    """Row lock on PostgreSQL (SQLite serialises writers itself); True if the row exists."""
    found = session.execute(
        select(DeletionRequest.id).where(DeletionRequest.id == request_id).with_for_update()
    ).first()
    return found is not None
