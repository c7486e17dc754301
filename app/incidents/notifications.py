"""Incident mail to subscribers: what is new in the journal, grouped, into the outbox.

Nothing here runs in a staff member's request. `mail_subscribers` runs from the worker or
from `flask incidents notify` (cron, every minute): the first mail about an incident
leaves at once; later updates wait until GROUP_MINUTES have passed since the previous
mail, so a burst of updates makes one mail. The outbox then sends list mail at a
throttled pace (INCIDENTS_MAIL_PER_RUN per run).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import force_locale
from sqlalchemy import Boolean, ForeignKey, Integer, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column, selectinload

from app.db import Base, UTCDateTime, utcnow
from app.incidents.models import Incident, IncidentUpdate
from app.incidents.subscriptions import IncidentSubscription, make_token, recipients
from app.links import external_url, mail_domain
from app.mail import queue_mail
from app.profile import current_profile

GROUP_MINUTES = 5
# Older news is not mailed: a freshly enabled feature must not mail the whole history.
NEWS_MAX_AGE = timedelta(hours=6)


class IncidentMailing(Base):
    """How far subscribers were told about one incident."""

    __tablename__ = "incident_mailing"

    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incident.id", ondelete="CASCADE"), primary_key=True
    )
    # The last timeline entry included in a mail.
    last_update_id: Mapped[int] = mapped_column(Integer)
    last_sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Planned work: the "it starts now" mail was sent.
    start_sent: Mapped[bool] = mapped_column(Boolean, default=False)


@dataclass(frozen=True)
class News:
    incident: Incident
    updates: list[IncidentUpdate]
    starting: bool  # a maintenance window just opened


def _pending(session: Session, now: datetime, group: timedelta) -> list[News]:
    since = now - NEWS_MAX_AGE
    candidates = session.scalars(
        select(Incident)
        .where(
            or_(
                Incident.changed_at >= since,
                (Incident.status == "scheduled") & (Incident.scheduled_start <= now),
            )
        )
        .options(selectinload(Incident.services), selectinload(Incident.updates))
        .order_by(Incident.id)
    ).all()
    marks = {
        m.incident_id: m
        for m in session.scalars(
            select(IncidentMailing).where(
                IncidentMailing.incident_id.in_([i.id for i in candidates])
            )
        )
    }
    found: list[News] = []
    for incident in candidates:
        mark = marks.get(incident.id)
        last_id = mark.last_update_id if mark else 0
        fresh = [u for u in incident.updates if u.id > last_id and u.created_at >= since]
        if mark is not None and now - mark.last_sent_at < group:
            fresh = []  # grouped into the next mail
        starting = bool(
            incident.is_maintenance
            and incident.status == "scheduled"
            and incident.scheduled_start is not None
            and since <= incident.scheduled_start <= now
            and not (mark and mark.start_sent)
        )
        if fresh or starting:
            found.append(News(incident=incident, updates=fresh, starting=starting))
    return found


def _record(session: Session, news: News, now: datetime) -> None:
    mark = session.get(IncidentMailing, news.incident.id)
    last_id = max((u.id for u in news.updates), default=0)
    if mark is None:
        mark = IncidentMailing(
            incident_id=news.incident.id, last_update_id=last_id, last_sent_at=now
        )
        session.add(mark)
    mark.last_update_id = max(mark.last_update_id, last_id)
    mark.last_sent_at = now
    started = any(u.status != "scheduled" for u in news.updates)
    mark.start_sent = bool(mark.start_sent or news.starting or started)


def _headers(
    subscription: IncidentSubscription, incident: Incident, unsubscribe: str
) -> dict[str, str]:
    domain = mail_domain()
    return {
        "List-Id": f"<incidents.{domain}>",
        "List-Unsubscribe": f"<{unsubscribe}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "Precedence": "bulk",
        "References": f"<incident-{incident.id}@{domain}>",
    }


def _queue(session: Session, news: News, subscriptions: Sequence[IncidentSubscription]) -> int:
    secret = str(current_app.config["SECRET_KEY"])
    names = {s.slug: s.name for s in current_profile().services}
    languages = current_app.config["LANGUAGES"]
    incident = news.incident
    link = external_url("incidents.detail", incident_id=incident.id)
    for subscription in subscriptions:
        language = subscription.language if subscription.language in languages else languages[0]
        unsubscribe = external_url(
            "incidents.one_click_unsubscribe",
            token=make_token(secret, "unsubscribe", subscription),
        )
        manage = external_url(
            "incidents.manage_subscription", token=make_token(secret, "manage", subscription)
        )
        with force_locale(language):
            queue_mail(
                session,
                to=subscription.email,
                template="incident_news",
                purpose="incidents.news",
                bulk=True,
                headers=_headers(subscription, incident, unsubscribe),
                incident=incident,
                updates=news.updates,
                starting=news.starting,
                service_names=[names.get(s, s) for s in incident.service_slugs],
                link=link,
                manage_link=manage,
                unsubscribe_link=unsubscribe,
                timezone=current_profile().timezone,
            )
    return len(subscriptions)


def mail_subscribers(session: Session, *, now: datetime | None = None) -> int:
    """Queue the news of every incident that has some; returns how many mails were queued."""
    now = now or utcnow()
    group = timedelta(
        minutes=float(current_app.config.get("INCIDENTS_MAIL_GROUP_MINUTES", GROUP_MINUTES))
    )
    queued = 0
    for news in _pending(session, now, group):
        incident = news.incident
        subscriptions = recipients(
            session, incident.service_slugs, accounts_only=incident.visibility != "public"
        )
        queued += _queue(session, news, subscriptions)
        _record(session, news, now)
    return queued
