"""Staff are mailed when the person writes again: the right person, grouped, answerable."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from support.test_mail import body_of, open_as, staff_answer
from support.test_mail_in import SUPPORT, answer_to, thread

from app.db import session_scope, utcnow
from app.mail import OutgoingMail, send_queued
from app.support.mail_cli import receive
from helpers import csrf_token, do_login

TEAM = "team@demo.chatons.org"


def settings(smtp, **extra):
    return {
        "SMTP_URL": smtp.url,
        "SUPPORT_STAFF_EMAIL": TEAM,
        "SUPPORT_REPLY_ADDRESS": SUPPORT,
        "MAIL_FROM": "panel@demo.chatons.org",
        "BASE_URL": "https://panel.example.org",
        **extra,
    }


def person_replies(client, body: str, ticket_id: int = 1) -> None:
    do_login(client, "alice", "demo")
    response = client.post(
        f"/support/{ticket_id}/reply",
        data={"csrf_token": csrf_token(client, f"/support/{ticket_id}"), "body": body},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    client.delete_cookie("panel_session")


def assign_to_camille(client, ticket_id: int = 1) -> None:
    do_login(client, "camille", "demo")
    page = f"/staff/tickets/{ticket_id}"
    with client.application.app_context(), session_scope(client.application) as session:
        from app.accounts.models import Account

        camille = session.scalar(select(Account.id).where(Account.uid == "camille"))
    response = client.post(
        f"{page}/assign", data={"csrf_token": csrf_token(client, page), "assignee": str(camille)}
    )
    assert response.status_code == 302
    client.delete_cookie("panel_session")


def pending(app) -> list[OutgoingMail]:
    with session_scope(app) as session:
        return list(session.scalars(select(OutgoingMail).where(OutgoingMail.dead_at.is_(None))))


def make_due(app) -> None:
    with session_scope(app) as session:
        for message in session.scalars(select(OutgoingMail)):
            message.next_attempt_at = utcnow() - timedelta(seconds=1)


def test_the_team_is_mailed_when_the_person_answers_on_the_web(make_support_app, smtp):
    app = make_support_app(**settings(smtp))
    client = app.test_client()
    open_as(client, "alice")
    staff_answer(client, 1, "Which calendar?")
    person_replies(client, "The family calendar, since Monday.")
    to_team = smtp.messages[-1]
    assert [m["To"] for m in smtp.messages] == [TEAM, "alice@demo.chatons.org", TEAM]
    assert "[#1]" in to_team["Subject"] and "Alice Martin" in to_team["Subject"]
    text = body_of(to_team)
    assert "https://panel.example.org/staff/tickets/1" in text  # BASE_URL, not the Host
    assert "1 message" in text
    assert "family calendar" not in text  # the message stays in the panel
    # The team's reply address: staff can answer from their mail client.
    assert to_team["Reply-To"] == smtp.messages[0]["Reply-To"]
    assert to_team["Reply-To"].startswith("support+1.")
    assert to_team["References"] == "<ticket-1@demo.chatons.org>"


def test_the_assigned_staff_member_is_mailed_instead_of_the_team(make_support_app, smtp):
    app = make_support_app(**settings(smtp))
    client = app.test_client()
    open_as(client, "alice")
    assign_to_camille(client)
    staff_answer(client, 1, "Which calendar?")
    person_replies(client, "The family one.")
    to_camille = smtp.messages[-1]
    assert to_camille["To"] == "camille@demo.chatons.org"
    assert "Le ticket vous est attribué." in body_of(to_camille)  # camille reads French


def test_a_burst_of_messages_is_one_mail_counting_them_all(make_support_app, smtp):
    app = make_support_app(**settings(smtp))
    client = app.test_client()
    open_as(client, "alice")
    for text in ("I forgot: it is the family calendar.", "And my phone too.", "Sorry!"):
        person_replies(client, text)
    # Within ten minutes of the new-ticket mail: nothing more yet, one mail waits.
    assert [m["To"] for m in smtp.messages] == [TEAM]
    [waiting] = pending(app)
    assert waiting.next_attempt_at is not None and waiting.next_attempt_at > utcnow()
    make_due(app)
    assert send_queued(app) == (1, 0)
    assert [m["To"] for m in smtp.messages] == [TEAM, TEAM]
    assert "4 messages" in body_of(smtp.messages[-1])  # the first one and three more


def test_with_grouping_off_every_message_is_mailed_at_once(make_support_app, smtp):
    app = make_support_app(**settings(smtp, SUPPORT_STAFF_MAIL_GROUP_MINUTES=0))
    client = app.test_client()
    open_as(client, "alice")
    person_replies(client, "One more thing.")
    person_replies(client, "And another.")
    assert [m["To"] for m in smtp.messages] == [TEAM, TEAM, TEAM]


def test_staff_replies_and_notes_never_mail_staff(make_support_app, smtp):
    app = make_support_app(**settings(smtp))
    client = app.test_client()
    open_as(client, "alice")
    staff_answer(client, 1, "Looking into it", internal=True)
    staff_answer(client, 1, "Which calendar?")
    assert [m["To"] for m in smtp.messages] == [TEAM, "alice@demo.chatons.org"]
    assert pending(app) == []


def test_without_a_team_address_or_assignee_nobody_is_mailed(make_support_app, smtp):
    app = make_support_app(**settings(smtp, SUPPORT_STAFF_EMAIL=None))
    client = app.test_client()
    open_as(client, "alice")
    person_replies(client, "Anyone there?")
    assert smtp.messages == [] and pending(app) == []


def test_a_reply_by_mail_tells_staff_who_answer_by_mail_in_turn(make_support_app, smtp):
    app = make_support_app(**settings(smtp))
    client = app.test_client()
    open_as(client, "alice")
    staff_answer(client, 1, "Did you change anything yesterday?")
    to_alice = smtp.messages[-1]
    reply = answer_to(to_alice, "Alice Martin <alice@demo.chatons.org>", "No, nothing at all.")
    assert receive(app, reply.as_bytes()).status == "added"
    to_team = smtp.messages[-1]
    assert to_team["To"] == TEAM
    assert "https://panel.example.org/staff/tickets/1" in body_of(to_team)
    # The staff member answers that very mail from their client: Alice is told, not staff.
    sent = len(smtp.messages)
    answer = answer_to(to_team, "Camille Dupont <camille@demo.chatons.org>", "Fixed now.")
    assert receive(app, answer.as_bytes()).status == "added"
    assert thread(app)[-1].from_staff and thread(app)[-1].body == "Fixed now."
    assert [m["To"] for m in smtp.messages[sent:]] == ["alice@demo.chatons.org"]
    assert pending(app) == []


def test_a_grouped_mail_still_waiting_is_dropped_once_the_team_answers(make_support_app, smtp):
    app = make_support_app(**settings(smtp))
    client = app.test_client()
    open_as(client, "alice")
    person_replies(client, "I forgot: it is the family calendar.")
    assert len(pending(app)) == 1
    staff_answer(client, 1, "Thanks, looking at the family calendar.")
    assert pending(app) == []
    assert [m["To"] for m in smtp.messages] == [TEAM, "alice@demo.chatons.org"]
