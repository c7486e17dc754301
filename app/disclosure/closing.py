"""The closing plan (DESIGN §11): notices, reminders by mail, and where people can go next.

A service or the whole organisation carries `closing = { date, message }` in hoster.toml.
From then on every page shows the notice with the export one click away; reminders go out
at the notice, a month before, a week before and on the day, each once, to every account in
its own language; and "where to go next" lists other CHATONS members that run the same
software with registration open, read from the federation cache (federation.py).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.accounts.models import Account
from app.audit import AuditEvent
from app.connectors.base import ArchiveEntry, DataItem
from app.disclosure.models import ClosingOptOut, ClosingReminder
from app.links import external_url, mail_domain
from app.mail import queue_mail
from app.profile.model import HosterProfile
from app.profile.texts import LocalizedText

ORGANISATION = "organization"
STAGE_LABELS = {
    "notice": _l("At the notice"),
    "month": _l("A month before"),
    "week": _l("A week before"),
    "day": _l("On the day"),
}
MONTH_BEFORE = timedelta(days=30)
WEEK_BEFORE = timedelta(days=7)


@dataclass(frozen=True)
class Notice:
    subject: str  # a service slug, or ORGANISATION
    name: LocalizedText | str
    date: date
    message: LocalizedText
    software: str | None  # for "where to go next"; None for the whole organisation
    closed: bool  # the date has passed


def notices(profile: HosterProfile, today: date) -> list[Notice]:
    """Every closing announced in hoster.toml, the organisation's first, soonest first."""
    found = []
    org = profile.organisation
    if org.closing is not None:
        found.append(
            Notice(
                subject=ORGANISATION,
                name=org.name,
                date=org.closing.date,
                message=org.closing.message,
                software=None,
                closed=today > org.closing.date,
            )
        )
    services = sorted(
        (s for s in profile.services if s.closing is not None),
        key=lambda s: (s.closing.date, s.slug),  # type: ignore[union-attr]
    )
    for service in services:
        assert service.closing is not None
        found.append(
            Notice(
                subject=service.slug,
                name=service.name,
                date=service.closing.date,
                message=service.closing.message,
                software=service.software.name,
                closed=today > service.closing.date,
            )
        )
    return found


def due_stage(closing_date: date, today: date) -> str | None:
    """The latest reminder due today: none after the day, the notice until a month before."""
    if today > closing_date:
        return None
    if today == closing_date:
        return "day"
    if today >= closing_date - WEEK_BEFORE:
        return "week"
    if today >= closing_date - MONTH_BEFORE:
        return "month"
    return "notice"


@dataclass(frozen=True)
class Mailing:
    subject: str
    stage: str
    recipients: int


def send_reminders(session: Session, profile: HosterProfile, today: date) -> list[Mailing]:
    """Queue the reminders due today, each stage of each closing once (bulk, through the
    outbox); a stage skipped because the notice came late is never sent afterwards."""
    languages = current_app.config["LANGUAGES"]
    people = session.execute(
        # The language the person chose in the panel first, else the directory's.
        select(
            Account.id, Account.email, func.coalesce(Account.chosen_language, Account.language)
        ).where(
            Account.email.is_not(None),
            Account.id.not_in(select(ClosingOptOut.account_id)),
        )
    ).all()
    secret = str(current_app.config["SECRET_KEY"])
    sent = []
    for notice in notices(profile, today):
        stage = due_stage(notice.date, today)
        if stage is None:
            continue
        already = session.scalar(
            select(ClosingReminder.id).where(
                ClosingReminder.subject == notice.subject,
                ClosingReminder.closing_date == notice.date,
                ClosingReminder.stage == stage,
            )
        )
        if already is not None:
            continue
        count = 0
        for account_id, email, language in people:
            chosen = language if language in languages else languages[0]
            unsubscribe = external_url(
                "hosting.closing_unsubscribe",
                token=make_token(secret, account_id, str(email)),
            )
            with force_locale(chosen):
                queued = queue_mail(
                    session,
                    to=str(email),
                    template="closing_reminder",
                    purpose="closing.reminder",
                    bulk=True,
                    headers={
                        "List-Id": f"<closing.{mail_domain()}>",
                        "List-Unsubscribe": f"<{unsubscribe}>",
                        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                        "Precedence": "bulk",
                        "Auto-Submitted": "auto-generated",
                    },
                    unsubscribe_link=unsubscribe,
                    notice=notice,
                    stage=stage,
                    days_left=(notice.date - today).days,
                    export_link=external_url("export.export_page"),
                    data_link=external_url("export.data_page"),
                    closing_link=external_url("hosting.closing_page"),
                )
            count += 1 if queued is not None else 0
        session.add(
            ClosingReminder(
                subject=notice.subject, closing_date=notice.date, stage=stage, recipients=count
            )
        )
        sent.append(Mailing(notice.subject, stage, count))
    return sent


# One-click unsubscribe -------------------------------------------------------------------


def _serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt="closing-unsubscribe")


def _fingerprint(email: str) -> str:
    # A new address gets a new token: an old mail cannot stop another person's reminders.
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:16]


def make_token(secret: str, account_id: int, email: str) -> str:
    return str(_serializer(secret).dumps([account_id, _fingerprint(email)]))


def read_token(session: Session, secret: str, token: str) -> Account | None:
    try:
        loaded = _serializer(secret).loads(token)
    except BadSignature:
        return None
    if not (isinstance(loaded, list) and len(loaded) == 2 and isinstance(loaded[0], int)):
        return None
    account = session.get(Account, loaded[0])
    if account is None or not account.email:
        return None
    if not hmac.compare_digest(_fingerprint(account.email), str(loaded[1])):
        return None
    return account


def stop_reminders(session: Session, account: Account) -> None:
    if session.get(ClosingOptOut, account.id) is None:
        session.add(ClosingOptOut(account_id=account.id))


class ClosingMailSection:
    """A person's choice to stop the closing reminders: on /account/data, exported, deleted."""

    name = "closing"

    def inventory(self, session: Session, account: Account) -> list[DataItem]:
        if session.get(ClosingOptOut, account.id) is None:
            return []
        return [
            DataItem(
                service="panel",
                kind=str(_l("That you stopped the reminders of a closing service")),
                location=str(_l("the panel's database")),
                retention=str(_l("until you delete your account")),
                exported=True,
            )
        ]

    def export(self, session: Session, account: Account) -> Iterator[ArchiveEntry]:
        found = session.get(ClosingOptOut, account.id)
        if found is None:
            return
        data = json.dumps(
            {"closing_reminders_stopped_at": found.created_at.isoformat()}, indent=2
        ).encode("utf-8")
        yield ArchiveEntry(path="panel/closing.json", chunks=[data], size=len(data), format="JSON")

    def delete(self, session: Session, account: Account) -> None:
        found = session.get(ClosingOptOut, account.id)
        if found is not None:
            session.delete(found)


@dataclass(frozen=True)
class ClosingProgress:
    """For staff: how the closing goes, in counts only."""

    notice: Notice
    reminders: list[tuple[str, datetime, int]]  # stage, when, recipients
    noticed_at: datetime | None
    exported_since: int  # different people who downloaded their export since the notice


def progress(session: Session, profile: HosterProfile, today: date) -> list[ClosingProgress]:
    found = []
    for notice in notices(profile, today):
        rows = session.execute(
            select(ClosingReminder.stage, ClosingReminder.sent_at, ClosingReminder.recipients)
            .where(
                ClosingReminder.subject == notice.subject,
                ClosingReminder.closing_date == notice.date,
            )
            .order_by(ClosingReminder.sent_at)
        ).all()
        reminders = [(r.stage, r.sent_at, r.recipients) for r in rows]
        noticed_at = reminders[0][1] if reminders else None
        exported = 0
        if noticed_at is not None:
            exported = int(
                session.scalar(
                    select(func.count(func.distinct(AuditEvent.account_id))).where(
                        AuditEvent.action == "export.downloaded",
                        AuditEvent.created_at >= noticed_at,
                    )
                )
                or 0
            )
        found.append(ClosingProgress(notice, reminders, noticed_at, exported))
    return found
