"""One zone per page, named truthfully: the journal (cached) and an incident's own page."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from app.db import utcnow

STARTED = datetime(2026, 11, 30, 22, 22, tzinfo=UTC)  # 23:22 in Paris, 17:22 in Montréal


def visible(page: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


def test_the_journal_and_the_incident_page_agree_on_the_zone_and_name_it(
    app: Any, journal: Any
) -> None:
    incident_id = journal.open("Mail is down", started_at=STARTED, now=utcnow())
    paris = app.test_client()
    # A reader in the hoster's zone fills the journal's cache first.
    first = visible(paris.get("/incidents").get_data(as_text=True))
    assert "23:22" in first and "(Europe/Paris)" in first

    montreal = app.test_client()
    montreal.set_cookie("panel_tz", "America/Montreal")
    for path in ("/incidents", f"/incidents/{incident_id}"):
        page = visible(montreal.get(path).get_data(as_text=True))
        assert "17:22 UTC-05:00" in page, path
        assert "23:22" not in page, path
        assert "fuseau horaire de votre appareil (America/Montreal)" in page, path
        assert "Europe/Paris" not in page, path
