"""Who reaches what: owner, another user, staff and visitors, for every ticket and file URL."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from support.ticket_helpers import PNG

from app.db import session_scope
from app.support.models import Attachment, Ticket, TicketMessage
from helpers import csrf_token

# (method, path template, what the owner gets, what another user gets, what staff get)
USER_URLS = [
    ("GET", "/support/{t}", 200, 404, 404),
    ("POST", "/support/{t}/reply", 302, 404, 404),
    ("POST", "/support/{t}/close", 302, 404, 404),
    ("POST", "/support/{t}/reopen", 302, 404, 404),
    ("GET", "/support/{t}/attachments/{a}", 200, 404, 200),
    # A file on an internal note: staff only.
    ("GET", "/support/{t}/attachments/{n}", 404, 404, 200),
    # A real attachment id under another ticket's id.
    ("GET", "/support/{o}/attachments/{a}", 404, 404, 404),
    ("GET", "/staff/tickets", 403, 403, 200),
    ("GET", "/staff/tickets/{t}", 403, 403, 200),
    ("POST", "/staff/tickets/{t}/reply", 403, 403, 302),
    ("POST", "/staff/tickets/{t}/assign", 403, 403, 302),
    ("POST", "/staff/tickets/{t}/state", 403, 403, 302),
    ("GET", "/staff/tickets/replies", 403, 403, 200),
    ("POST", "/staff/tickets/replies", 403, 403, 302),
    ("GET", "/staff/tickets/replies/{r}", 403, 403, 200),
    ("POST", "/staff/tickets/replies/{r}", 403, 403, 302),
    ("POST", "/staff/tickets/replies/{r}/delete", 403, 403, 302),
]
FORM = {
    "body": "A message",
    "state": "waiting_user",
    "assignee": "",
    "then_state": "waiting_user",
}


@pytest.fixture
def world(app, make_ticket, staff_reply):
    """alice's ticket (a file, a staff note with a file), bob's ticket, a saved reply."""
    ticket = make_ticket("alice", files=[("a.png", PNG)])
    staff_reply(ticket, "note", internal=True, files=[("n.png", PNG)])
    other = make_ticket("bob")
    with session_scope(app) as session:
        files = session.execute(
            select(Attachment.id, TicketMessage.is_internal).join(TicketMessage)
        ).all()
        from app.support.models import CannedReply

        reply = CannedReply(title="Hello", body="Hello!")
        session.add(reply)
        session.flush()
        reply_id = reply.id
    public = next(i for i, internal in files if not internal)
    note = next(i for i, internal in files if internal)
    return {"t": ticket, "o": other, "a": public, "n": note, "r": reply_id}


def call(client, method, path, token):
    if method == "GET":
        return client.get(path)
    data = {**FORM, "title": f"Saved reply for {path}", "csrf_token": token}
    return client.post(path, data=data, content_type="multipart/form-data")


@pytest.mark.parametrize(("who", "column"), [("alice", 2), ("bob", 3), ("camille", 4)])
def test_authorisation_matrix(app, client, login_as, world, who, column):
    login_as(who)
    token = csrf_token(client, "/support")
    for row in USER_URLS:
        method, template = row[0], row[1]
        path = template.format(**world)
        response = call(client, method, path, token)
        assert response.status_code == row[column], (who, method, path)
        if method == "GET" and response.status_code == 404:
            page = response.get_data(as_text=True)
            assert "note" not in page and "a.png" not in page


def test_visitors_are_sent_to_sign_in_everywhere_and_nothing_changes(app, client, world):
    for method, template, *_ in USER_URLS:
        path = template.format(**world)
        response = call(client, method, path, "no-token")
        if method == "GET":
            assert response.status_code == 302, path
            assert "/login" in response.headers["Location"]
        else:
            # CSRF first (no session, no token), then the sign-in guard: never a change.
            assert response.status_code in (302, 400), path
    assert "/login" in client.get("/support/new").headers["Location"]
    # /support explains support to visitors and lists no ticket.
    visitor_page = client.get("/support").get_data(as_text=True)
    assert 'name="password"' not in visitor_page
    assert f"/support/{world['t']}" not in visitor_page
    with session_scope(app) as session:
        assert session.get(Ticket, world["t"]).state == "new"


def test_users_cannot_guess_tickets_that_do_not_exist(app, client, login_as, world):
    login_as("alice")
    assert client.get("/support/999").status_code == 404
    assert client.get(f"/support/{world['t']}/attachments/999").status_code == 404
