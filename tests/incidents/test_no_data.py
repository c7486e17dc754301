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
