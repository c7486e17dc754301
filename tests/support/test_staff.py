"""Staff pages: queue with filters, search and pages; ticket page; assignment; saved replies."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from support.ticket_helpers import PNG

from app.db import session_scope, utcnow
from app.support import operations, saved_replies
from app.support.models import CannedReply, Ticket, TicketMessage
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
    assert f'<option value="{reply_id}" data-text="Use the reset link."' in page
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


def saved_reply(app, title: str, body: str, body_en: str | None = None) -> int:
    with session_scope(app) as session:
        reply = CannedReply(title=title, body=body, body_en=body_en)
        session.add(reply)
        session.flush()
        return reply.id


def messages_of(app, ticket: int) -> int:
    with session_scope(app) as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(TicketMessage)
                .where(TicketMessage.ticket_id == ticket)
            )
            or 0
        )


def test_inserting_a_saved_reply_without_javascript_keeps_the_draft_and_sends_nothing(
    app, camille, make_ticket
):
    ticket = make_ticket(subject="Mot de passe")
    reply_id = saved_reply(app, "Reset", "Bonjour {name}, voici le lien ({ticket}).")
    path = f"/staff/tickets/{ticket}"
    response = camille.post(
        f"{path}/reply",
        data={
            "csrf_token": csrf_token(camille, path),
            "body": "My own first lines.",
            "internal": "y",
            "saved_reply": str(reply_id),
            "action": "insert",
        },
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    expected = f"Bonjour Alice Martin, voici le lien (#{ticket})."
    assert f"\nMy own first lines.\n\n{expected}</textarea>" in page
    assert re.search(r'<input[^>]*checked[^>]*id="internal"|id="internal"[^>]*checked', page)
    assert "is inserted after your draft, in French. Nothing was sent." in page
    assert messages_of(app, ticket) == 1


def test_a_saved_reply_uses_the_requesters_language_and_falls_back_to_french(
    app, camille, make_ticket
):
    french_only = saved_reply(app, "Merci", "Merci {name} !")
    both = saved_reply(app, "Hello", "Bonjour {name}.", "Hello {name}, about {service}.")
    bobs = make_ticket("bob", service="cloud")
    page = camille.get(f"/staff/tickets/{bobs}").get_data(as_text=True)
    assert f'<option value="{both}" data-text="Hello Bob Smith, about ' in page
    assert f'<option value="{french_only}" data-text="Merci Bob Smith !"' in page
    alices = make_ticket("alice")
    page = camille.get(f"/staff/tickets/{alices}").get_data(as_text=True)
    assert f'<option value="{both}" data-text="Bonjour Alice Martin."' in page


def test_placeholder_values_are_escaped_and_unknown_ones_stay_visible_with_a_warning(
    app, camille, make_ticket
):
    ticket = make_ticket(subject='<b>gras</b> "{name}"')
    reply_id = saved_reply(app, "Sujet", "Re: {subject} {nmae} {{name}}")
    path = f"/staff/tickets/{ticket}"
    page = camille.post(
        f"{path}/reply",
        data={
            "csrf_token": csrf_token(camille, path),
            "body": "",
            "saved_reply": str(reply_id),
            "action": "insert",
        },
    ).get_data(as_text=True)
    assert "Re: &lt;b&gt;gras&lt;/b&gt; &#34;{name}&#34; {nmae} {name}</textarea>" in page
    assert "<b>gras" not in page
    assert "Unknown placeholders were left as they are" in page and "<code>{nmae}</code>" in page
    token = csrf_token(camille, "/staff/tickets/replies")
    saved = camille.post(
        "/staff/tickets/replies",
        data={"csrf_token": token, "title": "Typo", "body": "Bonjour {nom}"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "Unknown placeholders, left as they are when the reply is inserted: {nom}" in saved


def test_inserting_without_choosing_a_reply_says_so_and_keeps_the_draft(app, camille, make_ticket):
    ticket = make_ticket()
    saved_reply(app, "Reset", "Texte.")
    path = f"/staff/tickets/{ticket}"
    response = camille.post(
        f"{path}/reply",
        data={"csrf_token": csrf_token(camille, path), "body": "Draft", "action": "insert"},
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Choose a saved reply from the list." in page
    assert "\nDraft</textarea>" in page
    assert messages_of(app, ticket) == 1


def test_a_saved_reply_greets_a_visitor_neutrally_never_by_address(app, camille):
    with session_scope(app) as session:
        ticket, _first = operations.add_ticket(
            session,
            None,
            subject="Question",
            body="Bonjour, une question.",
            service="other",
            category="other",
            contact_email="visitor@example.net",
            contact_language="fr",
        )
        ticket_id = ticket.id
    reply_id = saved_reply(app, "Salut", "Bonjour {name},\nMerci {name} ! ({ticket})")
    page = camille.get(f"/staff/tickets/{ticket_id}").get_data(as_text=True)
    assert f'<option value="{reply_id}" data-text="Bonjour,\nMerci ! (#{ticket_id})"' in page
    path = f"/staff/tickets/{ticket_id}"
    inserted = camille.post(
        f"{path}/reply",
        data={
            "csrf_token": csrf_token(camille, path),
            "body": "",
            "saved_reply": str(reply_id),
            "action": "insert",
        },
    ).get_data(as_text=True)
    assert f"Bonjour,\nMerci ! (#{ticket_id})</textarea>" in inserted
    assert "visitor@example.net" not in inserted.split('id="reply"')[1]


def test_a_name_that_is_only_an_address_is_not_a_greeting() -> None:
    assert saved_replies.greeting_name("alice@example.org") == ""
    assert saved_replies.greeting_name("  Alice   Martin ") == "Alice Martin"
    assert saved_replies.fill_placeholders("Hello {name}, {{x}}", {"name": ""}) == "Hello, {x}"
