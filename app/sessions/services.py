"""Open sessions of an account: list them, end the others, end them all (audited)."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.orm import Session

from app import audit
from app.accounts.models import Account
from app.sessions.models import SessionRecord
from app.sessions.store import SessionStore, StoredSession


def list_sessions(store: SessionStore, account: Account) -> list[StoredSession]:
    """The account's open sessions, most recently active first."""
    return store.for_account(account.id)


def end_other_sessions(
    db: Session, store: SessionStore, account: Account, *, current_key: str | None
) -> int:
    """Sign the account out everywhere except in the session asking for it."""
    ended = store.delete_for_account(account.id, keep=current_key)
    audit.record(
        db, "sessions.ended_others", account_id=account.id, actor_id=account.id, count=ended
    )
    return ended


def end_all_sessions(
    db: Session, store: SessionStore, account: Account, *, actor: Account, reason: str
) -> int:
    """End every session of the account: by the person ("everywhere"), by staff, or because
    the directory no longer knows the person or their staff rights were removed."""
    ended = store.delete_for_account(account.id)
    action = "sessions.ended_all" if actor.id == account.id else "sessions.ended_by_staff"
    audit.record(db, action, account_id=account.id, actor_id=actor.id, count=ended, reason=reason)
    return ended


def end_sessions_on_access_change(
    db: Session, store: SessionStore, account: Account, *, reason: str
) -> int:
    """End every session after the directory re-check removed access or staff rights."""
    ended = store.delete_for_account(account.id)
    audit.record(db, "sessions.ended_all", account_id=account.id, count=ended, reason=reason)
    return ended


def forget_account_sessions(db: Session, store: SessionStore, account: Account) -> None:
    """Part of deleting an account, inside the deletion's transaction."""
    if store.in_database:
        db.execute(delete(SessionRecord).where(SessionRecord.account_id == account.id))
    else:
        store.delete_for_account(account.id)
