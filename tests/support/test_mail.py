"""Mail through a real SMTP server on loopback: staff on new tickets, users on replies."""

from __future__ import annotations

import io

from sqlalchemy import func, select
from support.ticket_helpers import PNG

from app.db import session_scope
from app.mail import OutgoingMail
from app.support.models import TicketMessage
from helpers import csrf_token, do_login


def body_of(message) -> str:
    return message.get_content()


def open_as(client, uid: str, body: str = "My calendar is empty since this morning.") -> None:
    do_login(client, uid, "demo")
    client.post(
        "/support/new",
        data={
            "csrf_token": csrf_token(client, "/support/new"),
            "subject": "Calendar empty",
            "service": "cloud",
            "category": "problem",
            "body": body,
            "attachments": [(io.BytesIO(PNG), "cal.png")],
        },
        content_type="multipart/form-data",
    )
    client.delete_cookie("panel_session")


def staff_answer(client, ticket_id: int, body: str, *, internal: bool = False) -> None:
    do_login(client, "camille", "demo")
    data = {
        "csrf_token": csrf_token(client, f"/staff/tickets/{ticket_id}"),
        "body": body,
        "then_state": "waiting_user",
    }
    if internal:
        data["internal"] = "y"
    response = client.post(
        f"/staff/tickets/{ticket_id}/reply", data=data, content_type="multipart/form-data"
    )
    assert response.status_code == 302
    client.delete_cookie("panel_session")


def test_staff_get_a_mail_for_a_new_ticket_without_its_text(make_support_app, smtp):
    app = make_support_app(SMTP_URL=smtp.url, SUPPORT_STAFF_EMAIL="team@demo.chatons.org")
    open_as(app.test_client(), "alice")
    [mail] = smtp.messages
    assert mail["To"] == "team@demo.chatons.org"
    assert "[#1]" in mail["Subject"] and "Calendar empty" in mail["Subject"]
    text = body_of(mail)
    assert "Alice Martin (alice)" in text
    assert "http://localhost/staff/tickets/1" in text
    assert "My calendar is empty" not in text


def test_no_staff_address_means_no_staff_mail(make_support_app, smtp):
    app = make_support_app(SMTP_URL=smtp.url)
    open_as(app.test_client(), "alice")
    assert smtp.messages == []


def test_user_gets_a_link_not_the_text_by_default_in_their_language(make_support_app, smtp):
    app = make_support_app(SMTP_URL=smtp.url)
    client = app.test_client()
    open_as(client, "alice")
    open_as(client, "bob")
    staff_answer(client, 1, "Your calendar was restored from last night's backup.")
    staff_answer(client, 2, "Bob, we restored it too.")
    alice_mail, bob_mail = smtp.messages
    assert alice_mail["To"] == "alice@demo.chatons.org"
    assert "L'équipe a répondu" in alice_mail["Subject"]
    alice_text = body_of(alice_mail)
    assert "http://localhost/support/1" in alice_text
    assert "restored" not in alice_text
    assert "Connectez-vous au panneau" in alice_text
    assert bob_mail["To"] == "bob@demo.chatons.org"
    assert "The team answered your request" in bob_mail["Subject"]
    assert "http://localhost/support/2" in body_of(bob_mail)


def test_the_text_is_included_when_the_setting_says_so(make_support_app, smtp):
    app = make_support_app(SMTP_URL=smtp.url, SUPPORT_MAIL_INCLUDE_TEXT=True)
    client = app.test_client()
    open_as(client, "alice")
    staff_answer(client, 1, "Your calendar was restored from last night's backup.")
    [mail] = smtp.messages
    assert "Your calendar was restored from last night's backup." in body_of(mail)


def test_internal_notes_never_send_mail(make_support_app, smtp):
    app = make_support_app(
        SMTP_URL=smtp.url, SUPPORT_MAIL_INCLUDE_TEXT=True, SUPPORT_STAFF_EMAIL="team@x.org"
    )
    client = app.test_client()
    open_as(client, "alice")
    staff_answer(client, 1, "NOTE-ONLY: check the backup logs", internal=True)
    assert [m["To"] for m in smtp.messages] == ["team@x.org"]
    assert all("NOTE-ONLY" not in body_of(m) for m in smtp.messages)


def test_a_failing_smtp_server_never_loses_the_reply(make_support_app):
    app = make_support_app(SMTP_URL="smtp://127.0.0.1:9")  # nothing listens on discard
    client = app.test_client()
    open_as(client, "alice")
    staff_answer(client, 1, "Answer that must not be lost.")
    with session_scope(app) as session:
        bodies = session.scalars(select(TicketMessage.body)).all()
        assert "Answer that must not be lost." in bodies
        queued = session.scalar(select(func.count()).select_from(OutgoingMail))
        assert queued == 1


def test_the_whole_story_user_staff_mail_reply_close(make_support_app, smtp):
    """Issue #6 "done when": a ticket with a file, a note and a reply, the mail, the end."""
    app = make_support_app(SMTP_URL=smtp.url, SUPPORT_STAFF_EMAIL="team@demo.chatons.org")
    client = app.test_client()
    open_as(client, "alice")
    assert [m["To"] for m in smtp.messages] == ["team@demo.chatons.org"]
    staff_answer(client, 1, "Disk full on the cloud server", internal=True)
    staff_answer(client, 1, "Fixed: we freed some space.")
    assert [m["To"] for m in smtp.messages][-1] == "alice@demo.chatons.org"
    link = next(line for line in body_of(smtp.messages[-1]).splitlines() if "/support/" in line)

    do_login(client, "alice", "demo")
    page = client.get(link.strip().removeprefix("http://localhost")).get_data(as_text=True)
    assert "Fixed: we freed some space." in page and "Disk full" not in page
    token = csrf_token(client, "/support/1")
    client.post(
        "/support/1/reply",
        data={"csrf_token": token, "body": "Thanks, it works."},
        content_type="multipart/form-data",
    )
    client.post("/support/1/close", data={"csrf_token": token})
    page = client.get("/support/1").get_data(as_text=True)
    assert "Thanks, it works." in page
    assert "Rouvrir le ticket" in page
