"""Staff pages: queue with filters, search and pages; ticket page; assignment; saved replies."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import select
from support.ticket_helpers import PNG

from app.db import session_scope, utcnow
from app.support.models import CannedReply, Ticket
from helpers import csrf_token


@pytest.fixture
def camille(login_as, client):
    login_as("camille")
    client.post("/language", data={"lang": "en", "csrf_token": csrf_token(client, "/staff/")})
    return client


def subjects(page: str) -> list[str]:
    return re.findall(r'href="/staff/tickets/\d+">#\d+ ([^<]+)</a></td>', page)


def test_staff_home_counts_tickets_waiting_for_an_answer(app, camille, make_ticket):
    make_ticket()
    make_ticket("bob")
    page = camille.get("/staff/").get_data(as_text=True)
    assert re.search(
        r'<a href="/staff/tickets">Support tickets waiting for an answer</a></td><td>2</td>', page
    )


def test_queue_shows_longest_waiting_first_and_filters(app, camille, make_ticket, accounts):
    a = make_ticket(subject="Mail bounce", service="mail")
    b = make_ticket("bob", subject="Pad deleted", service="pad")
    c = make_ticket("zoe", subject="Cloud full", service="cloud")
    with session_scope(app) as session:
        session.get(Ticket, b).state_changed_at = utcnow() - timedelta(days=3)
        session.get(Ticket, c).assignee_id = accounts("camille").id
    assert subjects(camille.get("/staff/tickets").get_data(as_text=True)) == [
        "Pad deleted",
        "Mail bounce",
        "Cloud full",
    ]
    page = camille.get("/staff/tickets?service=mail").get_data(as_text=True)
    assert subjects(page) == ["Mail bounce"]
    assert subjects(camille.get("/staff/tickets?assignee=none").get_data(as_text=True)) == [
        "Pad deleted",
        "Mail bounce",
    ]
    assert subjects(camille.get("/staff/tickets?assignee=me").get_data(as_text=True)) == [
        "Cloud full"
    ]
    assert subjects(camille.get("/staff/tickets?state=closed").get_data(as_text=True)) == []
    assert subjects(camille.get("/staff/tickets?sort=recent").get_data(as_text=True))[-1] == (
        "Pad deleted"
    )
    assert a  # the mail ticket exists


def test_search_looks_in_every_state_by_default(app, camille, make_ticket, accounts):
    make_ticket(subject="Printer", body="The quarantine folder is full")
    closed = make_ticket(subject="Old one", body="quarantine again")
    with session_scope(app) as session:
        ticket = session.get(Ticket, closed)
        ticket.state, ticket.closed_at = "closed", utcnow()
    page = camille.get("/staff/tickets?q=quarantine").get_data(as_text=True)
    assert sorted(subjects(page)) == ["Old one", "Printer"]
    assert 'value="quarantine"' in page
    assert subjects(
        camille.get("/staff/tickets?q=quarantine&state=open").get_data(as_text=True)
    ) == ["Printer"]


def test_queue_pages_keep_the_filters(app, camille, make_ticket):
    for i in range(26):
        make_ticket(subject=f"Same problem {i}", service="pad")
    page = camille.get("/staff/tickets?service=pad").get_data(as_text=True)
    assert "26 tickets" in page
    link = re.search(r'href="([^"]+)" rel="next"', page).group(1).replace("&amp;", "&")
    assert "service=pad" in link and "page=2" in link
    assert len(subjects(camille.get(link).get_data(as_text=True))) == 1
    assert camille.get("/staff/tickets?page=5").status_code == 404


def test_staff_answer_with_a_note_and_a_reply_and_the_user_sees_only_the_reply(
    app, client, login_as, make_ticket, signed_in
):
    ticket = make_ticket()
    login_as("camille")
    token = csrf_token(client, f"/staff/tickets/{ticket}")
    client.post(
        f"/staff/tickets/{ticket}/reply",
        data={
            "csrf_token": token,
            "body": "SECRET-NOTE: her quota is wrong",
            "internal": "y",
            "attachments": [(io.BytesIO(PNG), "note-shot.png")],
        },
        content_type="multipart/form-data",
    )
    with session_scope(app) as session:
        assert session.get(Ticket, ticket).state == "new"
    client.post(
        f"/staff/tickets/{ticket}/reply",
        data={
            "csrf_token": token,
            "body": "Fixed, please try again.",
            "then_state": "waiting_user",
        },
        content_type="multipart/form-data",
    )
    staff_page = client.get(f"/staff/tickets/{ticket}").get_data(as_text=True)
    assert "SECRET-NOTE" in staff_page and "Note interne" in staff_page
    assert "note-shot.png" in staff_page
    with session_scope(app) as session:
        assert session.get(Ticket, ticket).state == "waiting_user"

    signed_in("alice")
    page = client.get(f"/support/{ticket}").get_data(as_text=True)
    assert "Fixed, please try again." in page
    assert "SECRET-NOTE" not in page
    assert "note-shot.png" not in page
    assert "Note interne" not in page


def test_assignment_and_state_change(app, camille, make_ticket, accounts):
    ticket = make_ticket()
    camille_id = accounts("camille").id
    alice_id = accounts("alice").id
    token = csrf_token(camille, f"/staff/tickets/{ticket}")
    camille.post(
        f"/staff/tickets/{ticket}/assign", data={"csrf_token": token, "assignee": camille_id}
    )
    page = camille.get(f"/staff/tickets/{ticket}").get_data(as_text=True)
    assert "The ticket is assigned to Camille Dupont." in page
    response = camille.post(
        f"/staff/tickets/{ticket}/assign", data={"csrf_token": token, "assignee": alice_id}
    )
    assert response.status_code == 422
    assert "Choose a staff member from the list." in response.get_data(as_text=True)
    camille.post(f"/staff/tickets/{ticket}/state", data={"csrf_token": token, "state": "closed"})
    with session_scope(app) as session:
        row = session.get(Ticket, ticket)
        assert (row.state, row.assignee_id) == ("closed", camille_id)
        assert row.closed_at is not None
    response = camille.post(
        f"/staff/tickets/{ticket}/state", data={"csrf_token": token, "state": "lost"}
    )
    assert response.status_code == 422


def test_ticket_page_lists_the_requester_s_other_tickets(app, camille, make_ticket):
    first = make_ticket(subject="First request")
    make_ticket(subject="Second request")
    make_ticket("bob", subject="Bob's request")
    page = camille.get(f"/staff/tickets/{first}").get_data(as_text=True)
    others = page.split("Other tickets of this requester")[1]
    assert "Second request" in others
    assert "Bob's request" not in others
    assert "First request" not in others


def test_saved_replies_are_added_used_edited_and_deleted(app, camille, make_ticket):
    ticket = make_ticket()
    token = csrf_token(camille, "/staff/tickets/replies")
    response = camille.post(
        "/staff/tickets/replies",
        data={"csrf_token": token, "title": "", "body": "x"},
    )
    assert response.status_code == 422
    assert "Give the saved reply a title." in response.get_data(as_text=True)
    camille.post(
        "/staff/tickets/replies",
        data={"csrf_token": token, "title": "Reset", "body": "Use the reset link."},
    )
    with session_scope(app) as session:
        reply_id = session.scalar(select(CannedReply.id))
    page = camille.get(f"/staff/tickets/{ticket}").get_data(as_text=True)
    assert f'<option value="{reply_id}">Reset</option>' in page
    page = camille.get(f"/staff/tickets/{ticket}?canned={reply_id}").get_data(as_text=True)
    assert "\nUse the reset link.</textarea>" in page

    camille.post(
        f"/staff/tickets/replies/{reply_id}",
        data={"csrf_token": token, "title": "Reset", "body": "Use the new reset link."},
    )
    assert "Use the new reset link." in camille.get("/staff/tickets/replies").get_data(as_text=True)
    duplicate = camille.post(
        "/staff/tickets/replies", data={"csrf_token": token, "title": "Reset", "body": "again"}
    )
    assert "Another saved reply has this title." in duplicate.get_data(as_text=True)
    camille.post(f"/staff/tickets/replies/{reply_id}/delete", data={"csrf_token": token})
    assert "No saved reply yet." in camille.get("/staff/tickets/replies").get_data(as_text=True)
