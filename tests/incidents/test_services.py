"""Journal services: the append-only timeline, bad input, audit, and the support hook."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app.audit import AuditEvent
from app.db import session_scope, utcnow
from app.incidents import operations, queries
from app.incidents.models import Incident, IncidentUpdate, TimelineIsAppendOnly

KNOWN = ("mail", "cloud", "pad")


def load(app: Flask, incident_id: int) -> Incident:
    with session_scope(app) as session:
        incident = queries.get_visible(session, incident_id, "users")
        assert incident is not None
        session.expunge_all()
        return incident


def error_of(app: Flask, call: Any) -> operations.IncidentError:
    with session_scope(app) as session, pytest.raises(operations.IncidentError) as caught:
        call(session)
    return caught.value


def test_an_incident_goes_through_its_statuses_and_keeps_every_entry(
    app: Flask, journal: Any
) -> None:
    incident_id = journal.open(body="Mail is bouncing.")
    journal.update(incident_id, "Disk full on the mail server.", status="identified")
    journal.update(incident_id, "Space freed, watching.", status="monitoring")
    journal.resolve(incident_id, "All good.")
    incident = load(app, incident_id)
    assert incident.status == "resolved"
    assert incident.resolved_at is not None and incident.started_at is not None
    assert [(u.status, u.body) for u in incident.updates] == [
        ("investigating", "Mail is bouncing."),
        ("identified", "Disk full on the mail server."),
        ("monitoring", "Space freed, watching."),
        ("resolved", "All good."),
    ]


def test_a_correction_adds_an_entry_and_leaves_the_corrected_one_as_it_was(
    app: Flask, journal: Any
) -> None:
    incident_id = journal.open()
    wrong = journal.update(incident_id, "The cause is the network.", status="identified")
    journal.update(incident_id, "Correction: the cause is a full disk.", corrects_id=wrong)
    incident = load(app, incident_id)
    bodies = [u.body for u in incident.updates]
    assert "The cause is the network." in bodies
    correction = incident.updates[-1]
    assert correction.corrects_id == wrong
    assert correction.status == "identified"  # a correction does not move the status


def test_posted_updates_cannot_be_changed_or_deleted_through_the_models(
    app: Flask, journal: Any
) -> None:
    incident_id = journal.open()
    with session_scope(app) as session:
        posted = session.scalars(select(IncidentUpdate)).first()
        assert posted is not None
        posted.body = "rewritten"
        with pytest.raises(TimelineIsAppendOnly):
            session.flush()
        session.rollback()
        posted = session.scalars(select(IncidentUpdate)).first()
        session.delete(posted)
        with pytest.raises(TimelineIsAppendOnly):
            session.flush()
        session.rollback()
    assert load(app, incident_id).updates[0].body is None


def test_the_database_refuses_a_resolved_incident_without_an_end(app: Flask, journal: Any) -> None:
    incident_id = journal.open()
    with session_scope(app) as session, pytest.raises(IntegrityError):
        session.execute(
            update(Incident).where(Incident.id == incident_id).values(status="resolved")
        )
        session.flush()


def test_a_resolved_incident_goes_back_to_open_only_when_reopened(app: Flask, journal: Any) -> None:
    incident_id = journal.open()
    journal.resolve(incident_id)
    error = error_of(
        app,
        lambda s: operations.post_update(
            s, incident_id, body="It is back.", status="investigating", actor=operations.CLI
        ),
    )
    assert "reopen" in str(error)
    assert load(app, incident_id).status == "resolved"
    journal.update(incident_id, "It is back.", status="investigating", reopen=True)
    incident = load(app, incident_id)
    assert incident.status == "investigating"
    assert incident.resolved_at is None
    assert [u.status for u in incident.updates] == ["investigating", "resolved", "investigating"]


def test_a_note_on_a_resolved_incident_keeps_it_resolved(app: Flask, journal: Any) -> None:
    incident_id = journal.open()
    journal.resolve(incident_id)
    journal.update(incident_id, "A post-mortem will follow.")
    assert load(app, incident_id).status == "resolved"


@pytest.mark.parametrize(
    ("kwargs", "field", "words"),
    [
        ({"title": "   "}, "title", "title"),
        ({"title": "x" * 201}, "title", "too long"),
        ({"services": []}, "services", "at least one"),
        ({"services": ["mail", "jabber"]}, "services", "jabber"),
        ({"impact": "apocalyptic"}, "impact", "impact"),
        ({"visibility": "everyone"}, "visibility", "who can see"),
        ({"started_at": "future"}, "started_at", "future"),
    ],
)
def test_opening_with_bad_input_says_what_is_wrong(
    app: Flask, kwargs: dict[str, Any], field: str, words: str
) -> None:
    arguments: dict[str, Any] = {
        "title": "Mail is down",
        "services": ["mail"],
        "impact": "major",
        "known_services": KNOWN,
        "actor": operations.CLI,
    }
    arguments.update(kwargs)
    if arguments.get("started_at") == "future":
        arguments["started_at"] = utcnow() + timedelta(hours=2)
    error = error_of(app, lambda s: operations.open_incident(s, **arguments))
    assert error.field == field
    assert words in str(error).lower()
    with session_scope(app) as session:
        assert session.scalar(select(Incident.id)) is None  # nothing half-written


def test_an_empty_update_is_refused(app: Flask, journal: Any) -> None:
    incident_id = journal.open()
    error = error_of(
        app, lambda s: operations.post_update(s, incident_id, body="  \n ", actor=operations.CLI)
    )
    assert error.field == "body" and "empty" in str(error)


def test_resolving_before_the_start_is_refused(app: Flask, journal: Any) -> None:
    incident_id = journal.open(started_at=utcnow() - timedelta(hours=1))
    error = error_of(
        app,
        lambda s: operations.resolve_incident(
            s, incident_id, resolved_at=utcnow() - timedelta(hours=3), actor=operations.CLI
        ),
    )
    assert error.field == "resolved_at" and "before the start" in str(error)
    assert load(app, incident_id).status == "investigating"


def test_resolving_twice_is_refused(app: Flask, journal: Any) -> None:
    incident_id = journal.open()
    journal.resolve(incident_id)
    error = error_of(
        app, lambda s: operations.resolve_incident(s, incident_id, actor=operations.CLI)
    )
    assert "already resolved" in str(error)


def test_a_maintenance_window_ending_before_it_starts_is_refused(app: Flask) -> None:
    start = utcnow() + timedelta(days=1)
    error = error_of(
        app,
        lambda s: operations.schedule_maintenance(
            s,
            title="Upgrade",
            services=["pad"],
            window_start=start,
            window_end=start - timedelta(hours=1),
            known_services=KNOWN,
            actor=operations.CLI,
        ),
    )
    assert error.field == "window_end" and "ends before it starts" in str(error)


def test_maintenance_starts_when_work_begins_and_cannot_go_back_to_planned(
    app: Flask, journal: Any
) -> None:
    maintenance_id = journal.maintenance()
    assert load(app, maintenance_id).started_at is None
    journal.update(maintenance_id, "Work has begun.", status="in_progress")
    assert load(app, maintenance_id).started_at is not None
    error = error_of(
        app,
        lambda s: operations.post_update(
            s, maintenance_id, body="Oops", status="scheduled", actor=operations.CLI
        ),
    )
    assert "cannot go back to planned" in str(error)


def test_incident_statuses_do_not_apply_to_maintenance_and_back(app: Flask, journal: Any) -> None:
    maintenance_id = journal.maintenance()
    incident_id = journal.open()
    error = error_of(
        app,
        lambda s: operations.post_update(
            s, maintenance_id, body="x", status="identified", actor=operations.CLI
        ),
    )
    assert error.field == "status"
    error = error_of(
        app,
        lambda s: operations.post_update(
            s, incident_id, body="x", status="in_progress", actor=operations.CLI
        ),
    )
    assert error.field == "status"


def test_completing_planned_work_never_marked_started_uses_its_window(
    app: Flask, journal: Any
) -> None:
    start = utcnow() - timedelta(hours=3)
    maintenance_id = journal.maintenance(start=start, hours=2)
    journal.resolve(maintenance_id, "Done.")
    incident = load(app, maintenance_id)
    assert incident.started_at == start
    assert incident.status == "resolved"


def test_correcting_an_update_of_another_incident_is_refused(app: Flask, journal: Any) -> None:
    first = journal.open()
    other_update = journal.update(journal.open(title="Cloud"), "Cloud text")
    error = error_of(
        app,
        lambda s: operations.post_update(
            s, first, body="fix", corrects_id=other_update, actor=operations.CLI
        ),
    )
    assert error.field == "corrects_id"


def test_unknown_incident_numbers_are_reported(app: Flask) -> None:
    error = error_of(app, lambda s: operations.post_update(s, 999, body="x", actor=operations.CLI))
    assert "999" in str(error)


def test_every_change_is_audited_without_the_text(app: Flask, journal: Any) -> None:
    incident_id = journal.open(body="Secret internal detail")
    journal.update(incident_id, "More", status="identified")
    journal.resolve(incident_id)
    with session_scope(app) as session:
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        assert [e.action for e in events] == [
            "incident.opened",
            "incident.updated",
            "incident.resolved",
        ]
        for event in events:
            details = json.loads(event.details)
            assert details["incident_id"] == incident_id
            assert details["source"] == "cli"
            assert "Secret" not in event.details


def test_editing_details_changes_impact_and_services_but_not_the_timeline(
    app: Flask, journal: Any
) -> None:
    incident_id = journal.open(impact="minor")
    with session_scope(app) as session:
        operations.edit_incident(
            session,
            incident_id,
            title="Mail and cloud are down",
            services=["mail", "cloud"],
            impact="critical",
            visibility="users",
            known_services=KNOWN,
            actor=operations.CLI,
        )
    incident = load(app, incident_id)
    assert (incident.title, incident.impact, incident.visibility) == (
        "Mail and cloud are down",
        "critical",
        "users",
    )
    assert incident.service_slugs == ["cloud", "mail"]
    assert len(incident.updates) == 1


def test_the_support_hook_lists_ongoing_public_incidents_of_a_service(
    app: Flask, journal: Any
) -> None:
    public = journal.open(title="Mail is slow", impact="minor")
    journal.open(title="Internal mail issue", visibility="users")
    journal.resolve(journal.open(title="Old mail outage"))
    journal.open(title="Cloud down", services_=("cloud",))
    journal.maintenance(title="Planned mail work", services_=("mail",))
    ongoing_work = journal.maintenance(
        title="Mail migration", services_=("mail",), start=utcnow() - timedelta(minutes=5)
    )
    hook = app.extensions["panel_ongoing_incidents"]
    with session_scope(app) as session:
        found = hook(session, "mail")
    assert sorted(found) == sorted(
        [
            (public, "Mail is slow", f"/incidents/{public}"),
            (ongoing_work, "Mail migration", f"/incidents/{ongoing_work}"),
        ]
    )
    with app.test_request_context(), session_scope(app) as session:
        assert hook(session, "pad") == []
