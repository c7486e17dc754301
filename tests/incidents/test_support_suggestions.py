"""The support form suggests the real ongoing incidents of the chosen service ("is this it?")."""

from __future__ import annotations

import html


def test_new_ticket_form_suggests_ongoing_incidents_of_the_chosen_service(
    app, journal, login_as, client
):
    journal.open(title="Les courriels partent en retard", services_=("mail",))
    journal.open(title="Le cloud est lent", services_=("cloud",), impact="minor")
    login_as("alice")
    first_step = html.unescape(client.get("/support/new").get_data(as_text=True))
    assert 'name="service"' in first_step and 'name="subject"' not in first_step
    page = html.unescape(client.get("/support/new?service=mail").get_data(as_text=True))
    assert "Les courriels partent en retard" in page
    assert "Le cloud est lent" not in page
    assert 'name="subject"' in page
    assert 'href="/incidents/' in page
    quiet = html.unescape(client.get("/support/new?service=pad").get_data(as_text=True))
    assert "partent en retard" not in quiet and "Le cloud est lent" not in quiet
