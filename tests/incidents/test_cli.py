"""`flask incidents open|update|resolve|list` as a monitoring script would call them."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select

from app.audit import AuditEvent
from app.db import session_scope
from app.incidents import queries


def run(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["incidents", *args])


def test_open_prints_the_new_id_and_the_incident_is_public(app: Flask) -> None:
    result = run(
        app,
        "open",
        "--service",
        "mail",
        "--service",
        "cloud",
        "--impact",
        "critical",
        "--message",
        "Both down.",
        "Mail and cloud down",
    )
    assert result.exit_code == 0, result.output
    incident_id = int(result.output.strip())
    response = app.test_client().get(f"/incidents/{incident_id}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Mail and cloud down" in page and "Both down." in page


def test_update_and_resolve_follow_the_incident_to_the_end(app: Flask) -> None:
    incident_id = run(
        app, "open", "--service", "pad", "--impact", "minor", "Pads slow"
    ).output.strip()
    assert (
        run(app, "update", incident_id, "Found the cause.", "--status", "identified").exit_code == 0
    )
    assert run(app, "resolve", incident_id, "Back to normal.").exit_code == 0
    with session_scope(app) as session:
        incident = queries.get_visible(session, int(incident_id), "users")
        assert incident is not None
        assert incident.status == "resolved"
        assert [u.body for u in incident.updates] == [None, "Found the cause.", "Back to normal."]
        assert {u.source for u in incident.updates} == {"cli"}


def test_list_shows_open_ones_and_all_with_the_flag(app: Flask) -> None:
    first = run(app, "open", "--service", "mail", "--impact", "major", "Mail down").output.strip()
    run(app, "open", "--service", "cloud", "--impact", "minor", "Cloud slow")
    run(app, "resolve", first)
    listed = run(app, "list")
    assert listed.exit_code == 0
    lines = listed.output.strip().splitlines()
    assert len(lines) == 1
    fields = lines[0].split("\t")
    assert fields[1:4] == ["investigating", "minor", "cloud"] and fields[-1] == "Cloud slow"
    everything = run(app, "list", "--all").output
    assert "Mail down" in everything and "Cloud slow" in everything


def test_bad_input_exits_with_a_clear_message_and_writes_nothing(make_app: Any) -> None:
    app = make_app(BABEL_DEFAULT_LOCALE="en")
    unknown = run(app, "open", "--service", "jabber", "--impact", "major", "Chat down")
    assert unknown.exit_code == 1
    assert "There is no service called “jabber”" in unknown.output
    empty = run(app, "open", "--service", "mail", "--impact", "major", "   ")
    assert empty.exit_code == 1 and "title" in empty.output
    missing = run(app, "update", "999", "text")
    assert missing.exit_code == 1 and "999" in missing.output
    incident_id = run(app, "open", "--service", "mail", "--impact", "major", "Mail").output.strip()
    blank = run(app, "update", incident_id, " ")
    assert blank.exit_code == 1 and "empty" in blank.output
    run(app, "resolve", incident_id)
    backwards = run(app, "update", incident_id, "Back?", "--status", "investigating")
    assert backwards.exit_code == 1 and "reopen" in backwards.output
    assert (
        run(app, "update", incident_id, "Back.", "--status", "investigating", "--reopen").exit_code
        == 0
    )
    wrong_impact = run(app, "open", "--service", "mail", "--impact", "huge", "Mail")
    assert wrong_impact.exit_code == 2  # click's own usage error lists the choices


def test_messages_follow_the_default_language_of_the_panel(app: Flask) -> None:
    result = run(app, "open", "--service", "jabber", "--impact", "major", "Chat down")
    assert result.exit_code == 1
    assert "jabber" in result.output
    assert "There is no service called" not in result.output  # French by default


def test_every_command_is_audited_as_the_command_line(app: Flask) -> None:
    incident_id = run(app, "open", "--service", "mail", "--impact", "major", "Mail").output.strip()
    run(app, "update", incident_id, "News")
    run(app, "resolve", incident_id)
    with session_scope(app) as session:
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        assert [e.action for e in events] == [
            "incident.opened",
            "incident.updated",
            "incident.resolved",
        ]
        assert all(e.actor_id is None and '"source": "cli"' in e.details for e in events)
