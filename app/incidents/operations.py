"""What changes the incident journal: open, update, resolve, edit, schedule, write the post-mortem.

Operations take the session and plain values, never commit, and raise `IncidentError` with
a message for the person who sent the input (lazy: translated where it is shown).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app import audit
from app.db import utcnow
from app.incidents.cache import mark_changed
from app.incidents.models import (
    INCIDENT_IMPACTS,
    INCIDENT_STATUSES,
    MAINTENANCE_STATUSES,
    VISIBILITIES,
    Incident,
    IncidentService,
    IncidentUpdate,
)
from app.text import has_control_characters, is_blank, one_line

TITLE_MAX = 200
BODY_MAX = 20_000


class IncidentError(Exception):
    """Input the journal refuses; `field` names the form field the message belongs to."""

    def __init__(self, message: Any, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return str(self.message)


class IncidentNotFound(IncidentError):
    pass


@dataclass(frozen=True)
class Actor:
    """Who writes to the journal: a staff account on the web, or a monitoring script (CLI)."""

    account_id: int | None
    source: Literal["staff", "cli"] = "staff"


CLI = Actor(account_id=None, source="cli")


# Validation -------------------------------------------------------------------------------


CONTROL_CHARACTERS = _l(
    "This text contains invisible control characters. Remove them and try again."
)


def _clean_title(title: str | None) -> str:
    cleaned = one_line(title)
    if not cleaned:
        raise IncidentError(_l("Give the incident a title."), "title")
    if has_control_characters(cleaned):
        raise IncidentError(CONTROL_CHARACTERS, "title")
    if len(cleaned) > TITLE_MAX:
        raise IncidentError(
            _l("The title is too long: at most %(max)s characters.", max=TITLE_MAX), "title"
        )
    return cleaned


def _clean_body(body: str | None, *, required: bool, field_name: str = "body") -> str | None:
    cleaned = (body or "").strip()
    if not cleaned or is_blank(cleaned):
        if required:
            raise IncidentError(_l("Write what happened: the update is empty."), field_name)
        return None
    if has_control_characters(cleaned):
        raise IncidentError(CONTROL_CHARACTERS, field_name)
    if len(cleaned) > BODY_MAX:
        raise IncidentError(
            _l("The text is too long: at most %(max)s characters.", max=BODY_MAX), field_name
        )
    return cleaned


def _clean_services(services: Sequence[str], known: Collection[str]) -> list[str]:
    chosen = list(dict.fromkeys(s.strip() for s in services if s and s.strip()))
    if not chosen:
        raise IncidentError(_l("Choose at least one affected service."), "services")
    for slug in chosen:
        if slug not in known:
            raise IncidentError(
                _l(
                    "There is no service called “%(slug)s”. Known services: %(known)s.",
                    slug=slug,
                    known=", ".join(known),
                ),
                "services",
            )
    return chosen


def _check_choice(value: str, allowed: Sequence[str], message: Any, field_name: str) -> str:
    if value not in allowed:
        raise IncidentError(message, field_name)
    return value


def _get(session: Session, incident_id: int, *, for_update: bool = True) -> Incident:
    stmt = (
        select(Incident)
        .where(Incident.id == incident_id)
        .options(selectinload(Incident.services), selectinload(Incident.updates))
    )
    if for_update and session.get_bind().dialect.name == "postgresql":
        # Two scripts resolving one incident at once must not interleave.
        stmt = stmt.with_for_update(of=Incident)
    incident = session.scalars(stmt).first()
    if incident is None:
        raise IncidentNotFound(_l("There is no incident number %(id)s.", id=incident_id))
    return incident


def _audit(session: Session, action: str, actor: Actor, incident: Incident, **details: Any) -> None:
    audit.record(
        session,
        action,
        account_id=actor.account_id,
        actor_id=actor.account_id,
        incident_id=incident.id,
        source=actor.source,
        **details,
    )


def _add_update(
    session: Session,
    incident: Incident,
    *,
    status: str,
    body: str | None,
    actor: Actor,
    now: datetime,
    corrects_id: int | None = None,
) -> IncidentUpdate:
    update = IncidentUpdate(
        incident=incident,
        created_at=now,
        status=status,
        body=body,
        author_id=actor.account_id,
        source=actor.source,
        corrects_id=corrects_id,
    )
    session.add(update)
    incident.changed_at = now
    mark_changed(session)
    return update


# Writing ----------------------------------------------------------------------------------


def open_incident(
    session: Session,
    *,
    title: str,
    services: Sequence[str],
    impact: str,
    known_services: Collection[str],
    actor: Actor,
    visibility: str = "public",
    body: str | None = None,
    started_at: datetime | None = None,
    now: datetime | None = None,
) -> Incident:
    """Open an incident now (or backdated to `started_at`), with its first timeline entry."""
    now = now or utcnow()
    clean_title = _clean_title(title)
    slugs = _clean_services(services, known_services)
    _check_choice(
        impact,
        INCIDENT_IMPACTS,
        _l("Choose the impact: none, minor, major or critical."),
        "impact",
    )
    _check_choice(visibility, VISIBILITIES, _l("Choose who can see it."), "visibility")
    text = _clean_body(body, required=False)
    start = started_at or now
    if start > now + timedelta(minutes=1):
        raise IncidentError(
            _l("The start is in the future. To plan work, schedule a maintenance instead."),
            "started_at",
        )
    incident = Incident(
        title=clean_title,
        impact=impact,
        status="investigating",
        visibility=visibility,
        started_at=min(start, now),
        created_at=now,
        changed_at=now,
        created_by_id=actor.account_id,
        services=[IncidentService(service_slug=s) for s in slugs],
    )
    session.add(incident)
    _add_update(session, incident, status="investigating", body=text, actor=actor, now=now)
    session.flush()
    _audit(session, "incident.opened", actor, incident, impact=impact, services=slugs)
    return incident


def schedule_maintenance(
    session: Session,
    *,
    title: str,
    services: Sequence[str],
    window_start: datetime | None,
    window_end: datetime | None,
    known_services: Collection[str],
    actor: Actor,
    visibility: str = "public",
    body: str | None = None,
    now: datetime | None = None,
) -> Incident:
    """Announce planned work on some services during a window."""
    now = now or utcnow()
    clean_title = _clean_title(title)
    slugs = _clean_services(services, known_services)
    _check_choice(visibility, VISIBILITIES, _l("Choose who can see it."), "visibility")
    _check_window(window_start, window_end)
    assert window_start is not None and window_end is not None
    text = _clean_body(body, required=False)
    incident = Incident(
        title=clean_title,
        impact="maintenance",
        status="scheduled",
        visibility=visibility,
        scheduled_start=window_start,
        scheduled_end=window_end,
        created_at=now,
        changed_at=now,
        created_by_id=actor.account_id,
        services=[IncidentService(service_slug=s) for s in slugs],
    )
    session.add(incident)
    _add_update(session, incident, status="scheduled", body=text, actor=actor, now=now)
    session.flush()
    _audit(session, "maintenance.scheduled", actor, incident, services=slugs)
    return incident


def _check_window(start: datetime | None, end: datetime | None) -> None:
    if start is None:
        raise IncidentError(_l("Give the start of the maintenance window."), "window_start")
    if end is None:
        raise IncidentError(_l("Give the end of the maintenance window."), "window_end")
    if end <= start:
        raise IncidentError(
            _l("The maintenance window ends before it starts: the end must be after the start."),
            "window_end",
        )


def allowed_statuses(incident: Incident) -> tuple[str, ...]:
    return MAINTENANCE_STATUSES if incident.is_maintenance else INCIDENT_STATUSES


def post_update(
    session: Session,
    incident_id: int,
    *,
    body: str | None,
    actor: Actor,
    status: str | None = None,
    reopen: bool = False,
    corrects_id: int | None = None,
    now: datetime | None = None,
) -> IncidentUpdate:
    """Add an entry to the timeline, maybe changing the status; a correction keeps the status."""
    now = now or utcnow()
    incident = _get(session, incident_id)
    text = _clean_body(body, required=True)
    if corrects_id is not None:
        if not any(u.id == corrects_id for u in incident.updates):
            raise IncidentError(
                _l("The update to correct is not part of this incident."), "corrects_id"
            )
        update = _add_update(
            session,
            incident,
            status=incident.status,
            body=text,
            actor=actor,
            now=now,
            corrects_id=corrects_id,
        )
        session.flush()
        _audit(session, "incident.corrected", actor, incident, corrects=corrects_id)
        return update
    new_status = status or incident.status
    if new_status == "resolved" and incident.status != "resolved":
        return resolve_incident(session, incident_id, body=text, actor=actor, now=now)
    _check_choice(
        new_status,
        allowed_statuses(incident),
        _l(
            "“%(status)s” is not a status this can take. Choose one of: %(allowed)s.",
            status=new_status,
            allowed=", ".join(allowed_statuses(incident)),
        ),
        "status",
    )
    reopened = False
    if incident.status == "resolved" and new_status != "resolved":
        if not reopen:
            raise IncidentError(
                _l(
                    "This incident is resolved. To move it back to an open status, "
                    "reopen it explicitly."
                ),
                "status",
            )
        reopened = True
        incident.resolved_at = None
    if new_status == "scheduled" and incident.status != "scheduled":
        raise IncidentError(
            _l("A maintenance that has begun cannot go back to planned: post an update instead."),
            "status",
        )
    if incident.is_maintenance and incident.started_at is None and new_status != "scheduled":
        incident.started_at = now
    incident.status = new_status
    update = _add_update(session, incident, status=new_status, body=text, actor=actor, now=now)
    session.flush()
    _audit(
        session,
        "incident.reopened" if reopened else "incident.updated",
        actor,
        incident,
        status=new_status,
    )
    return update


def resolve_incident(
    session: Session,
    incident_id: int,
    *,
    actor: Actor,
    body: str | None = None,
    resolved_at: datetime | None = None,
    now: datetime | None = None,
) -> IncidentUpdate:
    """Close an incident (or complete a maintenance), now or at an earlier `resolved_at`."""
    now = now or utcnow()
    incident = _get(session, incident_id)
    if incident.status == "resolved":
        raise IncidentError(_l("This incident is already resolved."), "status")
    text = _clean_body(body, required=False)
    end = resolved_at or now
    if end > now + timedelta(minutes=1):
        raise IncidentError(
            _l("The end is in the future: give a time that has passed."), "resolved_at"
        )
    end = min(end, now)
    start = incident.started_at
    if start is None:
        # Planned work completed without being marked as started: it ran from its window.
        assert incident.scheduled_start is not None
        start = incident.started_at = min(incident.scheduled_start, end)
    if end < start:
        raise IncidentError(
            _l(
                "The end cannot be before the start (%(start)s UTC).",
                start=start.strftime("%Y-%m-%d %H:%M"),
            ),
            "resolved_at",
        )
    incident.status = "resolved"
    incident.resolved_at = end
    update = _add_update(session, incident, status="resolved", body=text, actor=actor, now=now)
    session.flush()
    _audit(session, "incident.resolved", actor, incident)
    return update


def edit_incident(
    session: Session,
    incident_id: int,
    *,
    title: str,
    services: Sequence[str],
    visibility: str,
    known_services: Collection[str],
    actor: Actor,
    impact: str | None = None,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
    now: datetime | None = None,
) -> Incident:
    """Change the details (not the timeline): title, services, impact or window, visibility."""
    now = now or utcnow()
    incident = _get(session, incident_id)
    incident.title = _clean_title(title)
    slugs = _clean_services(services, known_services)
    incident.visibility = _check_choice(
        visibility, VISIBILITIES, _l("Choose who can see it."), "visibility"
    )
    if incident.is_maintenance:
        _check_window(window_start, window_end)
        incident.scheduled_start, incident.scheduled_end = window_start, window_end
    else:
        incident.impact = _check_choice(
            impact or "",
            INCIDENT_IMPACTS,
            _l("Choose the impact: none, minor, major or critical."),
            "impact",
        )
    current = {s.service_slug: s for s in incident.services}
    incident.services = [current.get(s) or IncidentService(service_slug=s) for s in slugs]
    incident.changed_at = now
    mark_changed(session)
    session.flush()
    _audit(
        session,
        "incident.edited",
        actor,
        incident,
        impact=incident.impact,
        services=slugs,
        visibility=incident.visibility,
    )
    return incident


def write_postmortem(
    session: Session,
    incident_id: int,
    *,
    text: str | None,
    actor: Actor,
    now: datetime | None = None,
) -> Incident:
    """The post-mortem is a document written after the fact; empty text removes it."""
    now = now or utcnow()
    incident = _get(session, incident_id)
    incident.postmortem = _clean_body(text, required=False, field_name="postmortem")
    incident.changed_at = now
    mark_changed(session)
    _audit(session, "incident.postmortem", actor, incident)
    return incident
