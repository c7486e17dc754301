"""The journal sends the same number of SQL statements whatever the history size."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import insert

from app.db import session_scope, utcnow
from app.incidents.models import Incident, IncidentService, IncidentUpdate


def fill(app: Flask, incidents: int, updates_each: int = 3, first: int = 0) -> None:
    """Bulk history: resolved incidents over the last year, a few open ones, with updates."""
    now = utcnow()
    with session_scope(app) as session:
        for n in range(first, first + incidents):
            started = now - timedelta(hours=40 * n + 5)
            resolved = n % 7 != 0
            incident_id = session.execute(
                insert(Incident)
                .values(
                    title=f"Incident {n}",
                    impact=("minor", "major", "critical")[n % 3],
                    status="resolved" if resolved else "monitoring",
                    visibility="users" if n % 5 == 0 else "public",
                    started_at=started,
                    resolved_at=started + timedelta(hours=2) if resolved else None,
                    created_at=started,
                    changed_at=started,
                )
                .returning(Incident.id)
            ).scalar_one()
            session.execute(
                insert(IncidentService),
                [
                    {"incident_id": incident_id, "service_slug": slug}
                    for slug in ("mail", "cloud")[: 1 + n % 2]
                ],
            )
            session.execute(
                insert(IncidentUpdate),
                [
                    {
                        "incident_id": incident_id,
                        "created_at": started + timedelta(minutes=k),
                        "status": "investigating",
                        "body": f"Update {k}",
                        "source": "cli",
                    }
                    for k in range(updates_each)
                ],
            )


PAGES = [
    "/incidents",
    "/incidents?service=mail",
    "/incidents.atom",
    "/incidents.json",
    "/incidents/2",
]


def statements_per_page(app: Flask, client: Any, count_queries: Any) -> dict[str, int]:
    counts = {}
    for path in PAGES:
        client.get(path)  # warm up: a sign-in's directory re-check happens once, not per page
        app.extensions["panel_incidents_cache"].clear()
        with count_queries() as counter:
            response = client.get(path)
        assert response.status_code == 200, path
        counts[path] = counter.count
    return counts


@pytest.mark.parametrize("signed_in", [False, True])
def test_statements_per_page_do_not_grow_with_the_history(
    app: Flask, count_queries: Any, signed_in: bool
) -> None:
    from helpers import do_login

    app.config["INCIDENTS_CACHE_SECONDS"] = 0  # measure the real work, not the cache
    app.extensions["panel_incidents_version"].ttl = 0  # and read the version every time
    client = app.test_client()
    if signed_in:
        assert do_login(client, "alice", "demo").status_code == 302
    fill(app, 10)
    small = statements_per_page(app, client, count_queries)
    fill(app, 190, first=10)
    large = statements_per_page(app, client, count_queries)
    assert small == large
    # A signed-in page also reads its server-side session (one primary-key lookup).
    assert max(small.values()) <= (9 if signed_in else 8), small


def test_a_cached_journal_page_costs_one_statement_at_most(app: Flask, count_queries: Any) -> None:
    # Long enough that the two requests below never straddle a cache period or version check,
    # however slow the machine (the defaults are 30 s and 2 s).
    app.config["INCIDENTS_CACHE_SECONDS"] = 3600
    app.extensions["panel_incidents_version"].ttl = 3600
    fill(app, 30)
    client = app.test_client()
    client.get("/incidents")
    with count_queries() as counter:
        assert client.get("/incidents").status_code == 200
    assert counter.count == 0, counter.statements  # the version was read a moment ago
    app.extensions["panel_incidents_version"].forget()
    with count_queries() as counter:
        assert client.get("/incidents").status_code == 200
    assert counter.count == 1, counter.statements  # just the journal version


def test_a_write_in_this_process_is_seen_at_once_despite_the_version_interval(
    app: Flask, client: Any, journal: Any
) -> None:
    app.extensions["panel_incidents_version"].ttl = 3600
    client.get("/incidents")
    journal.open(title="Brand new outage")
    assert "Brand new outage" in client.get("/incidents").get_data(as_text=True)
