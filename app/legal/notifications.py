"""Telling every person with an account that a new version of a document was published."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from flask_babel import force_locale
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import Account
from app.legal.models import TermsVersion
from app.mail import queue_mail


def mail_language(account: Account, languages: Sequence[str]) -> str:
    """The person's chosen language, else the directory's, else the hoster's first."""
    primary = (account.preferred_language or "").split("-")[0].split("_")[0].lower()
    return primary if primary in languages else str(languages[0])


def announce_version(
    session: Session,
    version: TermsVersion,
    *,
    title: Callable[[], str],
    diff_url: str | None,
    version_url: str,
    languages: Sequence[str],
) -> int:
    """Queue one mail per account with an address, in its language, as list mail (bulk:
    sent at the outbox's pace, not during the publisher's request). Returns how many.

    `title` is called under each reader's language; `diff_url` is None for a first version.
    """
    queued = 0
    accounts = session.scalars(
        select(Account).where(Account.email.is_not(None)).order_by(Account.id)
    )
    for account in accounts:
        language = mail_language(account, languages)
        with force_locale(language):
            mail = queue_mail(
                session,
                to=account.email or "",
                template="legal_published",
                purpose="legal.published",
                bulk=True,
                account=account,
                version=version,
                title=str(title()),
                summary=version.summary(language),
                diff_url=diff_url,
                version_url=version_url,
            )
        queued += mail is not None
    return queued
