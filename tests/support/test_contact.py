"""The public contact form: visitors open a ticket with an address, staff answer by mail."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from support.test_mail import body_of, staff_answer
from support.test_mail_in import answer_to
from support.ticket_helpers import PNG

from app.db import session_scope, utcnow
from app.support import visitors
from app.support.mail_cli import receive
from app.support.models import Ticket, TicketMessage
from helpers import csrf_token, do_login

TOKEN = re.compile(r'name="contact-csrf_token"[^>]*value="([^"]+)"')
SUPPORT = "support@demo.chatons.org"


@pytest.fixture
def contact_app(make_support_app: Any, smtp: Any) -> Any:
    return make_support_app(
        SMTP_URL=smtp.url,
        SUPPORT_CONTACT_FORM=True,
        SUPPORT_STAFF_EMAIL="team@demo.chatons.org",
        SUPPORT_REPLY_ADDRESS=SUPPORT,
        MAIL_FROM="panel@demo.chatons.org",
    )


def send(client: Any, *, page: str = "/", headers: dict[str, str] | None = None, **fields: str):
    """Follow the page's "Write to the team" link, then fill and send the form."""
    html = client.get(page, headers=headers or {}).get_data(as_text=True)
    if page != "/support/contact":
        assert 'href="/support/contact"' in html, f"no link to the contact form on {page}"
        assert "contact-email" not in html  # a link, not the form: no cookie for readers
        html = client.get("/support/contact", headers=headers or {}).get_data(as_text=True)
    match = TOKEN.search(html)
    assert match, f"no contact form on {page}"
    data = {
        "contact-email": "zoe@example.net",
        "contact-subject": "Can I join?",
        "contact-body": "I would like an account for my association.",
        "contact-website": "",
        **{f"contact-{k}": v for k, v in fields.items()},
        "contact-csrf_token": match.group(1),
    }
    return client.post("/support/contact", data=data, headers=headers or {})


def tickets(app: Any) -> list[Ticket]:
    with session_scope(app) as session:
        return list(session.scalars(select(Ticket).order_by(Ticket.id)))


def test_the_form_is_off_unless_the_hoster_turns_it_on(client: Any):
    assert client.get("/support/contact").status_code == 404
    assert "/support/contact" not in client.get("/").get_data(as_text=True)
    assert "/support/contact" not in client.get("/support").get_data(as_text=True)


def test_visitors_reading_the_public_pages_get_no_cookie_with_the_form_on(contact_app: Any):
    client = contact_app.test_client()
    for page in ("/", "/support"):
        response = client.get(page)
        assert "/support/contact" in response.get_data(as_text=True)
        assert "Set-Cookie" not in response.headers, page
    assert "Set-Cookie" in client.get("/support/contact").headers  # the form's CSRF token


def test_a_visitor_writes_from_the_home_page_and_gets_the_number_by_mail(
    contact_app: Any, smtp: Any
):
    client = contact_app.test_client()
    response = send(client, headers={"Accept-Language": "en"})
    assert response.status_code == 302
    page = client.get(response.headers["Location"], headers={"Accept-Language": "en"})
    text = page.get_data(as_text=True)
    assert "request no. 1" in text and "zoe@example.net" in text
    [ticket] = tickets(contact_app)
    assert (ticket.account_id, ticket.contact_email, ticket.contact_language) == (
        None,
        "zoe@example.net",
        "en",
    )
    to_visitor = next(m for m in smtp.messages if m["To"] == "zoe@example.net")
    assert to_visitor["Subject"] == "[#1] We received your message"
    assert to_visitor["Reply-To"].startswith("support+1.")
    # Only the number: the form must not mail what strangers type to any address.
    assert "association" not in body_of(to_visitor)
    to_team = next(m for m in smtp.messages if m["To"] == "team@demo.chatons.org")
    assert "zoe@example.net" in body_of(to_team)


def test_the_support_page_offers_the_form_too_and_french_is_the_default(
    contact_app: Any, smtp: Any
):
    client = contact_app.test_client()
    assert send(client, page="/support").status_code == 302
    text = client.get("/support/contact/sent").get_data(as_text=True)
    assert "demande n° 1" in text
    [to_visitor] = [m for m in smtp.messages if m["To"] == "zoe@example.net"]
    assert "Nous avons bien reçu votre message" in to_visitor["Subject"]


@pytest.mark.parametrize(
    "address",
    ["zoe@example.net, eve@example.org", "zoe@example.net\nBcc: eve@example.org", "zoe", ""],
)
def test_a_bad_address_is_explained_and_the_message_is_kept(contact_app: Any, address: str):
    client = contact_app.test_client()
    response = send(client, email=address, headers={"Accept-Language": "en"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Enter one e-mail address" in html
    assert "I would like an account for my association." in html
    assert tickets(contact_app) == []


def test_a_robot_filling_the_hidden_field_opens_nothing(contact_app: Any, smtp: Any):
    client = contact_app.test_client()
    response = send(client, website="http://spam.example")
    assert response.status_code == 302
    assert client.get("/support/contact/sent").status_code == 200
    assert tickets(contact_app) == []
    assert smtp.messages == []


def test_a_post_without_the_csrf_token_is_refused(contact_app: Any):
    client = contact_app.test_client()
    client.get("/")
    response = client.post(
        "/support/contact",
        data={"contact-email": "zoe@example.net", "contact-subject": "x", "contact-body": "y"},
    )
    assert response.status_code == 400
    assert tickets(contact_app) == []


def test_messages_are_limited_per_address_and_per_client(make_support_app: Any):
    app = make_support_app(
        SUPPORT_CONTACT_FORM=True,
        SUPPORT_CONTACT_LIMIT_PER_ADDRESS="1 per hour",
        SUPPORT_CONTACT_LIMIT_PER_IP="2 per hour",
    )
    client = app.test_client()
    english = {"Accept-Language": "en"}
    assert send(client, headers=english).status_code == 302
    again = send(client, headers=english, body="Second message, same address.")
    assert again.status_code == 429
    html = again.get_data(as_text=True)
    assert "You can try again in" in html
    assert "Second message, same address." in html  # nothing lost
    assert send(client, headers=english, email="other@example.net").status_code == 302
    # The client has now sent two: a third address is refused too.
    assert send(client, headers=english, email="third@example.net").status_code == 429
    assert len(tickets(app)) == 2


def test_staff_see_a_visitor_and_answer_by_mail_and_the_visitor_answers_back(
    contact_app: Any, smtp: Any
):
    client = contact_app.test_client()
    send(client)
    client.delete_cookie("panel_session")
    do_login(client, "camille", "demo")
    queue = client.get("/staff/tickets?state=all").get_data(as_text=True)
    assert "Visiteur" in queue and "zoe@example.net" in queue
    page = client.get("/staff/tickets/1").get_data(as_text=True)
    assert "zoe@example.net" in page
    client.delete_cookie("panel_session")
    staff_answer(client, 1, "Yes: fill in the form on our website.")
    to_visitor = smtp.messages[-1]
    assert to_visitor["To"] == "zoe@example.net"
    # The visitor cannot sign in: the answer's text is in the mail.
    assert "Yes: fill in the form on our website." in body_of(to_visitor)

    reply = answer_to(to_visitor, "Zoé <Zoe@Example.net>", "Thank you, done.")
    assert receive(contact_app, reply.as_bytes()).status == "added"
    # The team hears of it, the visitor named by the address (no account, no login), and
    # the message itself stays in the panel.
    told = smtp.messages[-1]
    assert told["To"] == "team@demo.chatons.org"
    assert "zoe@example.net" in told["Subject"] and "Thank you" not in body_of(told)
    forged = answer_to(to_visitor, "eve@example.org", "Add me too.")
    assert receive(contact_app, forged.as_bytes()).status == "unknown_sender"
    with session_scope(contact_app) as session:
        bodies = list(
            session.scalars(
                select(TicketMessage.body)
                .where(TicketMessage.ticket_id == 1)
                .order_by(TicketMessage.id)
            )
        )
        assert bodies[-1] == "Thank you, done."
        assert session.get(Ticket, 1).state == "waiting_staff"


def test_staff_cannot_attach_files_a_visitor_could_never_download(contact_app: Any):
    client = contact_app.test_client()
    send(client)
    client.delete_cookie("panel_session")
    do_login(client, "camille", "demo")
    response = client.post(
        "/staff/tickets/1/reply",
        data={
            "csrf_token": csrf_token(client, "/staff/tickets/1"),
            "body": "Here is the guide.",
            "then_state": "waiting_user",
            "attachments": [(io.BytesIO(PNG), "guide.png")],
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "ne peut pas télécharger de fichiers" in response.get_data(as_text=True)


def test_a_member_with_the_same_address_never_sees_a_visitors_ticket(contact_app: Any):
    client = contact_app.test_client()
    send(client, email="alice@demo.chatons.org")
    client.delete_cookie("panel_session")
    do_login(client, "alice", "demo")
    assert "Can I join?" not in client.get("/support").get_data(as_text=True)
    assert client.get("/support/1").status_code == 404
    assert "Can I join?" not in client.get("/").get_data(as_text=True)
    # Signed in, the contact form sends people to their own ticket form.
    assert client.get("/support/contact").headers["Location"].endswith("/support/new")


def test_closed_visitor_tickets_are_deleted_after_the_retention_time(
    contact_app: Any, accounts: Any, make_ticket: Any
):
    send(contact_app.test_client())
    send(contact_app.test_client(), email="new@example.net")
    member_ticket = make_ticket("alice")
    with session_scope(contact_app) as session:
        old = utcnow() - timedelta(days=91)
        for ticket in session.scalars(select(Ticket)):
            if ticket.contact_email != "new@example.net":
                ticket.state, ticket.closed_at, ticket.state_changed_at = "closed", old, old
    with session_scope(contact_app) as session:
        visitors.delete_old_visitor_tickets(session, days=0)  # 0: never deleted
    assert len(tickets(contact_app)) == 3
    # The nightly `flask support auto-close` deletes them (SUPPORT_VISITOR_KEEP_DAYS: 90).
    result = contact_app.test_cli_runner().invoke(args=["support", "auto-close"])
    assert result.exit_code == 0, result.output
    remaining = {(t.id, t.contact_email) for t in tickets(contact_app)}
    assert remaining == {(2, "new@example.net"), (member_ticket, None)}


def test_a_visitor_ticket_left_waiting_is_closed_and_the_visitor_told_by_mail(
    contact_app: Any, smtp: Any
):
    from app.mail import send_queued
    from app.support import operations
    from app.support.settings import SupportSettings

    client = contact_app.test_client()
    send(client, headers={"Accept-Language": "en"})
    client.delete_cookie("panel_session")
    staff_answer(client, 1, "Which association?")
    with session_scope(contact_app) as session:
        ticket = session.get(Ticket, 1)
        ticket.state_changed_at = utcnow() - timedelta(days=15)
    with contact_app.app_context(), session_scope(contact_app) as session:
        closed = operations.auto_close(session, SupportSettings.from_config(contact_app.config))
    assert closed == 1
    send_queued(contact_app)
    last = smtp.messages[-1]
    assert last["To"] == "zoe@example.net"
    assert last["Subject"] == "[#1] Your request was closed: Can I join?"
    assert "answer this mail" in body_of(last)
