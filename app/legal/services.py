"""Publishing terms versions, finding the one in effect, recording acceptances.

Services take a session and plain values, raise `LegalError` subclasses with a message
for the user, and never commit: the caller commits once, or rolls back on an error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer, joinedload

from app import audit
from app.accounts.models import Account
from app.db import rows_changed, utcnow
from app.legal.cache import mark_changed
from app.legal.diff import TextDiff, diff_texts
from app.legal.models import (
    DEFAULT_LANGUAGE,
    DOCUMENTS,
    TEXT_LANGUAGES,
    TermsAcceptance,
    TermsVersion,
)
from app.legal.rendering import text_blocks

MAX_BODY_BYTES = 1024 * 1024
# Lists (history, overview, announcements) leave the bodies, up to 1 MB each, in the
# database; a body still loads on first use, within the session.
WITHOUT_BODIES = (defer(TermsVersion.body_fr), defer(TermsVersion.body_en))
# Invisible control characters (NUL is refused by PostgreSQL); tab and newlines are fine.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_SUMMARY_CHARS = 2000


class LegalError(Exception):
    """A request about terms that cannot be done; `str(error)` is shown to the user."""

    def __init__(self, message: object, **params: object) -> None:
        # Kept lazy: it is translated when shown, in the reader's language.
        super().__init__(message)
        self.message = message
        self.params = params

    def __str__(self) -> str:
        return str(self.message) % self.params if self.params else str(self.message)


class UnknownDocument(LegalError):
    pass


class InvalidText(LegalError):
    """Empty or oversized body, missing French text, unknown language, bad summary."""

    def __init__(
        self,
        message: object,
        *,
        language: str | None = None,
        part: str = "body",
        **params: object,
    ) -> None:
        super().__init__(message, **params)
        self.language = language
        self.part = part  # "body" or "summary": which field the message belongs to


class InvalidEffectiveDate(LegalError):
    pass


class PublishConflict(LegalError):
    """Somebody else published a version of the same document at the same moment."""


class StaleVersion(LegalError):
    """The version shown to the user is no longer the one in effect."""


@dataclass(frozen=True)
class DraftText:
    body: str
    summary: str = ""


def check_document(document: str) -> str:
    if document not in DOCUMENTS:
        raise UnknownDocument(_l("There is no document called “%(name)s”."), name=document)
    return document


def _check_texts(texts: Mapping[str, DraftText]) -> dict[str, DraftText]:
    for language in texts:
        if language not in TEXT_LANGUAGES:
            raise InvalidText(
                _l("Unknown language “%(code)s”: texts can be in %(known)s."),
                language=language,
                code=language,
                known=", ".join(TEXT_LANGUAGES),
            )
    clean: dict[str, DraftText] = {}
    for language, draft in texts.items():
        body = draft.body.replace("\r\n", "\n")
        summary = " ".join(draft.summary.split())
        if language != DEFAULT_LANGUAGE and not body.strip() and not summary:
            continue  # an empty optional translation is no translation
        if not body.strip():
            raise InvalidText(
                _l("The text is empty. Write the text of this version."), language=language
            )
        if len(body.encode("utf-8")) > MAX_BODY_BYTES:
            raise InvalidText(
                _l("The text is larger than 1 MB. Shorten it or split it into documents."),
                language=language,
            )
        if len(summary) > MAX_SUMMARY_CHARS:
            raise InvalidText(
                _l("The summary is longer than %(max)s characters."),
                language=language,
                part="summary",
                max=MAX_SUMMARY_CHARS,
            )
        for part, value in (("body", body), ("summary", summary)):
            if CONTROL_CHARACTERS.search(value):
                raise InvalidText(
                    _l("The text contains invisible control characters. Remove them."),
                    language=language,
                    part=part,
                )
        clean[language] = DraftText(body=body.strip("\n") + "\n", summary=summary)
    french = clean.get(DEFAULT_LANGUAGE)
    if french is None:
        raise InvalidText(_l("The French text is required."), language=DEFAULT_LANGUAGE)
    if not french.summary:
        raise InvalidText(
            _l("Say in a sentence or two what changes in this version."),
            language=DEFAULT_LANGUAGE,
            part="summary",
        )
    return clean


# Terms take effect within a few years of their publication; beyond that a date is a typo
# (and the ends of the calendar cannot even be moved to another time zone).
EFFECTIVE_YEARS_AHEAD = 10
EARLIEST_EFFECTIVE = date(1970, 1, 1)


def _check_date_within_reason(effective_on: date | None, *, zone: ZoneInfo, now: datetime) -> None:
    if effective_on is None:
        return
    latest = now.astimezone(zone).date() + timedelta(days=365 * EFFECTIVE_YEARS_AHEAD)
    if not EARLIEST_EFFECTIVE <= effective_on <= latest:
        raise InvalidEffectiveDate(
            _l("Choose a date between %(first)s and %(last)s."),
            first=EARLIEST_EFFECTIVE.isoformat(),
            last=latest.isoformat(),
        )


def effective_moment(effective_on: date | None, *, zone: ZoneInfo, now: datetime) -> datetime:
    """Midnight of `effective_on` in the hoster's time zone; today or none means now."""
    if effective_on is None or effective_on == now.astimezone(zone).date():
        return now
    return datetime.combine(effective_on, time.min, tzinfo=zone).astimezone(now.tzinfo)


def latest_version(session: Session, document: str) -> TermsVersion | None:
    return session.scalars(
        select(TermsVersion)
        .where(TermsVersion.document == document)
        .order_by(TermsVersion.number.desc())
        .limit(1)
    ).first()


@dataclass(frozen=True)
class LanguageChange:
    """What a draft changes in one language, against the latest version."""

    language: str
    diff: TextDiff | None  # None when the latest version has no text in this language
    added: bool = False  # a translation the latest version did not have
    removed: bool = False  # a translation the draft drops

    @property
    def changed(self) -> bool:
        return self.added or self.removed or (self.diff is not None and self.diff.changed)


@dataclass(frozen=True)
class PublicationReview:
    """What publishing a draft would do, shown to staff before they confirm."""

    document: str
    number: int
    changes: tuple[LanguageChange, ...]
    accounts_to_ask: int

    def change(self, language: str) -> LanguageChange | None:
        return next((c for c in self.changes if c.language == language), None)

    @property
    def only_french_changed(self) -> bool:
        """The binding text changed but an existing translation was left as it was."""
        french, english = self.change(DEFAULT_LANGUAGE), self.change("en")
        return bool(french and french.changed and english and english.diff and not english.changed)

    @property
    def only_translation_changed(self) -> bool:
        french, english = self.change(DEFAULT_LANGUAGE), self.change("en")
        return bool(french and not french.changed and english and english.changed)

    @property
    def nothing_changed(self) -> bool:
        return not any(c.changed for c in self.changes)


def same_reading(old: str | None, new: str | None) -> bool:
    """Two Markdown texts read the same (same blocks and words, whatever the wrapping)."""
    if old is None or new is None:
        return old is new
    return text_blocks(old) == text_blocks(new)


def count_accounts(session: Session) -> int:
    """Everyone with an account: each is asked to accept a new version once it applies."""
    return int(session.scalar(select(func.count()).select_from(Account)) or 0)


def review_publication(
    session: Session,
    document: str,
    texts: Mapping[str, DraftText],
    *,
    effective_on: date | None = None,
    zone: ZoneInfo,
    now: datetime | None = None,
) -> PublicationReview:
    """Check a draft as `publish_version` would, and say what publishing it changes."""
    check_document(document)
    clean = _check_texts(texts)
    previous = latest_version(session, document)
    _check_effective_date(previous, effective_on, zone=zone, now=now or utcnow())
    changes = []
    for language in TEXT_LANGUAGES:
        draft = clean.get(language)
        before = previous.body(language) if previous and previous.has_language(language) else None
        if draft is None and before is None:
            continue
        if draft is None:
            changes.append(LanguageChange(language, None, removed=True))
        elif before is None:
            changes.append(LanguageChange(language, None, added=previous is not None))
        else:
            changes.append(LanguageChange(language, diff_texts(before, draft.body)))
    return PublicationReview(
        document=document,
        number=(previous.number + 1) if previous else 1,
        changes=tuple(changes),
        accounts_to_ask=count_accounts(session),
    )


def stale_translation(old: TermsVersion, new: TermsVersion) -> bool:
    """Between two versions the French (binding) text changed but its translation did not."""
    return (
        old.body_en is not None
        and new.body_en is not None
        and same_reading(old.body_en, new.body_en)
        and not same_reading(old.body_fr, new.body_fr)
    )


def outdated_translations(session: Session, document: str) -> dict[int, int]:
    """Versions whose English translation lags behind the French (binding) text.

    Maps a version number to the number of the version where the French text first changed
    without its translation following; a version whose translation is up to date (or that
    has none: readers then get the French text) is left out.
    """
    rows = session.execute(
        select(TermsVersion.number, TermsVersion.body_fr, TermsVersion.body_en)
        .where(TermsVersion.document == document)
        .order_by(TermsVersion.number)
    ).all()
    outdated: dict[int, int] = {}
    since: int | None = None
    previous: Any = None
    for row in rows:
        if previous is None or row.body_en is None or previous.body_en is None:
            since = None
        elif not same_reading(previous.body_en, row.body_en):
            since = None  # the translation was brought up to date
        elif since is None and not same_reading(previous.body_fr, row.body_fr):
            since = row.number
        if since is not None:
            outdated[row.number] = since
        previous = row
    return outdated


def _check_effective_date(
    previous: TermsVersion | None, effective_on: date | None, *, zone: ZoneInfo, now: datetime
) -> datetime:
    _check_date_within_reason(effective_on, zone=zone, now=now)
    effective_at = effective_moment(effective_on, zone=zone, now=now)
    if previous is not None and effective_at < previous.effective_at:
        raise InvalidEffectiveDate(
            _l(
                "The effective date cannot be before the one of version %(number)s "
                "(%(date)s): choose that day or a later one."
            ),
            number=previous.number,
            date=previous.effective_at.astimezone(zone).date().isoformat(),
        )
    return effective_at


def publish_version(
    session: Session,
    document: str,
    texts: Mapping[str, DraftText],
    *,
    effective_on: date | None = None,
    zone: ZoneInfo,
    publisher: Account | None = None,
    now: datetime | None = None,
) -> TermsVersion:
    """Add the next version of `document`; numbers are consecutive, dates never go back."""
    check_document(document)
    clean = _check_texts(texts)
    now = now or utcnow()
    previous = latest_version(session, document)
    effective_at = _check_effective_date(previous, effective_on, zone=zone, now=now)
    english = clean.get("en")
    version = TermsVersion(
        document=document,
        number=(previous.number + 1) if previous else 1,
        body_fr=clean[DEFAULT_LANGUAGE].body,
        summary_fr=clean[DEFAULT_LANGUAGE].summary,
        body_en=english.body if english else None,
        summary_en=(english.summary or None) if english else None,
        effective_at=effective_at,
        published_at=now,
        published_by_id=publisher.id if publisher else None,
    )
    session.add(version)
    try:
        # The unique (document, number) index and the insert trigger settle a race
        # between two publishers: the second one fails here and the caller rolls back.
        session.flush()
    except IntegrityError as exc:
        raise PublishConflict(
            _l(
                "Someone else published a version of this document at the same moment. "
                "Nothing was saved: read the new version, then publish yours again."
            )
        ) from exc
    mark_changed(session)
    actor_id = publisher.id if publisher else None
    audit.record(
        session,
        "legal.published",
        account_id=actor_id,
        actor_id=actor_id,
        document=document,
        number=version.number,
        effective_at=effective_at.isoformat(),
        languages=list(version.languages()),
    )
    return version


def get_version(session: Session, document: str, number: int) -> TermsVersion | None:
    return session.scalars(
        select(TermsVersion).where(TermsVersion.document == document, TermsVersion.number == number)
    ).first()


def list_versions(session: Session, document: str) -> list[TermsVersion]:
    """Every version, newest first (including those not in effect yet)."""
    return list(
        session.scalars(
            select(TermsVersion)
            .where(TermsVersion.document == document)
            .order_by(TermsVersion.number.desc())
            .options(*WITHOUT_BODIES)
        )
    )


def current_versions(session: Session, now: datetime | None = None) -> dict[str, TermsVersion]:
    """The version in effect of each document that has one (one query)."""
    now = now or utcnow()
    latest = (
        select(TermsVersion.document, func.max(TermsVersion.number).label("number"))
        .where(TermsVersion.effective_at <= now)
        .group_by(TermsVersion.document)
        .subquery()
    )
    rows = session.scalars(
        select(TermsVersion).join(
            latest,
            (TermsVersion.document == latest.c.document) & (TermsVersion.number == latest.c.number),
        )
    )
    return {version.document: version for version in rows}


def current_version(
    session: Session, document: str, now: datetime | None = None
) -> TermsVersion | None:
    return current_versions(session, now).get(document)


def upcoming_versions(session: Session, now: datetime | None = None) -> list[TermsVersion]:
    """Published versions whose effective date has not come yet, soonest first."""
    now = now or utcnow()
    return list(
        session.scalars(
            select(TermsVersion)
            .where(TermsVersion.effective_at > now)
            .order_by(TermsVersion.effective_at, TermsVersion.document, TermsVersion.number)
            .options(*WITHOUT_BODIES)
        )
    )


def count_upcoming(session: Session) -> int:
    query = (
        select(func.count()).select_from(TermsVersion).where(TermsVersion.effective_at > utcnow())
    )
    return int(session.scalar(query) or 0)


def acceptances_of(session: Session, account_id: int) -> list[TermsAcceptance]:
    """Everything this account accepted, newest first."""
    return list(
        session.scalars(
            select(TermsAcceptance)
            .where(TermsAcceptance.account_id == account_id)
            .order_by(TermsAcceptance.accepted_at.desc(), TermsAcceptance.id.desc())
            .options(joinedload(TermsAcceptance.version).options(*WITHOUT_BODIES))
        )
    )


def last_accepted(session: Session, account_id: int) -> dict[str, TermsVersion]:
    """The highest version of each document this account accepted."""
    found: dict[str, TermsVersion] = {}
    for acceptance in acceptances_of(session, account_id):
        version = acceptance.version
        known = found.get(version.document)
        if known is None or version.number > known.number:
            found[version.document] = version
    return found


@dataclass(frozen=True)
class PendingDocument:
    """A document whose version in effect this account has not accepted yet."""

    current: TermsVersion
    accepted: TermsVersion | None  # the last version they accepted, if any
    skipped: tuple[TermsVersion, ...]  # versions in between, for their summaries


def pending_documents(
    session: Session, account_id: int, now: datetime | None = None
) -> list[PendingDocument]:
    """What the account must accept before going on, in document order; empty = nothing."""
    in_effect = current_versions(session, now)
    if not in_effect:
        return []
    accepted = last_accepted(session, account_id)
    pending = []
    for document in DOCUMENTS:
        current = in_effect.get(document)
        if current is None:
            continue
        mine = accepted.get(document)
        if mine is not None and mine.number >= current.number:
            continue
        low = mine.number if mine else 0
        between = session.scalars(
            select(TermsVersion)
            .where(
                TermsVersion.document == document,
                TermsVersion.number > low,
                TermsVersion.number < current.number,
            )
            .order_by(TermsVersion.number.desc())
        )
        pending.append(PendingDocument(current=current, accepted=mine, skipped=tuple(between)))
    return pending


def needs_acceptance(session: Session, account_id: int, now: datetime | None = None) -> bool:
    """The gate's question, asked on every private request: one small query."""
    now = now or utcnow()
    latest = (
        select(TermsVersion.document, func.max(TermsVersion.number).label("number"))
        .where(TermsVersion.effective_at <= now)
        .group_by(TermsVersion.document)
        .subquery()
    )
    accepted = select(TermsAcceptance.id).where(
        TermsAcceptance.account_id == account_id,
        TermsAcceptance.version_id == TermsVersion.id,
    )
    # Accepting a version also covers older ones, so only the versions in effect matter.
    unaccepted = (
        select(TermsVersion.id)
        .join(
            latest,
            (TermsVersion.document == latest.c.document) & (TermsVersion.number == latest.c.number),
        )
        .where(~accepted.exists())
        .limit(1)
    )
    return session.scalar(unaccepted) is not None


def accept_versions(
    session: Session,
    account: Account,
    version_ids: Iterable[int],
    *,
    now: datetime | None = None,
) -> list[TermsAcceptance]:
    """Record that `account` accepts these versions, which must be the ones in effect."""
    now = now or utcnow()
    wanted = set(version_ids)
    in_effect = current_versions(session, now)
    in_effect_ids = {v.id for v in in_effect.values()}
    pending_ids = {p.current.id for p in pending_documents(session, account.id, now)}
    if not wanted or not wanted <= in_effect_ids or not pending_ids <= wanted:
        raise StaleVersion(
            _l(
                "The terms changed while you were reading them. "
                "Read the version now in effect, then accept it."
            )
        )
    already = set(
        session.scalars(
            select(TermsAcceptance.version_id).where(
                TermsAcceptance.account_id == account.id,
                TermsAcceptance.version_id.in_(wanted),
            )
        )
    )
    recorded = []
    for version in sorted(in_effect.values(), key=lambda v: DOCUMENTS.index(v.document)):
        if version.id not in wanted or version.id in already:
            continue
        acceptance = TermsAcceptance(account_id=account.id, version_id=version.id, accepted_at=now)
        session.add(acceptance)
        recorded.append(acceptance)
        audit.record(
            session,
            "legal.accepted",
            account_id=account.id,
            actor_id=account.id,
            document=version.document,
            number=version.number,
        )
    mark_changed(session)
    session.flush()
    return recorded


def delete_acceptances(session: Session, account_id: int) -> int:
    """Forget what this account accepted (account deletion); returns how many rows went."""
    mark_changed(session)
    result = session.execute(
        delete(TermsAcceptance).where(TermsAcceptance.account_id == account_id)
    )
    return rows_changed(result)


def parse_effective_date(text: str | None) -> date | None:
    """YYYY-MM-DD, or nothing for 'now'; a clear error otherwise."""
    if not text or not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        raise InvalidEffectiveDate(
            _l("“%(text)s” is not a date: write it as YYYY-MM-DD, e.g. 2025-09-01."), text=text
        ) from exc
