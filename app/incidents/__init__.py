"""Incident journal: public timeline, per-service status, availability, feeds, staff and CLI."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint, current_app, has_request_context, url_for
from sqlalchemy.orm import Session

from app.db import get_session, utcnow
from app.incidents import queries
from app.incidents.cache import kept_for_the_journal
from app.profile import current_profile

bp = Blueprint("incidents", __name__)


def ongoing_public_incidents(session: Session, service_slug: str) -> list[tuple[int, str, str]]:
    """(id, title, URL path) of the public incidents and maintenance under way on a service.

    Registered as app.extensions["panel_ongoing_incidents"] for other features (support
    shows them before a user writes a ticket about an outage the team already knows).
    """

    def compute() -> list[tuple[int, str]]:
        found = queries.ongoing_for_service(session, service_slug, audience="public")
        return [(i.id, i.title) for i in found]

    # Asked by every ticket form: kept as the account page's incidents are.
    ongoing = kept_for_the_journal(session, ("ongoing", service_slug), compute)
    return [(incident_id, title, _incident_path(incident_id)) for incident_id, title in ongoing]


def _incident_path(incident_id: int) -> str:
    if has_request_context():
        return url_for("incidents.detail", incident_id=incident_id)
    return f"/incidents/{incident_id}"


@dataclass(frozen=True)
class OverviewIncident:
    """What the account page shows of an incident: plain values, safe to keep between
    requests (an ORM object expires with the request's session)."""

    id: int
    title: str
    status: str
    is_maintenance: bool
    effective_start: datetime | None
    scheduled_start: datetime | None
    scheduled_end: datetime | None


def overview_incidents(session: Any, account: Any) -> dict[str, Any]:
    """For the account overview: ongoing and soon-planned work on the person's services.

    Kept in the journal's fragment cache under the journal version, the time bucket and
    the person's services, so most account pages read no incident at all.
    """
    slugs: Any = current_profile().service_slugs
    user_services = current_app.extensions.get("panel_user_services")
    if user_services is not None:
        slugs = user_services(account)

    def compute() -> tuple[list[OverviewIncident], list[OverviewIncident]]:
        ongoing, upcoming = queries.for_overview(session, slugs)
        return [_plain(i) for i in ongoing], [_plain(i) for i in upcoming]

    return {
        "overview_incidents": kept_for_the_journal(session, ("overview", frozenset(slugs)), compute)
    }


def _plain(incident: Any) -> OverviewIncident:
    return OverviewIncident(
        id=incident.id,
        title=incident.title,
        status=incident.status,
        is_maintenance=incident.is_maintenance,
        effective_start=incident.effective_start,
        scheduled_start=incident.scheduled_start,
        scheduled_end=incident.scheduled_end,
    )


def status_at_a_glance() -> list[Any]:
    """Every service's current level (no incidents) from the public journal, for the home.

    Kept in the journal's fragment cache under the journal version and the time bucket (a
    planned window opening moves the levels), as the journal's own pages are.
    """

    def compute() -> list[Any]:
        shown = [(s.slug, s.name) for s in current_profile().services]
        states = queries.service_states(
            shown, queries.open_incidents(get_session(), "public", None), utcnow()
        )
        # Levels only: the incidents are ORM objects of this request's session.
        return [queries.ServiceState(s.slug, s.name, s.level) for s in states]

    return kept_for_the_journal(get_session(), ("glance",), compute)
