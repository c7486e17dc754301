"""Public journal pages: sections, filters, pagination, visibility, overview."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from app.db import utcnow


def text(response: Any) -> str:
    return response.get_data(as_text=True)


def section(page: str, heading_id: str) -> str:
    """The HTML of one <section> of the journal, found by its heading id."""
    match = re.search(
        rf'<section aria-labelledby="{heading_id}">(.*?)</section>', page, flags=re.DOTALL
    )
    assert match, f"no section {heading_id}"
    return match.group(1)


def state_of(page: str, slug: str) -> str:
    match = re.search(rf'<h3 id="state-{slug}">(.*?)</h3>', page, flags=re.DOTALL)
    assert match
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(1))).strip()


def test_the_journal_is_public_and_lists_every_service_as_operational_when_calm(
    client: FlaskClient,
) -> None:
    response = client.get("/incidents", headers={"Accept-Language": "en"})
    assert response.status_code == 200
    page = text(response)
    for slug in ("mail", "cloud", "pad"):
        assert "Operational" in state_of(page, slug)
    # A journal without history has no data yet, not ninety green days at 100 %.
    assert "100.00%" not in page and "No data yet" in page
    assert "All services operate normally." in page
    assert "Nothing is going wrong right now." in page
    assert "No past incident recorded." in page


def test_an_ongoing_incident_is_shown_as_ongoing_never_under_past(
    client: FlaskClient, journal: Any
) -> None:
    journal.open(title="Mail bounces", impact="major")
    journal.resolve(journal.open(title="Yesterday's cloud outage", services_=("cloud",)))
    page = text(client.get("/incidents", headers={"Accept-Language": "en"}))
    assert "Mail bounces" in section(page, "ongoing-title")
    assert "Mail bounces" not in section(page, "history-title")
    assert "Yesterday&#39;s cloud outage" in section(page, "history-title")
    assert "Partial outage" in state_of(page, "mail")
    assert "Operational" in state_of(page, "cloud")


def test_planned_maintenance_is_listed_apart_until_its_window_begins(
    client: FlaskClient, journal: Any
) -> None:
    journal.maintenance(title="Pad upgrade", services_=("pad",))
    page = text(client.get("/incidents", headers={"Accept-Language": "en"}))
    assert "Pad upgrade" in section(page, "upcoming-title")
    assert "Operational" in state_of(page, "pad")
    journal.maintenance(
        title="Mail move", services_=("mail",), start=utcnow() - timedelta(minutes=1)
    )
    page = text(client.get("/incidents", headers={"Accept-Language": "en"}))
    assert "Mail move" in section(page, "ongoing-title")
    assert "Under maintenance" in state_of(page, "mail")


def test_the_page_changes_as_soon_as_staff_post_even_with_the_cache(
    client: FlaskClient, journal: Any
) -> None:
    incident_id = journal.open(title="Cloud down", services_=("cloud",), impact="critical")
    page = text(client.get("/incidents", headers={"Accept-Language": "en"}))
    assert "Major outage" in state_of(page, "cloud")
    journal.resolve(incident_id)
    page = text(client.get("/incidents", headers={"Accept-Language": "en"}))
    assert "Operational" in state_of(page, "cloud")


def test_filtering_by_service_keeps_only_that_service(client: FlaskClient, journal: Any) -> None:
    journal.resolve(journal.open(title="Mail thing"))
    journal.resolve(journal.open(title="Cloud thing", services_=("cloud",)))
    page = text(client.get("/incidents?service=cloud"))
    assert "Cloud thing" in page and "Mail thing" not in page
    assert 'id="state-mail"' not in page and 'id="state-cloud"' in page
    assert '<option value="cloud" selected>' in page


def test_an_unknown_service_filter_is_not_found(client: FlaskClient) -> None:
    assert client.get("/incidents?service=jabber").status_code == 404
    assert client.get("/incidents.atom?service=jabber").status_code == 404


def test_history_is_grouped_by_month_and_paginated(client: FlaskClient, journal: Any) -> None:
    now = utcnow()
    for n in range(23):
        started = now - timedelta(days=2 * n + 1)
        journal.resolve(
            journal.open(title=f"Past incident {n:02d}", started_at=started),
            resolved_at=started + timedelta(hours=1),
        )
    first = text(client.get("/incidents", headers={"Accept-Language": "en"}))
    assert "Past incident 00" in first and "Past incident 19" in first
    assert "Past incident 20" not in first
    assert "Page 1 of 2" in first and 'rel="next"' in first
    assert first.count('<h3 class="month">') >= 2
    second = text(client.get("/incidents?page=2", headers={"Accept-Language": "en"}))
    assert "Past incident 22" in second and "Past incident 00" not in second
    assert client.get("/incidents?page=3").status_code == 404
    assert client.get("/incidents?page=0").status_code == 404


def test_times_are_machine_readable_and_shown_in_the_hoster_time_zone(
    client: FlaskClient, journal: Any
) -> None:
    from datetime import UTC, datetime

    started = datetime(2026, 1, 15, 13, 5, tzinfo=UTC)  # 14:05 in Paris (UTC+1)
    incident_id = journal.open(title="Old one", started_at=started, now=started)
    journal.resolve(
        incident_id, resolved_at=started + timedelta(hours=2), now=started + timedelta(hours=3)
    )
    page = text(client.get(f"/incidents/{incident_id}", headers={"Accept-Language": "en"}))
    assert '<time datetime="2026-01-15T13:05:00+00:00">' in page
    assert "2:05" in page and "1:05" not in page
    assert "2 hours" in page
    assert "Europe/Paris" in page


def test_the_detail_page_shows_the_full_timeline_with_corrections(
    client: FlaskClient, journal: Any
) -> None:
    incident_id = journal.open(body="Mail is slow.", impact="minor")
    wrong = journal.update(incident_id, "It is the network.", status="identified")
    journal.update(incident_id, "It is the disk, not the network.", corrects_id=wrong)
    journal.resolve(incident_id, "Fixed.")
    page = text(client.get(f"/incidents/{incident_id}", headers={"Accept-Language": "en"}))
    for body in (
        "Mail is slow.",
        "It is the network.",
        "It is the disk, not the network.",
        "Fixed.",
    ):
        assert body in page
    assert "This update was corrected" in page
    assert f'href="#update-{wrong}"' in page


def test_html_in_updates_is_escaped_and_markdown_is_sanitised(
    client: FlaskClient, journal: Any
) -> None:
    incident_id = journal.open(
        body="<script>alert(1)</script> **bold** [x](javascript:alert(2)) <img src=x onerror=y>"
    )
    page = text(client.get(f"/incidents/{incident_id}"))
    assert "<script>alert(1)" not in page
    assert "<img" not in page
    assert 'href="javascript:' not in page
    assert "<strong>bold</strong>" in page


def test_hosted_users_only_incidents_stay_off_anonymous_pages(
    app: Flask, english: FlaskClient, journal: Any, login_as: Any
) -> None:
    client = english
    hidden = journal.open(title="Internal LDAP trouble", visibility="users", impact="critical")
    page = text(client.get("/incidents", headers={"Accept-Language": "en"}))
    assert "Internal LDAP trouble" not in page
    assert "Operational" in state_of(page, "mail")
    response = client.get(f"/incidents/{hidden}")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.get("/incidents/999").status_code == 404

    login_as("alice")
    page = text(client.get("/incidents", headers={"Accept-Language": "en"}))
    assert "Internal LDAP trouble" in page
    assert "Major outage" in state_of(page, "mail")
    detail = client.get(f"/incidents/{hidden}")
    assert detail.status_code == 200 and "Internal LDAP trouble" in text(detail)


def test_the_account_overview_shows_ongoing_incidents_and_soon_planned_work(
    english: FlaskClient, journal: Any, login_as: Any
) -> None:
    client = english
    login_as("alice")
    assert "Service disruptions" not in text(client.get("/", headers={"Accept-Language": "en"}))
    journal.open(title="Mail bounces", visibility="users")
    journal.maintenance(title="Pad upgrade tomorrow")
    journal.maintenance(title="Far away work", start=utcnow() + timedelta(days=30))
    journal.resolve(journal.open(title="Already fixed"))
    page = text(client.get("/", headers={"Accept-Language": "en"}))
    assert "Service disruptions" in page
    assert "Mail bounces" in page and "Pad upgrade tomorrow" in page
    assert "Far away work" not in page and "Already fixed" not in page


def test_the_account_overview_reads_the_journal_once_per_version(
    make_app: Any, journal_for: Any
) -> None:
    """Disruptions on the account page come from the journal's cache, until a write."""
    from sqlalchemy import event

    from helpers import do_login

    app = make_app(INCIDENTS_VERSION_SECONDS=3600, INCIDENTS_CACHE_SECONDS=3600)
    journal = journal_for(app)
    client = app.test_client()
    do_login(client, "alice", "demo")
    journal.open(title="Mail bounces", visibility="users")
    assert "Mail bounces" in text(client.get("/"))
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "incident" in statement:
            seen.append(statement)

    engine = app.extensions["panel_db"].engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        assert "Mail bounces" in text(client.get("/"))
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert seen == []
    journal.open(title="Mail is slow", visibility="users")
    assert "Mail is slow" in text(client.get("/"))


def test_the_journal_page_advertises_its_feeds(client: FlaskClient) -> None:
    page = text(client.get("/incidents?service=mail"))
    assert 'type="application/atom+xml"' in page
    assert 'href="/incidents.atom?service=mail"' in page


def test_each_visitor_of_a_cached_page_gets_a_working_token_of_their_own(
    app: Flask, journal: Any, login_as: Any, client: FlaskClient
) -> None:
    journal.open(title="Mail bounces")
    login_as("alice")
    assert "Mail bounces" in text(client.get("/incidents"))
    # Visitors share the cached page: no token, no cookie, nothing of a signed-in reader.
    for visitor in (app.test_client(), app.test_client()):
        response = visitor.get("/incidents", headers={"Accept-Language": "en"})
        page = text(response)
        assert "Sign out" not in page and "csrf_token" not in page
        assert "Set-Cookie" not in response.headers
    # Signed-in readers each get their own working token (the sign-out form).
    from helpers import do_login

    bob = app.test_client()
    do_login(bob, "bob", "demo")
    tokens = []
    for reader in (client, bob):
        match = re.search(r'name="csrf_token" value="([^"]+)"', text(reader.get("/incidents")))
        assert match
        tokens.append(match.group(1))
    assert tokens[0] != tokens[1]
    switched = client.post(
        "/language", data={"lang": "en", "next": "/incidents", "csrf_token": tokens[0]}
    )
    assert switched.status_code == 302
    assert "Incident journal" in text(client.get("/incidents"))
    stolen = bob.post("/language", data={"lang": "fr", "csrf_token": tokens[0]})
    assert stolen.status_code == 400


def test_users_only_incident_sends_visitors_to_sign_in_under_the_url_prefix(
    client: FlaskClient, journal: Any
) -> None:
    hidden = journal.open(title="Internal LDAP trouble", visibility="users")
    response = client.get(f"/incidents/{hidden}", base_url="http://localhost/panel")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/panel/login?next=/panel/incidents/{hidden}"
