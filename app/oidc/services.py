"""Sign-in, re-authentication and back-channel logout through the OpenID provider.

The provider says who signed in; the directory stays the source of people and staff rights:
the login claim is looked up there, and a claim that matches nobody is refused.
"""

from __future__ import annotations

import hashlib
import time
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import audit
from app.accounts import services as account_services
from app.accounts.models import Account
from app.db import utcnow
from app.directory import Directory, Person
from app.oidc.client import LOGOUT_TOKEN_SECONDS, LogoutRequest, ProviderSignIn
from app.oidc.models import UsedLogoutToken
from app.sessions.store import SessionStore
from app.text import has_control_characters


class NotAHostedAccount(Exception):
    """The provider vouches for someone the directory does not know (or not as a person)."""


class NotTheSamePerson(Exception):
    """Re-authentication came back signed in as someone else."""


class ReauthNotHonoured(Exception):
    """The provider did not ask for the password again (auth_time is older than the ask)."""


class ReplayedLogoutToken(Exception):
    """This logout token was already acted on."""


def login_from_claims(claims: dict[str, object], login_claim: str) -> str | None:
    value = claims.get(login_claim)
    if not isinstance(value, str):
        return None
    login = value.strip()
    if not login or len(login) > 256 or has_control_characters(login):
        return None
    return login


def find_person(directory: Directory, claims: dict[str, object], login_claim: str) -> Person:
    login = login_from_claims(claims, login_claim)
    person = directory.lookup(login) if login else None
    if person is None:
        raise NotAHostedAccount(login or "")
    return person


def sign_in_through_provider(
    db: Session,
    directory: Directory,
    signed_in: ProviderSignIn,
    *,
    login_claim: str,
    provider: str,
) -> Account:
    """Mirror the directory person the provider vouches for; audited as a sign-in."""
    try:
        person = find_person(directory, signed_in.claims, login_claim)
    except NotAHostedAccount as exc:
        record_refusal(db, "not a hosted account", login=str(exc) or None)
        raise
    return account_services.record_sign_in(db, directory, person, method="oidc", provider=provider)


def confirm_reauthentication(
    db: Session,
    directory: Directory,
    account: Account,
    signed_in: ProviderSignIn,
    *,
    login_claim: str,
    asked_at: int,
    leeway: int,
) -> None:
    """The provider asked the person again: same person, and a fresh authentication."""
    person = directory.lookup(login_from_claims(signed_in.claims, login_claim) or "")
    if person is None or person.dn != account.dn:
        audit.record(
            db, "oidc.reauth_refused", account_id=account.id, reason="another person signed in"
        )
        raise NotTheSamePerson
    if signed_in.auth_time is None or signed_in.auth_time < asked_at - leeway:
        audit.record(
            db,
            "oidc.reauth_refused",
            account_id=account.id,
            actor_id=account.id,
            reason="provider did not ask again (auth_time)",
        )
        raise ReauthNotHonoured
    audit.record(db, "oidc.reauth_succeeded", account_id=account.id, actor_id=account.id)


def record_refusal(
    db: Session, reason: str, *, account_id: int | None = None, login: str | None = None
) -> None:
    audit.record(db, "oidc.refused", account_id=account_id, login=login, reason=reason)


def _token_key(issuer: str, jti: str) -> str:
    return hashlib.sha256(f"{issuer}\n{jti}".encode()).hexdigest()


def end_provider_sessions(
    db: Session, store: SessionStore, logout: LogoutRequest, *, issuer: str, provider: str
) -> int:
    """Act once on a checked logout token: end the sessions it names, audit per account."""
    key = _token_key(issuer, logout.jti)
    if db.scalar(select(UsedLogoutToken.id).where(UsedLogoutToken.id == key)) is not None:
        raise ReplayedLogoutToken
    # The sessions end first, in the store's own transaction: this request's transaction
    # must not hold a write lock yet (SQLite would make the store wait for it). Ending them
    # twice, should a replay race this request, ends nothing more.
    accounts = store.delete_for_provider_session(sid=logout.sid, sub=logout.sub)
    now = utcnow()
    db.execute(delete(UsedLogoutToken).where(UsedLogoutToken.expires_at <= now))
    # Kept until the token would be refused as too old anyway (plus the clock leeway).
    keep = max(0, logout.issued_at + 2 * LOGOUT_TOKEN_SECONDS - int(time.time()))
    db.add(UsedLogoutToken(id=key, expires_at=now + timedelta(seconds=keep)))
    try:
        db.flush()
    except IntegrityError as exc:
        raise ReplayedLogoutToken from exc
    for account_id in sorted(set(accounts)):
        audit.record(
            db,
            "oidc.backchannel_logout",
            account_id=account_id,
            provider=provider,
            count=accounts.count(account_id),
        )
    return len(accounts)
