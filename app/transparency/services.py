"""Keep the transparency register and the warrant canary (no commit here: views commit)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import audit
from app.db import utcnow
from app.transparency.models import (
    AUTHORITY_KINDS,
    REQUEST_KINDS,
    RESPONSES,
    AuthorityRequest,
    CanaryStatement,
)

PGP_SIGNED = "-----BEGIN PGP SIGNED MESSAGE-----"
PGP_SIGNATURE = "-----BEGIN PGP SIGNATURE-----"
PGP_END = "-----END PGP SIGNATURE-----"
CANARY_DUE_SOON_DAYS = 7


class TransparencyError(Exception):
    """Input that breaks a rule of the register; `field` names the form field at fault."""

    def __init__(self, field: str, message: Any) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class RequestNotFound(Exception):
    pass


@dataclass(frozen=True)
class RequestDetails:
    received_on: date
    authority_kind: str
    legal_basis: str
    request_kind: str
    summary: str
    response: str
    response_summary: str | None
    answered_on: date | None
    accounts_concerned: int


@dataclass(frozen=True)
class YearCount:
    year: int
    requests: int
    accounts: int
    complied: int  # fully or partly
    refused: int  # refused or contested
    pending: int


def local_today(timezone: str, now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(ZoneInfo(timezone)).date()


def _check_request(details: RequestDetails, today: date) -> None:
    if details.authority_kind not in AUTHORITY_KINDS:
        raise TransparencyError("authority_kind", _l("Choose a kind of authority from the list."))
    if details.request_kind not in REQUEST_KINDS:
        raise TransparencyError("request_kind", _l("Choose a kind of request from the list."))
    if details.response not in RESPONSES:
        raise TransparencyError("response", _l("Choose a response from the list."))
    if details.received_on > today:
        raise TransparencyError("received_on", _l("The date received cannot be in the future."))
    if details.accounts_concerned < 0:
        raise TransparencyError(
            "accounts_concerned", _l("The number of accounts cannot be negative.")
        )
    if details.response == "pending":
        if details.answered_on is not None:
            raise TransparencyError(
                "answered_on", _l("Leave the answer date empty while the answer is pending.")
            )
    else:
        if details.answered_on is None:
            raise TransparencyError("answered_on", _l("Give the date of the answer."))
        if details.answered_on < details.received_on:
            raise TransparencyError(
                "answered_on", _l("The answer cannot come before the request was received.")
            )
        if details.answered_on > today:
            raise TransparencyError("answered_on", _l("The answer date cannot be in the future."))


def record_authority_request(
    session: Session, details: RequestDetails, *, actor_id: int | None, today: date
) -> AuthorityRequest:
    _check_request(details, today)
    request = AuthorityRequest(
        **_fields(details), created_by_id=actor_id, created_at=utcnow(), updated_at=utcnow()
    )
    session.add(request)
    session.flush()
    audit.record(
        session,
        "transparency.request_recorded",
        actor_id=actor_id,
        request_id=request.id,
        authority_kind=details.authority_kind,
        response=details.response,
    )
    return request


def update_authority_request(
    session: Session,
    request_id: int,
    details: RequestDetails,
    *,
    actor_id: int | None,
    today: date,
) -> AuthorityRequest:
    request = session.get(AuthorityRequest, request_id)
    if request is None:
        raise RequestNotFound(request_id)
    _check_request(details, today)
    changed = sorted(k for k, v in _fields(details).items() if getattr(request, k) != v)
    if not changed:
        return request
    for key, value in _fields(details).items():
        setattr(request, key, value)
    request.updated_at = utcnow()
    # Only the names of the changed fields: the register's texts stay out of the audit trail.
    audit.record(
        session,
        "transparency.request_updated",
        actor_id=actor_id,
        request_id=request.id,
        changed=changed,
        response=details.response,
    )
    return request


def _fields(details: RequestDetails) -> dict[str, object]:
    return {
        "received_on": details.received_on,
        "authority_kind": details.authority_kind,
        "legal_basis": details.legal_basis.strip(),
        "request_kind": details.request_kind,
        "summary": details.summary.strip(),
        "response": details.response,
        "response_summary": (details.response_summary or "").strip() or None,
        "answered_on": details.answered_on,
        "accounts_concerned": details.accounts_concerned,
    }


def list_requests(
    session: Session, *, page: int = 1, per_page: int = 50
) -> tuple[list[AuthorityRequest], int]:
    total = int(session.scalar(select(func.count()).select_from(AuthorityRequest)) or 0)
    rows = session.scalars(
        select(AuthorityRequest)
        .order_by(AuthorityRequest.received_on.desc(), AuthorityRequest.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return list(rows), total


def yearly_counts(session: Session) -> list[YearCount]:
    """Requests per year of reception, newest year first (years without requests left out)."""
    rows = session.execute(
        select(
            AuthorityRequest.received_on,
            AuthorityRequest.accounts_concerned,
            AuthorityRequest.response,
        )
    ).all()
    years: dict[int, list[int]] = {}
    for received_on, accounts, response in rows:
        counts = years.setdefault(received_on.year, [0, 0, 0, 0, 0])
        counts[0] += 1
        counts[1] += accounts
        counts[2] += response in ("complied", "partial")
        counts[3] += response in ("refused", "contested")
        counts[4] += response == "pending"
    return [YearCount(year, *counts) for year, counts in sorted(years.items(), reverse=True)]


def pending_count(session: Session) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(AuthorityRequest)
            .where(AuthorityRequest.response == "pending")
        )
        or 0
    )


# Warrant canary ---------------------------------------------------------------------------


def check_signed_text(text: str) -> str:
    """The clear-signed text, normalised to \\n line ends; raises if it is not one."""
    normalised = text.replace("\r\n", "\n").replace("\r", "\n").strip("\n") + "\n"
    begin = normalised.find(PGP_SIGNED)
    signature = normalised.find(PGP_SIGNATURE)
    end = normalised.find(PGP_END)
    if not (begin == 0 and begin < signature < end):
        raise TransparencyError(
            "signed_text",
            _l(
                "This is not an OpenPGP clear-signed text: it must start with "
                "-----BEGIN PGP SIGNED MESSAGE----- and end with the signature block."
            ),
        )
    return normalised


def publish_canary(
    session: Session,
    *,
    statement_date: date,
    next_update_by: date,
    statement: str,
    signed_text: str | None,
    signing_key: str | None,
    actor_id: int | None,
    today: date,
) -> CanaryStatement:
    if statement_date > today:
        raise TransparencyError(
            "statement_date", _l("The statement cannot be dated in the future.")
        )
    if next_update_by <= statement_date:
        raise TransparencyError(
            "next_update_by", _l("The next update must come after the statement date.")
        )
    if not statement.strip():
        raise TransparencyError("statement", _l("Write the statement."))
    signed = check_signed_text(signed_text) if signed_text and signed_text.strip() else None
    canary = CanaryStatement(
        statement_date=statement_date,
        next_update_by=next_update_by,
        statement=statement.strip(),
        signed_text=signed,
        signing_key=(signing_key or "").strip() or None,
        published_at=utcnow(),
        published_by_id=actor_id,
    )
    session.add(canary)
    session.flush()
    audit.record(
        session,
        "transparency.canary_published",
        actor_id=actor_id,
        canary_id=canary.id,
        statement_date=statement_date.isoformat(),
        next_update_by=next_update_by.isoformat(),
        signed=signed is not None,
    )
    return canary


def current_canary(session: Session) -> CanaryStatement | None:
    return session.scalars(
        select(CanaryStatement)
        .order_by(CanaryStatement.statement_date.desc(), CanaryStatement.id.desc())
        .limit(1)
    ).first()


def canary_is_stale(canary: CanaryStatement, today: date) -> bool:
    """Stale once the promised update date has passed without a newer statement."""
    return today > canary.next_update_by


def canary_needs_renewal(session: Session, today: date) -> int:
    """1 when the canary is stale or due within a week (staff should renew it), else 0."""
    canary = current_canary(session)
    if canary is None:
        return 0
    return int((canary.next_update_by - today).days <= CANARY_DUE_SOON_DAYS)


def recent_history(session: Session, limit: int = 20) -> list[audit.AuditEvent]:
    """The latest changes to the register and the canary, for staff."""
    return list(
        session.scalars(
            select(audit.AuditEvent)
            .where(audit.AuditEvent.action.like("transparency.%"))
            .order_by(audit.AuditEvent.created_at.desc(), audit.AuditEvent.id.desc())
            .limit(limit)
        )
    )
