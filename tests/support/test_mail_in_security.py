"""Replies by mail under attack: forged mail, backscatter, MIME bombs and replays."""

from __future__ import annotations

import email.feedparser
import logging
from email.message import EmailMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from itertools import count
from typing import Any

import pytest
from support.test_mail import body_of, open_as, staff_answer
from support.test_mail_in import SUPPORT, answer_to, thread

from app.support.mail_cli import receive
from app.support.mail_in import MailTooComplex, parse_bounded


@pytest.fixture
def mail_app(make_support_app: Any, smtp: Any) -> Any:
    return make_support_app(
        SMTP_URL=smtp.url,
        SUPPORT_STAFF_EMAIL="team@demo.chatons.org",
        SUPPORT_REPLY_ADDRESS=SUPPORT,
        MAIL_FROM="panel@demo.chatons.org",
    )


def asked(app: Any, smtp: Any) -> Any:
    """Alice opens a ticket, staff ask her something: the mail she can answer."""
    client = app.test_client()
    open_as(client, "alice")
    staff_answer(client, 1, "Which file fails?")
    return smtp.messages[-1]


def mails_to(smtp: Any, address: str) -> list[Any]:
    return [m for m in smtp.messages if m["To"] == address]


def with_return_path(mail: EmailMessage, address: str) -> EmailMessage:
    """As the delivering MTA hands it over: the envelope sender on top."""
    del mail["Return-Path"]
    mail["Return-Path"] = f"<{address}>"
    return mail


def test_forged_mail_without_a_valid_token_is_never_answered(mail_app: Any, smtp: Any) -> None:
    asked(mail_app, smtp)
    forged = EmailMessage()
    forged["From"] = "victim@elsewhere.example"  # the backscatter target
    forged["To"] = "support+1.aaaaaaaaaaaaaaaa@demo.chatons.org"
    forged["Subject"] = "Buy cheap pills at spam.example"
    forged.set_content("spam")
    with_return_path(forged, "victim@elsewhere.example")
    outcome = receive(mail_app, forged.as_bytes())
    assert (outcome.status, outcome.answered) == ("not_ours", False)
    # To an address with no token at all, the same.
    del forged["To"]
    forged["To"] = "support@demo.chatons.org"
    assert receive(mail_app, forged.as_bytes()).answered is False
    assert mails_to(smtp, "victim@elsewhere.example") == []


def test_the_answer_goes_to_the_envelope_sender_and_never_quotes_the_subject(
    mail_app: Any, smtp: Any
) -> None:
    to_alice = asked(mail_app, smtp)
    # A valid reply address, written from an address that is not Alice's.
    reply = answer_to(to_alice, "someone@elsewhere.example", "Let me in")
    del reply["Subject"]
    reply["Subject"] = "Visit spam.example now"
    with_return_path(reply, "bounces+someone@lists.example")
    outcome = receive(mail_app, reply.as_bytes())
    assert (outcome.status, outcome.answered) == ("unknown_sender", True)
    assert mails_to(smtp, "someone@elsewhere.example") == []
    [answer] = mails_to(smtp, "bounces+someone@lists.example")
    assert answer["Auto-Submitted"] == "auto-replied"
    assert "spam.example" not in body_of(answer) and "spam.example" not in answer["Subject"]
    assert "Let me in" not in body_of(answer)


def test_postfix_s_envelope_sender_option_wins_over_headers(mail_app: Any, smtp: Any) -> None:
    to_alice = asked(mail_app, smtp)
    reply = answer_to(to_alice, "someone@elsewhere.example", "Let me in")
    outcome = receive(mail_app, reply.as_bytes(), envelope_sender="envelope@lists.example")
    assert outcome.answered
    assert len(mails_to(smtp, "envelope@lists.example")) == 1


@pytest.mark.parametrize("sender", ["", "MAILER-DAEMON"])
def test_a_null_envelope_sender_is_a_bounce_and_gets_no_answer(
    mail_app: Any, smtp: Any, sender: str
) -> None:
    to_alice = asked(mail_app, smtp)
    before = len(smtp.messages)
    reply = answer_to(to_alice, "someone@elsewhere.example", "Delivery report")
    # Postfix passes ${sender} as MAILER-DAEMON for the null sender.
    outcome = receive(mail_app, reply.as_bytes(), envelope_sender=sender)
    assert (outcome.status, outcome.answered) == ("automatic", False)
    assert len(smtp.messages) == before


def test_without_an_envelope_sender_nobody_is_answered(mail_app: Any, smtp: Any) -> None:
    to_alice = asked(mail_app, smtp)
    before = len(smtp.messages)
    reply = answer_to(to_alice, "someone@elsewhere.example", "Let me in")
    outcome = receive(mail_app, reply.as_bytes())
    assert (outcome.status, outcome.answered) == ("unknown_sender", False)
    assert len(smtp.messages) == before


def test_automatic_answers_are_capped_per_hour_for_all_senders_together(
    make_support_app: Any, smtp: Any
) -> None:
    app = make_support_app(
        SMTP_URL=smtp.url,
        SUPPORT_REPLY_ADDRESS=SUPPORT,
        MAIL_FROM="panel@demo.chatons.org",
        SUPPORT_MAIL_ANSWERS_PER_HOUR=2,
    )
    to_alice = asked(app, smtp)
    answered = []
    for n in range(4):
        reply = answer_to(to_alice, f"stranger{n}@elsewhere.example", "Let me in")
        with_return_path(reply, f"stranger{n}@elsewhere.example")
        answered.append(receive(app, reply.as_bytes()).answered)
    assert answered == [True, True, False, False]
    assert len([m for m in smtp.messages if m["Auto-Submitted"] == "auto-replied"]) == 2


def bomb(parts: int) -> MIMEMultipart:
    outer = MIMEMultipart()
    for n in range(parts):
        outer.attach(MIMEText(f"part {n}"))
    return outer


def reply_with(to_alice: Any, container: MIMEMultipart, text: str = "This one.") -> bytes:
    """Alice's valid reply, its body replaced by `container` (a many-part MIME tree)."""
    reply = answer_to(to_alice, "alice@demo.chatons.org", text)
    with_return_path(reply, "alice@demo.chatons.org")
    container.attach(MIMEText(text))
    for name in ("From", "To", "Subject", "Message-ID", "In-Reply-To", "Return-Path"):
        container[name] = reply[name]
    return container.as_bytes()


def test_a_mime_bomb_with_a_wrong_token_is_not_parsed_past_its_headers(
    mail_app: Any, smtp: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    to_alice = asked(mail_app, smtp)
    raw = reply_with(to_alice, bomb(3000)).replace(
        to_alice["Reply-To"].encode(), b"support+1.aaaaaaaaaaaaaaaa@demo.chatons.org"
    )
    made = count()
    original = email.feedparser.FeedParser._new_message

    def counting(self: Any) -> None:
        next(made)
        original(self)

    monkeypatch.setattr(email.feedparser.FeedParser, "_new_message", counting)
    outcome = receive(mail_app, raw)
    assert (outcome.status, outcome.answered) == ("not_ours", False)
    assert next(made) <= 2  # the header block, not 3,000 parts


def test_too_many_parts_are_refused_with_a_clear_reason_and_logged_without_the_body(
    mail_app: Any, smtp: Any, caplog: pytest.LogCaptureFixture
) -> None:
    to_alice = asked(mail_app, smtp)
    caplog.set_level(logging.INFO, logger="app.support.mail_in")
    outcome = receive(mail_app, reply_with(to_alice, bomb(60), "secret words"))
    assert (outcome.status, outcome.answered) == ("too_complex", True)
    assert "50 MIME parts" in outcome.detail
    assert [m.body for m in thread(mail_app)][-1] == "Which file fails?"
    [answer] = mails_to(smtp, "alice@demo.chatons.org")[-1:]
    assert "too many parts" in body_of(answer) or "trop de parties" in body_of(answer)
    assert "too_complex" in caplog.text and "secret words" not in caplog.text


def test_parts_nested_too_deep_are_refused(mail_app: Any, smtp: Any) -> None:
    to_alice = asked(mail_app, smtp)
    outer = inner = MIMEMultipart()
    for _ in range(11):
        deeper = MIMEMultipart()
        inner.attach(deeper)
        inner = deeper
    inner.attach(MIMEText("deep"))
    outcome = receive(mail_app, reply_with(to_alice, outer))
    assert outcome.status == "too_complex" and "nested" in outcome.detail


def test_a_normal_reply_with_a_few_parts_still_lands(mail_app: Any, smtp: Any) -> None:
    to_alice = asked(mail_app, smtp)
    assert receive(mail_app, reply_with(to_alice, bomb(2))).status == "added"


def test_the_parse_is_stopped_when_its_time_is_up() -> None:
    ticks = count()
    raw = bomb(10).as_bytes() + b"x" * 200_000  # several chunks to feed
    with pytest.raises(MailTooComplex, match="CPU time"):
        parse_bounded(raw, max_parts=50, max_depth=10, seconds=1.5, clock=lambda: next(ticks))
    assert parse_bounded(raw, max_parts=50, max_depth=10, seconds=60, clock=lambda: 0.0)


def test_a_replayed_reply_is_added_once(mail_app: Any, smtp: Any) -> None:
    to_alice = asked(mail_app, smtp)
    reply = answer_to(to_alice, "alice@demo.chatons.org", "This one.")
    assert receive(mail_app, reply.as_bytes()).status == "added"
    sent = len(smtp.messages)
    again = receive(mail_app, reply.as_bytes())
    assert (again.status, again.answered) == ("duplicate", False)
    assert [m.body for m in thread(mail_app)].count("This one.") == 1
    assert len(smtp.messages) == sent  # staff are not told twice either
    # Another mail (another Message-ID) with the same words is a new message.
    other = answer_to(to_alice, "alice@demo.chatons.org", "This one.")
    assert receive(mail_app, other.as_bytes()).status == "added"


def test_a_replayed_staff_reply_is_not_mailed_to_the_requester_twice(
    mail_app: Any, smtp: Any
) -> None:
    asked(mail_app, smtp)
    to_team = smtp.messages[0]
    staff_mail = answer_to(to_team, "camille@demo.chatons.org", "Fixed now.")
    assert receive(mail_app, staff_mail.as_bytes()).status == "added"
    to_alice = len(mails_to(smtp, "alice@demo.chatons.org"))
    assert receive(mail_app, staff_mail.as_bytes()).status == "duplicate"
    assert len(mails_to(smtp, "alice@demo.chatons.org")) == to_alice


def test_a_huge_forged_address_header_is_not_parsed_into_objects_before_the_token(
    mail_app: Any, smtp: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import email._header_value_parser as header_parser

    asked(mail_app, smtp)
    forged = EmailMessage()
    forged["From"] = "someone@elsewhere.example"
    forged["To"] = "support+1.aaaaaaaaaaaaaaaa@demo.chatons.org"
    forged["Cc"] = ", ".join(f"a{n}@example.org" for n in range(3000))
    forged.set_content("spam")
    raw = forged.as_bytes()
    parsed = count()
    original = header_parser.get_address_list

    def counting(value: str) -> Any:
        next(parsed)
        return original(value)

    monkeypatch.setattr(header_parser, "get_address_list", counting)
    assert receive(mail_app, raw).status == "not_ours"
    assert next(parsed) == 0  # raw strings only: the modern parser costs seconds on this
