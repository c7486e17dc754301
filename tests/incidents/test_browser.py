"""Every journal page in a real browser, in French and English, checked by axe-core."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from app.db import utcnow
from helpers import assert_accessible


def seed(journal: Any) -> dict[str, int]:
    ongoing = journal.open(title="Courriel lent", impact="minor", body="On cherche **la cause**.")
    journal.update(ongoing, "Disque plein.", status="identified")
    past = journal.open(
        title="Panne du cloud",
        services_=("cloud",),
        impact="critical",
        started_at=utcnow() - timedelta(days=3),
    )
    wrong = journal.update(past, "Le réseau.")
    journal.update(past, "En fait, le disque.", corrects_id=wrong)
    journal.resolve(past, "Réparé.", resolved_at=utcnow() - timedelta(days=2, hours=20))
    journal.maintenance(title="Mise à jour des pads")
    hidden = journal.open(title="Annuaire interne", visibility="users", services_=("pad",))
    return {"ongoing": ongoing, "past": past, "hidden": hidden}


def set_language(page: Any, code: str) -> None:
    page.click(f"a.lang-button[hreflang='{code}']")
    page.wait_for_load_state()
    assert page.get_attribute("html", "lang") == code


def check(page: Any, axe: Any, url: str) -> None:
    response = page.goto(url)
    assert response is not None and response.status in (200, 422), url
    assert_accessible(axe, page)


@pytest.mark.one_engine
@pytest.mark.browser
def test_every_journal_page_is_accessible_in_both_languages(
    live_server: Any, browser_page: Any, axe: Any, journal: Any
) -> None:
    ids = seed(journal)
    base = live_server.url
    page = browser_page
    public = ["/incidents", f"/incidents/{ids['past']}"]
    staff = [
        "/",
        "/incidents",
        f"/incidents/{ids['hidden']}",
        "/staff/incidents",
        "/staff/incidents/new",
        "/staff/incidents/maintenance/new",
        f"/staff/incidents/{ids['past']}",
    ]

    page.goto(base + "/incidents")
    for code in ("fr", "en"):
        set_language(page, code)
        for path in public:
            check(page, axe, base + path)
    assert "Annuaire interne" not in page.content()

    page.goto(base + "/login")
    page.fill("#login", "camille")
    page.fill("#password", "demo")
    page.click("button[type=submit].primary")
    page.wait_for_load_state()
    for code in ("fr", "en"):
        set_language(page, code)
        for path in staff:
            check(page, axe, base + path)
        # A form sent with mistakes: the messages sit next to their fields, still accessible.
        page.goto(base + "/staff/incidents/new")
        page.click("form.stack button[type=submit]")
        page.wait_for_load_state()
        assert page.locator(".error-summary").count() == 1
        assert_accessible(axe, page)

    # The account overview names the ongoing incident.
    page.goto(base + "/")
    assert "Courriel lent" in page.content()
