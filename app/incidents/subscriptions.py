"""Incident mail subscriptions: who asked for mail about which services, and their consent.

A signed-in person subscribes with their directory address at once; a visitor's address is
kept unconfirmed until they follow the confirmation link (double opt-in), and unconfirmed
rows older than CONFIRM_HOURS are deleted by `flask incidents purge-subscriptions`.
Links in mails carry signed tokens (the panel's secret key), never a stored secret.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    String,
    delete,
    func,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship, selectinload

from app import audit
from app.accounts.models import Account
from app.db import Base, UTCDateTime, utcnow
from app.email_address import is_email_address

CONFIRM_HOURS = 48
# A visitor's form never sends the same address more than one mail in this time.
RESEND_MINUTES = 60


class IncidentSubscription(Base):
    """One address that receives incident mail (all services, or the chosen ones)."""

    __tablename__ = "incident_subscription"
    __table_args__ = (
        CheckConstraint("email = lower(email)", name="email_lowercase"),
        CheckConstraint(
            "account_id IS NULL OR confirmed_at IS NOT NULL", name="accounts_confirmed"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    # Set for a signed-in person's subscription: deleted with the account.
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), unique=True
    )
    language: Mapped[str] = mapped_column(String(8))
    all_services: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Null until the owner of the address confirmed it (visitors only).
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # Last confirmation or reminder mail sent because of the form (anti-abuse).
    last_asked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    services: Mapped[list[SubscribedService]] = relationship(
        cascade="all, delete-orphan",
        order_by="SubscribedService.service_slug",
        lazy="selectin",
    )

    @property
    def service_slugs(self) -> list[str]:
        return [s.service_slug for s in self.services]

    def covers(self, slugs: Collection[str]) -> bool:
        return self.all_services or bool(set(self.service_slugs) & set(slugs))


class SubscribedService(Base):
    __tablename__ = "incident_mail_service"

    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("incident_subscription.id", ondelete="CASCADE"), primary_key=True
    )
    service_slug: Mapped[str] = mapped_column(String(64), primary_key=True)


class SubscriptionError(Exception):
    def __init__(self, message: object, field: str | None = None) -> None:
        super().__init__(str(message))
        self.message = message
        self.field = field


# Tokens -----------------------------------------------------------------------------------


def _serializer(secret: str, purpose: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=f"incidents.subscription.{purpose}")


def _fingerprint(email: str) -> str:
    # Binds the token to the address without putting the address in URLs (and server logs).
    return hashlib.sha256(email.encode()).hexdigest()[:16]


def make_token(secret: str, purpose: str, subscription: IncidentSubscription) -> str:
    """A link token bound to this row and address: a new subscription gets new tokens."""
    payload = [subscription.id, _fingerprint(subscription.email)]
    return str(_serializer(secret, purpose).dumps(payload))


def read_token(
    session: Session, secret: str, purpose: str, token: str
) -> IncidentSubscription | None:
    try:
        loaded = _serializer(secret, purpose).loads(token)
    except BadSignature:
        return None
    if not (isinstance(loaded, list) and len(loaded) == 2 and isinstance(loaded[0], int)):
        return None
    found = session.get(IncidentSubscription, loaded[0])
    if found is None or not hmac.compare_digest(_fingerprint(found.email), str(loaded[1])):
        return None
    return found


# Changes ----------------------------------------------------------------------------------


def clean_email(email: str | None) -> str:
    cleaned = (email or "").strip().lower()
    # Syntax only: the confirmation mail is the real proof the address works.
    if len(cleaned) > 320 or not is_email_address(cleaned):
        raise SubscriptionError(_l("Enter an e-mail address like name@example.org."), "email")
    return cleaned


def _clean_services(chosen: Sequence[str], known: Collection[str]) -> list[str]:
    slugs = list(dict.fromkeys(s for s in chosen if s))
    unknown = [s for s in slugs if s not in known]
    if unknown:
        raise SubscriptionError(_l("Choose services from the list."), "services")
    return slugs


def _set_services(subscription: IncidentSubscription, slugs: list[str]) -> None:
    subscription.all_services = not slugs
    current = {s.service_slug: s for s in subscription.services}
    subscription.services = [current.get(s) or SubscribedService(service_slug=s) for s in slugs]


def find_for_account(session: Session, account: Account) -> IncidentSubscription | None:
    return session.scalars(
        select(IncidentSubscription).where(IncidentSubscription.account_id == account.id)
    ).first()


def subscribe_account(
    session: Session,
    account: Account,
    *,
    services: Sequence[str],
    known_services: Collection[str],
    language: str,
    now: datetime | None = None,
) -> IncidentSubscription:
    """One click for a signed-in person: their directory address is already proven."""
    if not account.email:
        raise SubscriptionError(
            _l("Your account has no e-mail address in the directory: ask the team to add one.")
        )
    now = now or utcnow()
    email = account.email.strip().lower()
    slugs = _clean_services(services, known_services)
    subscription = (
        find_for_account(session, account)
        or session.scalars(
            select(IncidentSubscription).where(IncidentSubscription.email == email)
        ).first()
    )
    if subscription is None:
        subscription = IncidentSubscription(email=email, created_at=now, services=[])
        session.add(subscription)
    subscription.email = email
    subscription.account_id = account.id
    subscription.language = language
    subscription.confirmed_at = subscription.confirmed_at or now
    _set_services(subscription, slugs)
    session.flush()
    audit.record(session, "incidents.subscribed", account_id=account.id, actor_id=account.id)
    return subscription


def request_subscription(
    session: Session,
    *,
    email: str,
    services: Sequence[str],
    known_services: Collection[str],
    language: str,
    now: datetime | None = None,
) -> IncidentSubscription | None:
    """A visitor's form. Returns the row to mail a confirmation (or reminder) to, or None
    when this address was already mailed within RESEND_MINUTES (nobody floods a mailbox).

    The answer page is the same in every case, so the form tells nobody who subscribed.
    """
    now = now or utcnow()
    address = clean_email(email)
    slugs = _clean_services(services, known_services)
    subscription = session.scalars(
        select(IncidentSubscription).where(IncidentSubscription.email == address)
    ).first()
    if subscription is not None:
        if subscription.last_asked_at and now - subscription.last_asked_at < timedelta(
            minutes=RESEND_MINUTES
        ):
            return None
        if subscription.confirmed_at is None:
            # Still unconfirmed: the newest choice wins once confirmed.
            subscription.language = language
            _set_services(subscription, slugs)
        subscription.last_asked_at = now
        return subscription
    subscription = IncidentSubscription(
        email=address, language=language, created_at=now, last_asked_at=now, services=[]
    )
    _set_services(subscription, slugs)
    session.add(subscription)
    session.flush()
    return subscription


def confirm_subscription(
    session: Session, subscription: IncidentSubscription, now: datetime | None = None
) -> bool:
    """The owner of the address followed the link. False when it was confirmed already."""
    if subscription.confirmed_at is not None:
        return False
    subscription.confirmed_at = now or utcnow()
    return True


def change_services(
    session: Session,
    subscription: IncidentSubscription,
    *,
    services: Sequence[str],
    known_services: Collection[str],
) -> None:
    _set_services(subscription, _clean_services(services, known_services))
    session.flush()


def unsubscribe(session: Session, subscription: IncidentSubscription) -> None:
    """Forget the address at once: nothing of it stays."""
    if subscription.account_id is not None:
        audit.record(
            session,
            "incidents.unsubscribed",
            account_id=subscription.account_id,
            actor_id=subscription.account_id,
        )
    session.delete(subscription)
    session.flush()


def purge_unconfirmed(session: Session, now: datetime | None = None) -> int:
    """Delete visitors' addresses never confirmed within CONFIRM_HOURS."""
    cutoff = (now or utcnow()) - timedelta(hours=CONFIRM_HOURS)
    stale = list(
        session.scalars(
            select(IncidentSubscription.id).where(
                IncidentSubscription.confirmed_at.is_(None),
                IncidentSubscription.created_at < cutoff,
            )
        )
    )
    if stale:
        session.execute(
            delete(SubscribedService).where(SubscribedService.subscription_id.in_(stale))
        )
        session.execute(delete(IncidentSubscription).where(IncidentSubscription.id.in_(stale)))
    return len(stale)


def recipients(
    session: Session, slugs: Collection[str], *, accounts_only: bool
) -> list[IncidentSubscription]:
    """Confirmed subscriptions that cover one of these services."""
    stmt = (
        select(IncidentSubscription)
        .where(IncidentSubscription.confirmed_at.is_not(None))
        .options(selectinload(IncidentSubscription.services))
        .order_by(IncidentSubscription.id)
    )
    if accounts_only:
        stmt = stmt.where(IncidentSubscription.account_id.is_not(None))
    return [s for s in session.scalars(stmt) if s.covers(slugs)]


def count_confirmed(session: Session) -> int:
    return int(
        session.scalar(
            select(func.count(IncidentSubscription.id)).where(
                IncidentSubscription.confirmed_at.is_not(None)
            )
        )
        or 0
    )
