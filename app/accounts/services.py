"""Sign-in, account mirror and directory re-checks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app import audit
from app.accounts.models import Account
from app.db import utcnow
from app.directory import Directory, Person
from app.text import has_control_characters


class InvalidCredentials(Exception):
    """Unknown login or wrong password: deliberately one error for both."""


def find_account(session: Session, uid: str) -> Account | None:
    return session.scalar(select(Account).where(Account.uid == uid))


def _create_account(session: Session, uid: str) -> Account:
    """Insert the mirror row unless another request just did (first sign-ins in parallel)."""
    values = {"uid": uid, "dn": "", "display_name": uid, "created_at": utcnow()}
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(
            postgresql_insert(Account)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["uid"])
        )
    elif dialect == "sqlite":
        session.execute(
            sqlite_insert(Account).values(**values).on_conflict_do_nothing(index_elements=["uid"])
        )
    else:
        session.add(Account(**values))
        session.flush()
    account = find_account(session, uid)
    if account is None:
        raise RuntimeError(f"the account {uid!r} was neither created nor found")
    return account


def sync_account(session: Session, person: Person, *, is_staff: bool) -> Account:
    """Create or refresh the local mirror of a directory person."""
    account = find_account(session, person.uid)
    if account is None:
        account = _create_account(session, person.uid)
    account.dn = person.dn
    account.display_name = person.display_name
    account.email = person.email
    account.language = person.language
    account.is_staff = is_staff
    account.last_directory_check_at = utcnow()
    session.flush()
    return account


def sign_in(session: Session, directory: Directory, login: str, password: str) -> Account:
    """Check the password against the directory and mirror the person; audited either way."""
    login = login.strip()
    if has_control_characters(login) or has_control_characters(password):
        # Nobody's login holds a control character (and PostgreSQL cannot compare a NUL).
        audit.record(session, "login.failed", login=None)
        raise InvalidCredentials
    person = directory.authenticate(login, password)
    if person is None:
        known = find_account(session, login)
        audit.record(session, "login.failed", account_id=known.id if known else None, login=login)
        raise InvalidCredentials
    return record_sign_in(session, directory, person)


def record_sign_in(
    session: Session, directory: Directory, person: Person, **details: str
) -> Account:
    """Mirror a person who just proved who they are (password or SSO) and audit it."""
    account = sync_account(session, person, is_staff=directory.is_staff(person))
    account.last_login_at = utcnow()
    audit.record(session, "login.succeeded", account_id=account.id, actor_id=account.id, **details)
    return account


def choose_language(session: Session, account: Account, language: str) -> None:
    """The language the person picked with the switch, for their pages and mail."""
    if account.chosen_language != language:
        account.chosen_language = language
        session.flush()


def settle_language(
    account: Account, session_choice: str | None, languages: Sequence[str]
) -> str | None:
    """The language to use after sign-in: the account's stored choice, else the choice
    made on this browser before signing in (then stored), else None (the directory's)."""
    if account.chosen_language in languages:
        return account.chosen_language
    if session_choice in languages:
        account.chosen_language = session_choice
        return session_choice
    return None


def sign_out(session: Session, account: Account) -> None:
    audit.record(session, "logout", account_id=account.id, actor_id=account.id)


def confirm_password(
    session: Session, directory: Directory, account: Account, password: str
) -> bool:
    """Re-authentication before export or deletion; failures are audited."""
    person = directory.authenticate(account.uid, password)
    ok = person is not None and person.dn == account.dn
    audit.record(
        session,
        "reauth.succeeded" if ok else "reauth.failed",
        account_id=account.id,
        actor_id=account.id,
    )
    return ok


def recheck_due(account: Account, interval_seconds: int) -> bool:
    checked = account.last_directory_check_at
    return checked is None or utcnow() - checked >= timedelta(seconds=interval_seconds)


def recheck_account(session: Session, directory: Directory, account: Account) -> bool:
    """Refresh the mirror from the directory; False if the person is gone or filtered out.

    Raises DirectoryUnavailable when the directory cannot answer: callers fail closed.
    """
    person = directory.lookup(account.uid)
    if person is None:
        audit.record(session, "access.revoked", account_id=account.id, reason="not in directory")
        account.last_directory_check_at = utcnow()
        return False
    was_staff = account.is_staff
    sync_account(session, person, is_staff=directory.is_staff(person))
    if was_staff != account.is_staff:
        audit.record(
            session,
            "staff.granted" if account.is_staff else "staff.revoked",
            account_id=account.id,
        )
    return True
