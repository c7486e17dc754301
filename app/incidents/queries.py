"""What the journal's pages read: visible incidents, history, service states, availability."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session, selectinload

from app.accounts.models import Account
from app.audit import AuditEvent
from app.db import utcnow
from app.incidents import status as rules
from app.incidents.models import (
    Incident,
    IncidentService,
)
from app.profile.texts import LocalizedText

Audience = Literal["public", "users"]


def _visible(stmt: Any, audience: Audience) -> Any:
    if audience == "public":
        return stmt.where(Incident.visibility == "public")
    return stmt


def _on_service(stmt: Any, service: str | None) -> Any:
    if service is None:
        return stmt
    return stmt.where(
        exists().where(
            IncidentService.incident_id == Incident.id, IncidentService.service_slug == service
        )
    )


def journal_version(session: Session) -> datetime | None:
    """Changes whenever anything in the journal changes: every write bumps `changed_at`.

    One indexed lookup, whatever the history size (pages and feeds key their caches on it).
    """
    latest = session.scalar(select(func.max(Incident.changed_at)))
    if isinstance(latest, str):  # SQLite aggregates may bypass the column type
        latest = datetime.fromisoformat(latest)
    if latest is not None and latest.tzinfo is None:
        latest = latest.replace(tzinfo=UTC)
    return latest


def get_visible(session: Session, incident_id: int, audience: Audience) -> Incident | None:
    """One incident with its services and whole timeline, if this audience may see it."""
    stmt = _visible(
        select(Incident)
        .where(Incident.id == incident_id)
        .options(selectinload(Incident.services), selectinload(Incident.updates)),
        audience,
    )
    return session.scalars(stmt).first()


def incident_exists(session: Session, incident_id: int) -> bool:
    return session.get(Incident, incident_id) is not None


def open_incidents(
    session: Session, audience: Audience, service: str | None = None
) -> list[Incident]:
    """Every incident not resolved yet (ongoing and planned), with services loaded."""
    stmt = (
        select(Incident)
        .where(Incident.status != "resolved")
        .options(selectinload(Incident.services))
    )
    stmt = _on_service(_visible(stmt, audience), service)
    return list(session.scalars(stmt.order_by(Incident.id.desc())))


def split_open(
    incidents: Sequence[Incident], now: datetime
) -> tuple[list[Incident], list[Incident]]:
    """(ongoing, upcoming): ongoing newest first, upcoming soonest first."""
    ongoing = [i for i in incidents if rules.is_ongoing(i.impact, i.status, i.scheduled_start, now)]
    upcoming = [
        i for i in incidents if rules.is_upcoming(i.impact, i.status, i.scheduled_start, now)
    ]
    ongoing.sort(key=lambda i: (i.effective_start or now, i.id), reverse=True)
    upcoming.sort(key=lambda i: (i.scheduled_start or now, i.id))
    return ongoing, upcoming


def history_page(
    session: Session,
    audience: Audience,
    service: str | None = None,
    *,
    page: int = 1,
    per_page: int = 20,
) -> tuple[list[Incident], int]:
    """One page of resolved incidents, latest start first, and how many there are."""
    base = _on_service(
        _visible(select(Incident).where(Incident.status == "resolved"), audience), service
    )
    total = session.scalar(select(func.count()).select_from(base.subquery()))
    rows = session.scalars(
        base.options(selectinload(Incident.services))
        .order_by(Incident.started_at.desc(), Incident.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return list(rows), int(total or 0)


@dataclass
class ServiceState:
    slug: str
    name: str | LocalizedText
    level: str = rules.OPERATIONAL
    ongoing: list[Incident] = field(default_factory=list)


def service_states(
    services: Sequence[tuple[str, str | LocalizedText]],
    open_list: Sequence[Incident],
    now: datetime,
) -> list[ServiceState]:
    """The current level of every service, derived from the incidents open on it."""
    states = {slug: ServiceState(slug=slug, name=name) for slug, name in services}
    for incident in open_list:
        level = rules.effect(incident.impact, incident.status, incident.scheduled_start, now)
        if not rules.is_ongoing(incident.impact, incident.status, incident.scheduled_start, now):
            continue
        for slug in incident.service_slugs:
            state = states.get(slug)
            if state is None:
                continue  # a service since removed from hoster.toml
            state.ongoing.append(incident)
            state.level = rules.worst((state.level, level))
    return list(states.values())


def availability_by_service(
    session: Session,
    audience: Audience,
    slugs: Sequence[str],
    now: datetime,
    tz: ZoneInfo,
    days: int = rules.AVAILABILITY_DAYS,
    service_since: dict[str, datetime] | None = None,
    began: datetime | None = None,
) -> dict[str, rules.Availability]:
    """Availability of each service over the last `days` days, in one query.

    `service_since`: when each service opened (hoster.toml `start_date`), if later than the
    journal's beginning; `began`: the journal's beginning when the caller knows it.
    """
    start, _end = rules.window(now, tz, days)
    stmt = _visible(
        select(
            IncidentService.service_slug,
            Incident.impact,
            Incident.started_at,
            Incident.resolved_at,
        )
        .join(Incident, Incident.id == IncidentService.incident_id)
        .where(
            Incident.started_at.is_not(None),
            Incident.started_at < now,
            or_(Incident.resolved_at.is_(None), Incident.resolved_at > start),
            IncidentService.service_slug.in_(list(slugs)),
            Incident.impact != "none",
        ),
        audience,
    )
    intervals: dict[str, list[rules.Interval]] = {slug: [] for slug in slugs}
    for slug, impact, started, resolved in session.execute(stmt):
        intervals[slug].append(rules.Interval(impact=impact, start=started, end=resolved))
    # Nothing recorded at all: the journal begins now.
    began = began or journal_began(session) or now
    since = {slug: max(began, (service_since or {}).get(slug, began)) for slug in slugs}
    return {
        slug: rules.availability(intervals[slug], now, tz, days, since=since[slug])
        for slug in slugs
    }


def journal_began(session: Session) -> datetime | None:
    """When the panel started keeping the journal: its first incident or, before any, the
    panel's first recorded event. Earlier days have no data, which is not 100 %."""
    firsts = session.execute(
        select(
            select(func.min(Incident.created_at)).scalar_subquery(),
            select(func.min(Incident.started_at)).scalar_subquery(),
            select(func.min(AuditEvent.created_at)).scalar_subquery(),
        )
    ).one()
    found = [_aware(moment) for moment in firsts if moment is not None]
    return min(found) if found else None


def ongoing_for_service(
    session: Session,
    service_slug: str,
    *,
    audience: Audience = "public",
    now: datetime | None = None,
) -> list[Incident]:
    """Incidents and maintenance under way now on one service."""
    now = now or utcnow()
    ongoing, _upcoming = split_open(open_incidents(session, audience, service_slug), now)
    return ongoing


def for_overview(
    session: Session, slugs: Collection[str], *, now: datetime | None = None, days_ahead: int = 7
) -> tuple[list[Incident], list[Incident]]:
    """What a signed-in user should know: ongoing incidents and maintenance of the next days."""
    now = now or utcnow()
    relevant = [i for i in open_incidents(session, "users") if set(i.service_slugs) & set(slugs)]
    ongoing, upcoming = split_open(relevant, now)
    horizon = now + timedelta(days=days_ahead)
    return ongoing, [i for i in upcoming if i.scheduled_start and i.scheduled_start <= horizon]


def staff_page(
    session: Session, *, page: int = 1, per_page: int = 50
) -> tuple[list[Incident], int]:
    """Everything, open first, then by start (or planned start), newest first."""
    total = session.scalar(select(func.count(Incident.id)))
    order_open = (Incident.status == "resolved").asc()
    rows = session.scalars(
        select(Incident)
        .options(selectinload(Incident.services))
        .order_by(
            order_open,
            func.coalesce(Incident.started_at, Incident.scheduled_start).desc(),
            Incident.id.desc(),
        )
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return list(rows), int(total or 0)


def count_open(session: Session) -> int:
    return int(
        session.scalar(select(func.count(Incident.id)).where(Incident.status != "resolved")) or 0
    )


def feed_incidents(
    session: Session, service: str | None = None, *, limit: int = 50
) -> list[Incident]:
    """Public incidents for the feeds: the latest changed, plus every open one."""
    recent = _on_service(_visible(select(Incident.id), "public"), service)
    recent_ids = select(recent.order_by(Incident.changed_at.desc()).limit(limit).subquery().c.id)
    stmt = _on_service(
        _visible(
            select(Incident)
            .where(or_(Incident.id.in_(recent_ids), and_(Incident.status != "resolved")))
            .options(selectinload(Incident.services), selectinload(Incident.updates)),
            "public",
        ),
        service,
    )
    return sorted(session.scalars(stmt), key=lambda i: (i.changed_at, i.id), reverse=True)


def latest_activity(incident: Incident) -> datetime:
    """When the timeline last moved (the Atom entry's `updated`)."""
    times = [u.created_at for u in incident.updates]
    return max(times) if times else incident.changed_at


def authors(session: Session, ids: Collection[int]) -> dict[int, str]:
    """Display names of the staff who wrote updates (shown on staff pages only)."""
    if not ids:
        return {}
    rows = session.execute(select(Account.id, Account.display_name).where(Account.id.in_(ids)))
    return {account_id: name for account_id, name in rows}


def _aware(moment: datetime) -> datetime:
    # A bare MIN() loses the column type on SQLite: the value comes back naive (UTC) or text.
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
