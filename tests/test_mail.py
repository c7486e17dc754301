"""The outbox never jams: bad addresses are refused, failures back off, then give up."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

import ldap_server
from app.audit import AuditEvent
from app.db import session_scope, utcnow
from app.mail import OutgoingMail, queue_mail, retry_delay, send_queued
from helpers import csrf_token, do_login


def put_in_outbox(app, *recipients: str) -> None:
    """Rows as an older panel (or a bug) may have left them, unchecked."""
    with session_scope(app) as session:
        for recipient in recipients:
            session.add(
                OutgoingMail(
                    recipient=recipient,
                    subject="Votre ticket",
                    body="Bonjour\n",
                    purpose="support.reply",
                    attempts=0,
                    created_at=utcnow(),
                )
            )


def outbox(app) -> list[OutgoingMail]:
    with session_scope(app) as session:
        return list(session.scalars(select(OutgoingMail).order_by(OutgoingMail.id)).all())


def audit_events(session, action: str) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id.desc())
    return list(session.scalars(query).all())


def test_a_bad_address_then_a_good_one_the_good_one_is_delivered(make_app, smtp):
    app = make_app(SMTP_URL=smtp.url)
    put_in_outbox(app, "zoe@demo.chatons.org\nBcc: attacker@evil.example", "alice@demo.chatons.org")
    assert send_queued(app) == (1, 1)
    assert [m["To"] for m in smtp.messages] == ["alice@demo.chatons.org"]
    [dead] = outbox(app)
    assert dead.dead_at is not None and "ValueError" in (dead.last_error or "")
    assert send_queued(app) == (0, 0)  # a dead letter is not tried again


@pytest.mark.parametrize(
    "address",
    [
        "zoe@demo.chatons.org, attacker@evil.example",
        "zoe@demo.chatons.org\r\nBcc: attacker@evil.example",
        "Zoé <zoe@demo.chatons.org>",
        "zoe@demo\u2028.chatons.org",
        "zoe@demo\x00.chatons.org",
        "",
        "not-an-address",
    ],
)
def test_an_address_that_is_not_exactly_one_address_is_not_queued(app, address, caplog):
    with app.test_request_context(), session_scope(app) as session:
        caplog.set_level(logging.WARNING, logger="app.mail")
        queued = queue_mail(
            session,
            to=address,
            template="support_reply",
            purpose="support.reply",
            ticket=None,
            link=None,
            body=None,
        )
    assert queued is None
    assert outbox(app) == []
    assert len([r for r in caplog.records if "not queued" in r.getMessage()]) == 1
    assert "attacker" not in caplog.text


def test_failures_back_off_then_become_a_dead_letter_shown_to_staff(make_app):
    closed = f"smtp://127.0.0.1:{ldap_server.free_port()}"
    app = make_app(SMTP_URL=closed, MAIL_MAX_ATTEMPTS=3, MAIL_RETRY_SECONDS=60)
    put_in_outbox(app, "bob@demo.chatons.org")
    assert send_queued(app) == (0, 1)
    [waiting] = outbox(app)
    assert waiting.attempts == 1 and waiting.dead_at is None
    assert waiting.next_attempt_at is not None and waiting.next_attempt_at > utcnow()
    assert send_queued(app) == (0, 0)  # not due yet: not hammered
    for _ in range(2):
        with session_scope(app) as session:
            for message in session.scalars(select(OutgoingMail)):
                message.next_attempt_at = utcnow() - timedelta(seconds=1)
        send_queued(app)
    [dead] = outbox(app)
    assert dead.attempts == 3 and dead.dead_at is not None
    client = app.test_client()
    do_login(client, "camille", "demo")
    page = client.get("/staff/").get_data(as_text=True)
    assert "Courriels impossibles à distribuer" in page
    assert "bob@demo.chatons.org" in page and "ConnectionRefusedError" in page
    assert "Réponse de l&#39;équipe sur un ticket" in page and "support.reply" not in page


def test_every_kind_of_mail_the_panel_sends_is_named_in_words_for_staff():
    """A new kind of mail without words would show staff its code among dead letters."""
    from pathlib import Path

    from app.staff import MAIL_PURPOSES

    root = Path(__file__).resolve().parents[1] / "app"
    pattern = re.compile(r'(?:purpose=|PURPOSE\w* = )"([a-z_]+\.[a-z_.]+)"')
    used = {m for path in root.rglob("*.py") for m in pattern.findall(path.read_text())}
    assert len(used) >= 10, used
    assert used <= set(MAIL_PURPOSES), used - set(MAIL_PURPOSES)


def test_back_off_doubles_up_to_the_maximum():
    config = {"MAIL_RETRY_SECONDS": 60, "MAIL_RETRY_MAX_SECONDS": 3600}
    delays = [retry_delay(config, n).total_seconds() for n in range(1, 9)]
    assert delays == [60, 120, 240, 480, 960, 1920, 3600, 3600]


# Dead letters: staff send them again once the cause is fixed, or discard them ------------


def _staff(app):
    client = app.test_client()
    assert do_login(client, "camille", "demo").status_code == 302
    return client


def _staff_post(client, action: str, **data):
    token = csrf_token(client, "/staff/")
    return client.post(
        f"/staff/mail/undelivered/{action}",
        data={**data, "csrf_token": token},
        follow_redirects=True,
    )


def _dead_letters_for(app, *recipients: str) -> list[int]:
    put_in_outbox(app, *recipients)
    with session_scope(app) as session:
        rows = session.scalars(select(OutgoingMail)).all()
        for row in rows:
            row.attempts, row.dead_at = 10, utcnow()
            row.last_error = "ConnectionRefusedError: [Errno 111] Connection refused"
        return [row.id for row in rows]


def test_a_dead_letter_sent_again_after_the_smtp_server_comes_back_is_delivered(make_app):
    from aiosmtpd.controller import Controller
    from conftest import Mailbox

    port = ldap_server.free_port()
    app = make_app(SMTP_URL=f"smtp://127.0.0.1:{port}", MAIL_MAX_ATTEMPTS=1)
    put_in_outbox(app, "bob@demo.chatons.org")
    assert send_queued(app) == (0, 1)  # the server is down: given up at once
    [dead] = outbox(app)
    staff = _staff(app)
    # Still down: sending again says so, and the letter is back in the list with its reason.
    page = _staff_post(staff, "retry", message=dead.id).get_data(as_text=True)
    assert "1 message a de nouveau été refusé" in page
    assert "bob@demo.chatons.org" in page and "ConnectionRefusedError" in page
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        page = _staff_post(staff, "retry", message=dead.id).get_data(as_text=True)
    finally:
        controller.stop()
    assert "1 message a été envoyé" in page
    assert [m["To"] for m in mailbox.messages] == ["bob@demo.chatons.org"]
    assert mailbox.messages[0]["Subject"] == "Votre ticket"
    assert outbox(app) == []
    assert 'id="undelivered-title"' not in staff.get("/staff/").get_data(as_text=True)
    with session_scope(app) as session:
        [event, *_] = audit_events(session, "mail.dead_letters_retried")
        assert event.actor_id is not None and event.details_dict["messages"] == [dead.id]


def test_sending_all_again_sends_every_dead_letter_in_english_too(make_app, smtp):
    app = make_app(SMTP_URL=smtp.url)
    _dead_letters_for(app, "bob@demo.chatons.org", "alice@demo.chatons.org")
    staff = _staff(app)
    staff.get("/language/en", headers={"Referer": "/staff/"})
    page = _staff_post(staff, "retry").get_data(as_text=True)
    assert "2 messages were sent." in page
    assert sorted(m["To"] for m in smtp.messages) == [
        "alice@demo.chatons.org",
        "bob@demo.chatons.org",
    ]


def test_staff_discard_one_dead_letter_or_all_and_it_is_audited(make_app, smtp):
    app = make_app(SMTP_URL=smtp.url)
    first, *_rest = _dead_letters_for(
        app, "bob@demo.chatons.org", "alice@demo.chatons.org", "zoe@demo.chatons.org"
    )
    staff = _staff(app)
    page = _staff_post(staff, "discard", message=first).get_data(as_text=True)
    assert "1 courriel non distribué a été supprimé" in page
    assert "bob@demo.chatons.org" not in page and "zoe@demo.chatons.org" in page
    # The same button again (a second tab, a double click): nothing left, said plainly.
    page = _staff_post(staff, "discard", message=first).get_data(as_text=True)
    assert "rien n\u2019a été fait" in page
    page = _staff_post(staff, "discard").get_data(as_text=True)
    assert "2 courriels non distribués ont été supprimés" in page
    assert outbox(app) == [] and smtp.messages == []
    with session_scope(app) as session:
        events = audit_events(session, "mail.dead_letters_discarded")
        assert sorted(len(e.details_dict["messages"]) for e in events) == [1, 2]


def test_dead_letter_buttons_never_show_the_body_and_refuse_bad_choices(make_app):
    app = make_app()
    _dead_letters_for(app, "bob@demo.chatons.org")
    staff = _staff(app)
    page = staff.get("/staff/").get_data(as_text=True)
    assert "Votre ticket" in page and "Bonjour" not in page
    for bad in ("abc", "1" * 30, "-1"):
        answer = _staff_post(staff, "retry", message=bad)
        assert answer.status_code == 200
        assert "Choisissez un message" in answer.get_data(as_text=True)
    assert len(outbox(app)) == 1
    # Without the CSRF token, or as a non-staff person, nothing happens.
    assert staff.post("/staff/mail/undelivered/discard").status_code == 400
    person = app.test_client()
    assert do_login(person, "alice", "demo").status_code == 302
    token = csrf_token(person, "/")
    answer = person.post("/staff/mail/undelivered/discard", data={"csrf_token": token})
    assert answer.status_code == 403
    assert len(outbox(app)) == 1
