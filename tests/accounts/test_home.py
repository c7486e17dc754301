"""The visitors' home and support page: who the hoster is, the status, how to reach the team."""

from __future__ import annotations

import html
import re
from typing import Any

EN = {"Accept-Language": "en"}


def text(response: Any) -> str:
    return re.sub(r"\s+", " ", html.unescape(response.get_data(as_text=True)))


def test_a_visitor_at_the_root_gets_the_public_home_not_the_login_form(client: Any) -> None:
    response = client.get("/")
    assert response.status_code == 200
    page = text(response)
    assert 'name="password"' not in response.get_data(as_text=True)
    assert "Chatons du Demo" in page
    assert "Association loi 1901" in page  # who the hoster is, in French
    assert "Tous les services fonctionnent normalement." in page
    assert "Courriel" in page and "Pads" in page
    body = response.get_data(as_text=True)
    for link in (
        "/services#service-mail",
        "/legal/terms",
        "/hosting",
        "/transparency",
        "/incidents",
        "mailto:contact@demo.chatons.org",
        "https://demo.chatons.org/contact",
        "/login",
    ):
        assert f'href="{link}' in body, link


def test_the_public_home_speaks_english_to_english_readers(client: Any) -> None:
    page = text(client.get("/", headers=EN))
    assert "All services operate normally." in page
    assert "A non-profit association that hosts free-software services" in page
    assert "Mail" in page and "Contact the team" in page


def test_the_home_names_the_services_that_do_not_work(app: Any, client: Any) -> None:
    from app.db import session_scope
    from app.incidents import operations

    with app.test_request_context(), session_scope(app) as session:
        operations.open_incident(
            session,
            title="Courriel lent",
            impact="major",
            services=["mail"],
            known_services=["mail", "cloud", "pad"],
            actor=operations.CLI,
        )
    page = text(client.get("/"))
    assert "Tous les services fonctionnent normalement." not in page
    assert "Ne fonctionne pas normalement" in page and "Courriel (" in page
    journal = text(client.get("/incidents"))
    assert "Ne fonctionne pas normalement" in journal and "Courriel (" in journal


def test_a_signed_in_person_at_the_root_still_gets_their_account(login_as: Any) -> None:
    page = text(login_as("alice").get("/"))
    assert "Mon compte" in page and "Alice Martin" in page
    assert "Contacter l'équipe" not in page


def test_support_explains_itself_to_a_visitor_instead_of_a_login_form(client: Any) -> None:
    response = client.get("/support")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert 'name="password"' not in body
    assert "mailto:contact@demo.chatons.org" in body
    assert 'href="/login?next=/support"' in body
    assert 'href="/incidents"' in body
    # The rest of support stays private.
    assert client.get("/support/new").status_code == 302


def test_the_status_summary_is_kept_until_the_journal_changes(make_app: Any) -> None:
    """The home's status line is read once per journal version, and follows a new incident."""
    from sqlalchemy import event

    # Versions checked hourly: only the local write below can make the summary change.
    app = make_app(INCIDENTS_VERSION_SECONDS=3600, INCIDENTS_CACHE_SECONDS=3600)
    client = app.test_client()

    from app.db import session_scope
    from app.incidents import operations

    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "incident" in statement:
            seen.append(statement)

    assert "Tous les services fonctionnent normalement." in text(client.get("/"))
    engine = app.extensions["panel_db"].engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        assert "Tous les services fonctionnent normalement." in text(client.get("/"))
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert seen == []
    with app.test_request_context(), session_scope(app) as session:
        operations.open_incident(
            session,
            title="Courriel lent",
            impact="major",
            services=["mail"],
            known_services=["mail", "cloud", "pad"],
            actor=operations.CLI,
        )
    assert "Ne fonctionne pas normalement" in text(client.get("/"))
