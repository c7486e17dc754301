"""Start-up of incident mail: settings, CLI, the account's data section and the /stats figure."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import click
from flask import Flask, has_app_context
from flask.cli import with_appcontext
from flask_babel import lazy_gettext as _l
from sqlalchemy import event
from sqlalchemy.orm import Session

from app import tasks
from app.accounts.models import Account
from app.connectors.base import ArchiveEntry, DataItem
from app.db import session_scope
from app.extensions import running_app
from app.incidents import subscriptions as subs
from app.incidents.cache import CHANGED
from app.incidents.notifications import mail_subscribers
from app.mail import send_queued
from app.transparency.statistics import StatsWindow

log = logging.getLogger(__name__)
NOTIFY_TASK = "incidents.notify"
PURGE_TASK = "incidents.purge_subscriptions"
NEWS = "incidents.news_to_mail"

SETTINGS = {
    # Later updates of one incident wait this long after the previous mail (then one mail).
    "INCIDENTS_MAIL_GROUP_MINUTES": 5,
    # List mails sent per run of `flask incidents notify` (once a minute from cron).
    "INCIDENTS_MAIL_PER_RUN": 200,
}


class IncidentMailSection:
    """A person's own subscription: shown on /account/data, exported, deleted with them."""

    name = "incident-mail"

    def inventory(self, session: Session, account: Account) -> list[DataItem]:
        mine = subs.find_for_account(session, account)
        if mine is None:
            return []
        services = ", ".join(mine.service_slugs) or str(_l("every service"))
        return [
            DataItem(
                service="panel",
                kind=str(
                    _l(
                        "Your incident mail subscription: %(email)s, about %(services)s",
                        email=mine.email,
                        services=services,
                    )
                ),
                location=str(_l("the panel's database")),
                retention=str(_l("until you unsubscribe or delete your account")),
                exported=True,
            )
        ]

    def export(self, session: Session, account: Account) -> Iterator[ArchiveEntry]:
        mine = subs.find_for_account(session, account)
        if mine is None:
            return
        document = {
            "email": mine.email,
            "language": mine.language,
            "services": mine.service_slugs or "all",
            "subscribed_at": mine.created_at.isoformat(),
            "confirmed_at": mine.confirmed_at.isoformat() if mine.confirmed_at else None,
        }
        data = json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")
        yield ArchiveEntry(
            path="panel/incident-mail.json", chunks=[data], size=len(data), format="JSON"
        )

    def delete(self, session: Session, account: Account) -> None:
        mine = subs.find_for_account(session, account)
        if mine is not None:
            session.delete(mine)


def subscribers(session: Session, _window: StatsWindow) -> int:
    return subs.count_confirmed(session)


def notify(app: Flask, *, now: datetime | None = None) -> tuple[int, int, int]:
    """Queue what is new, then send list mail at the throttled pace: (queued, sent, failed)."""
    with app.app_context(), session_scope(app) as session:
        queued = mail_subscribers(session, now=now)
    sent, failed = send_queued(app, limit=int(app.config["INCIDENTS_MAIL_PER_RUN"]), bulk=True)
    return queued, sent, failed


def notify_job(app: Flask) -> None:
    queued, sent, failed = notify(app)
    if queued or sent or failed:
        log.info("incident mail: %s queued, %s sent, %s failed", queued, sent, failed)


def purge_job(app: Flask) -> None:
    purge(app)


@event.listens_for(Session, "before_commit")
def _remember_news(session: Session) -> None:
    if session.info.get(CHANGED):
        session.info[NEWS] = True


@event.listens_for(Session, "after_commit")
def _wake_the_worker(session: Session) -> None:
    """A journal change wakes the worker at once, so the first mail leaves within seconds.

    Only with a real queue: in immediate mode the task would run inside the staff
    member's request, so the periodic task (or cron) sends instead.
    """
    if not session.info.pop(NEWS, False) or not has_app_context():
        return
    app: Flask = running_app()
    if "panel_queue" not in app.extensions or tasks.is_immediate(app):
        return
    try:
        tasks.enqueue(app, NOTIFY_TASK)
    except Exception:  # the periodic task catches up; never fail the staff's request
        log.exception("could not queue the incident mail task")


@event.listens_for(Session, "after_soft_rollback")
def _forget_news(session: Session, _previous: Any) -> None:
    session.info.pop(NEWS, None)


def purge(app: Flask) -> int:
    with session_scope(app) as session:
        return subs.purge_unconfirmed(session)


@click.command("notify", help="Mail subscribers what is new in the journal (run it every minute).")
@with_appcontext
def notify_command() -> None:
    queued, sent, failed = notify(running_app())
    click.echo(f"{queued} queued, {sent} sent, {failed} failed")


@click.command(
    "purge-subscriptions",
    help=f"Delete addresses not confirmed within {subs.CONFIRM_HOURS} hours (run it hourly).",
)
@with_appcontext
def purge_command() -> None:
    removed = purge(running_app())
    click.echo(f"{removed} unconfirmed address(es) deleted")
