"""The outbox never jams: bad addresses are refused, failures back off, then give up."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

import ldap_server
from app.db import session_scope, utcnow
from app.mail import OutgoingMail, queue_mail, retry_delay, send_queued
from helpers import do_login


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


def test_back_off_doubles_up_to_the_maximum():
    config = {"MAIL_RETRY_SECONDS": 60, "MAIL_RETRY_MAX_SECONDS": 3600}
    delays = [retry_delay(config, n).total_seconds() for n in range(1, 9)]
    assert delays == [60, 120, 240, 480, 960, 1920, 3600, 3600]
