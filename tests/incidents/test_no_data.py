"""Days before the journal began say "no data yet", not 100 %; the status page's overall line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from app.incidents import status as rules

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_days_before_the_journal_began_are_unknown_and_left_out_of_the_ratio() -> None:
    since = NOW - timedelta(days=3)
    outage = rules.Interval(impact="major", start=NOW - timedelta(hours=6), end=NOW)
    found = rules.availability([outage], NOW, PARIS, since=since)
    assert [d.known for d in found.days].count(True) == 4  # 3 days ago (partly) to today
    assert found.known_days == 4
    # Six hours down out of about three and a half days, not out of 90 days.
    assert 0.9 < found.ratio < 0.95
    assert all(d.level == rules.OPERATIONAL for d in found.days if not d.known)


def test_a_journal_that_begins_now_has_no_data_at_all() -> None:
    found = rules.availability([], NOW, PARIS, since=NOW)
    assert found.known_days == 0
    older = rules.availability([], NOW, PARIS, since=None)
    assert older.known_days == rules.AVAILABILITY_DAYS


def test_a_fresh_journal_shows_no_data_instead_of_ninety_green_days(client: Any) -> None:
    page = client.get("/incidents", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "100.00% available over the last 90 days" not in page
    assert page.count("No data yet: the journal has just begun.") == 3
    assert page.count('class="uptime-day nodata"') == 3 * rules.AVAILABILITY_DAYS
    assert "All services operate normally." in page
    data = client.get("/incidents.json").get_json()
    assert data["services"][0]["days_with_data"] == 0
    assert data["services"][0]["availability_90_days"] is None


def test_downtime_before_the_journal_began_is_no_data_not_a_low_percentage() -> None:
    since = NOW - timedelta(days=1)
    # Entered with an earlier start than the journal's (or the service's) beginning.
    outage = rules.Interval(
        impact="major", start=NOW - timedelta(days=3), end=since + timedelta(hours=2)
    )
    found = rules.availability([outage], NOW, PARIS, since=since)
    # Two hours down out of one day, not three days down squeezed into one.
    assert found.downtime == timedelta(hours=2)
    assert 0.9 < found.ratio < 0.95
    assert all(not d.known for d in found.days[:-2])


def test_an_outage_entered_afterwards_with_an_earlier_start_moves_the_beginning_back(
    app: Any, journal: Any
) -> None:
    from helpers import do_login

    client = app.test_client()
    assert do_login(client, "alice", "demo").status_code == 302  # the panel's first event
    client.get("/incidents.json")  # the journal's beginning is known (and remembered)
    started = datetime.now(UTC) - timedelta(days=2)
    incident = journal.open("Mail was down", started_at=started)
    journal.resolve(incident, resolved_at=started + timedelta(hours=1))
    app.extensions["panel_incidents_version"].forget()
    app.extensions["panel_incidents_cache"].clear()
    client.get("/incidents")  # pages read the journal's version for their cache keys
    data = client.get("/incidents.json").get_json()
    mail = next(s for s in data["services"] if s["slug"] == "mail")
    # One hour down out of two days and more: not 0 % over the few seconds since the start.
    assert mail["availability_90_days"] > 0.95
    assert mail["days_with_data"] == 3
