"""Atom and JSON feeds of the public journal (hosted-users-only incidents never appear)."""

from __future__ import annotations

from typing import Any

from feedgenerator import Atom1Feed
from flask import render_template, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from app.dates import iso_or_none
from app.db import utcnow
from app.incidents import queries
from app.incidents import status as rules
from app.incidents.cache import known_journal_start
from app.incidents.formatting import hoster_tz
from app.incidents.labels import impact_label, status_label
from app.profile import current_profile


def atom(session: Session, service: str | None) -> str:
    profile = current_profile()
    names = {s.slug: str(s.name) for s in profile.services}
    journal_url = url_for("incidents.journal", service=service, _external=True)
    title = _("Incident journal — %(hoster)s", hoster=profile.organisation.name)
    if service:
        title = f"{title} · {names.get(service, service)}"
    feed = Atom1Feed(
        title=title,
        link=journal_url,
        description=_("Outages and maintenance of the services."),
        language=str(get_locale() or "fr"),
        feed_url=url_for("incidents.atom_feed", service=service, _external=True),
        feed_guid=journal_url,
        author_name=profile.organisation.name,
    )
    for incident in queries.feed_incidents(session, service):
        link = url_for("incidents.detail", incident_id=incident.id, _external=True)
        summary = _(
            "%(status)s — %(impact)s — %(services)s",
            status=status_label(incident.status, incident.is_maintenance),
            impact=impact_label(incident.impact),
            services=", ".join(names.get(s, s) for s in incident.service_slugs),
        )
        feed.add_item(
            title=incident.title,
            link=link,
            unique_id=link,
            description=summary,
            content=render_template(
                "incidents/_feed_entry.html", incident=incident, service_names=names
            ),
            pubdate=incident.created_at,
            updateddate=queries.latest_activity(incident),
            categories=incident.service_slugs,
        )
    return str(feed.writeString("utf-8"))


def json_document(session: Session, service: str | None) -> dict[str, Any]:
    """Current status of each service, then the incidents, for scripts and status widgets."""
    profile = current_profile()
    now = utcnow()
    shown = [s for s in profile.services if service is None or s.slug == service]
    open_list = queries.open_incidents(session, "public", service)
    states = queries.service_states([(s.slug, str(s.name)) for s in shown], open_list, now)
    tz = hoster_tz()
    availability = queries.availability_by_service(
        session,
        "public",
        [s.slug for s in shown],
        now,
        tz,
        service_since={
            s.slug: rules.local_midnight(s.start_date, tz) for s in shown if s.start_date
        },
        began=known_journal_start(session),
    )
    incidents = queries.feed_incidents(session, service)
    return {
        "version": 1,
        "generated_at": now.isoformat(),
        "hoster": profile.organisation.name,
        "journal_url": url_for("incidents.journal", _external=True),
        "timezone": profile.timezone,
        "services": [
            {
                "slug": state.slug,
                "name": state.name,
                "status": state.level,
                "ongoing_incidents": [i.id for i in state.ongoing],
                # None while no day has data yet (the journal has just begun).
                "availability_90_days": round(availability[state.slug].ratio, 6)
                if availability[state.slug].known_days
                else None,
                "days_with_data": availability[state.slug].known_days,
                "downtime_90_days_seconds": int(availability[state.slug].downtime.total_seconds()),
            }
            for state in states
        ],
        "incidents": [
            {
                "id": incident.id,
                "url": url_for("incidents.detail", incident_id=incident.id, _external=True),
                "title": incident.title,
                "kind": "maintenance" if incident.is_maintenance else "incident",
                "impact": incident.impact,
                "status": incident.status,
                "ongoing": rules.is_ongoing(
                    incident.impact, incident.status, incident.scheduled_start, now
                ),
                "services": incident.service_slugs,
                "started_at": iso_or_none(incident.started_at),
                "resolved_at": iso_or_none(incident.resolved_at),
                "scheduled_start": iso_or_none(incident.scheduled_start),
                "scheduled_end": iso_or_none(incident.scheduled_end),
                "updated_at": iso_or_none(queries.latest_activity(incident)),
                "updates": [
                    {
                        "id": update.id,
                        "at": iso_or_none(update.created_at),
                        "status": update.status,
                        "text": update.body,
                        "corrects": update.corrects_id,
                    }
                    for update in incident.updates
                ],
                "postmortem": incident.postmortem,
            }
            for incident in incidents
        ],
    }
