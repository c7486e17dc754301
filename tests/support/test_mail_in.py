"""Replies by mail: people and staff answer from their mail client; machines change nothing."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import pytest
from sqlalchemy import select
from support.test_mail import body_of, open_as, staff_answer
from support.ticket_helpers import PDF, PNG

from app.db import session_scope
from app.support.mail_cli import receive
from app.support.mail_text import html_to_text, new_text
from app.support.models import Attachment, Ticket, TicketMessage

SUPPORT = "support@demo.chatons.org"


@pytest.fixture
def mail_app(make_support_app: Any, smtp: Any) -> Any:
    return make_support_app(
        SMTP_URL=smtp.url,
        SUPPORT_STAFF_EMAIL="team@demo.chatons.org",
        SUPPORT_REPLY_ADDRESS=SUPPORT,
        MAIL_FROM="panel@demo.chatons.org",
    )


@pytest.fixture
def staff_answer_by_web() -> Any:
    return staff_answer


def answer_to(original: Any, sender: str, text: str, **extra: Any) -> EmailMessage:
    """What a mail client writes when its user presses Reply and types `text`."""
    reply = EmailMessage()
    reply["From"] = sender
    reply["To"] = original["Reply-To"]
    reply["Subject"] = "Re: " + original["Subject"]
    reply["Message-ID"] = make_msgid(domain="client.example")
    reply["In-Reply-To"] = original["Message-ID"]
    reply["References"] = f"{original['References']} {original['Message-ID']}"
    for name, value in extra.items():
        reply[name.replace("_", "-")] = value
    quoted = "\n".join("> " + line for line in body_of(original).splitlines())
    reply.set_content(
        f"{text}\n\n-- \nAlice, sent from my phone\n\nLe lun. 30 nov. 2026 à 12:00, "
        f"Panel <panel@demo.chatons.org> a écrit :\n{quoted}\n"
    )
    return reply


def thread(app: Any, ticket_id: int = 1) -> list[TicketMessage]:
    with session_scope(app) as session:
        return list(
            session.scalars(
                select(TicketMessage)
                .where(TicketMessage.ticket_id == ticket_id)
                .order_by(TicketMessage.id)
            )
        )


def test_mail_about_a_ticket_carries_its_reply_address_and_threading(mail_app: Any, smtp: Any):
    open_as(mail_app.test_client(), "alice")
    [to_team] = smtp.messages
    assert to_team["Reply-To"].startswith("support+1.") and to_team["Reply-To"].endswith(
        "@demo.chatons.org"
    )
    assert to_team["References"] == "<ticket-1@demo.chatons.org>"
    assert to_team["In-Reply-To"] == "<ticket-1@demo.chatons.org>"


def test_the_whole_story_by_mail_person_and_staff_answer_auto_reply_changes_nothing(
    mail_app: Any, smtp: Any, staff_answer_by_web: Any
) -> None:
    client = mail_app.test_client()
    open_as(client, "alice")
    to_team = smtp.messages[0]
    staff_answer_by_web(client, 1, "Did you change anything yesterday?")
    to_alice = smtp.messages[-1]
    assert to_alice["To"] == "alice@demo.chatons.org"
    assert to_alice["Reply-To"] != to_team["Reply-To"]  # per recipient

    # Alice answers from her client, with a PDF, quoting the panel's mail and signing.
    reply = answer_to(to_alice, "Alice Martin <Alice@demo.chatons.org>", "No, nothing at all.")
    reply.add_attachment(PDF, maintype="application", subtype="pdf", filename="error.pdf")
    assert receive(mail_app, reply.as_bytes()).status == "added"
    last = thread(mail_app)[-1]
    assert last.body == "No, nothing at all."
    assert not last.from_staff
    with session_scope(mail_app) as session:
        [attachment] = session.scalars(
            select(Attachment).where(Attachment.message_id == last.id)
        ).all()
        assert (attachment.filename, attachment.content_type) == ("error.pdf", "application/pdf")
        assert session.get(Ticket, 1).state == "waiting_staff"

    # The staff member answers the team's mail from their own client: a reply, not a note.
    sent_before = len(smtp.messages)
    staff_mail = answer_to(to_team, "Camille Dupont <camille@demo.chatons.org>", "Fixed now.")
    assert receive(mail_app, staff_mail.as_bytes()).status == "added"
    last = thread(mail_app)[-1]
    assert (last.body, last.from_staff, last.is_internal) == ("Fixed now.", True, False)
    assert smtp.messages[-1]["To"] == "alice@demo.chatons.org"  # she is told by mail
    assert len(smtp.messages) == sent_before + 1

    # Alice's vacation responder answers that mail: nothing changes, nobody is mailed.
    count = len(thread(mail_app))
    vacation = answer_to(
        smtp.messages[-1],
        "alice@demo.chatons.org",
        "I am away until Monday.",
        Auto_Submitted="auto-replied",
    )
    outcome = receive(mail_app, vacation.as_bytes())
    assert (outcome.status, outcome.answered) == ("automatic", False)
    assert len(thread(mail_app)) == count
    assert len(smtp.messages) == sent_before + 1


@pytest.mark.parametrize(
    "headers",
    [
        {"Precedence": "bulk"},
        {"Precedence": "junk"},
        {"Auto-Submitted": "auto-generated"},
        {"Return-Path": "<>"},
        {"X-Autoreply": "yes"},
    ],
)
def test_machine_mail_changes_nothing_and_gets_no_answer(
    mail_app: Any, smtp: Any, staff_answer_by_web: Any, headers: dict[str, str]
) -> None:
    client = mail_app.test_client()
    open_as(client, "alice")
    staff_answer_by_web(client, 1, "Question?")
    before = len(smtp.messages)
    reply = answer_to(smtp.messages[-1], "alice@demo.chatons.org", "Automatic text")
    for name, value in headers.items():
        del reply[name]
        reply[name] = value
    assert receive(mail_app, reply.as_bytes()).status == "automatic"
    assert [m.body for m in thread(mail_app)][-1] == "Question?"
    assert len(smtp.messages) == before


def test_bounces_and_the_panels_own_mail_never_loop(mail_app: Any, smtp: Any) -> None:
    open_as(mail_app.test_client(), "alice")
    to_team = smtp.messages[0]
    bounce = answer_to(to_team, "MAILER-DAEMON@mx.example", "Delivery failed")
    assert receive(mail_app, bounce.as_bytes()).status == "automatic"
    # The panel's own notification, delivered back to the support address by a forward.
    own = answer_to(to_team, "panel@demo.chatons.org", "loop")
    del own["Auto-Submitted"]
    assert receive(mail_app, own.as_bytes()).status == "automatic"
    assert len(thread(mail_app)) == 1
    assert len(smtp.messages) == 1


def test_strangers_with_a_reply_address_get_one_polite_answer_an_hour_forgers_none(
    mail_app: Any, smtp: Any
) -> None:
    open_as(mail_app.test_client(), "alice")
    to_team = smtp.messages[0]
    stranger = answer_to(
        to_team, "mallory@evil.example", "Let me in", Return_Path="<mallory@evil.example>"
    )
    first = receive(mail_app, stranger.as_bytes())
    assert (first.status, first.answered) == ("unknown_sender", True)
    again = answer_to(
        to_team, "mallory@evil.example", "Again", Return_Path="<mallory@evil.example>"
    )
    assert receive(mail_app, again.as_bytes()).answered is False  # once an hour
    forged = answer_to(
        to_team, "victim@else.example", "And again", Return_Path="<victim@else.example>"
    )
    del forged["To"]
    forged["To"] = "support+1.aaaaaaaaaaaaaaaa@demo.chatons.org"
    second = receive(mail_app, forged.as_bytes())
    assert (second.status, second.answered) == ("not_ours", False)
    assert len(thread(mail_app)) == 1
    [answer] = [m for m in smtp.messages if m["To"] == "mallory@evil.example"]
    assert answer["Auto-Submitted"] == "auto-replied"
    assert "Let me in" not in body_of(answer)
    assert not [m for m in smtp.messages if m["To"] == "victim@else.example"]


def test_an_attachment_the_web_form_refuses_is_refused_by_mail_too(
    mail_app: Any, smtp: Any, staff_answer_by_web: Any
) -> None:
    client = mail_app.test_client()
    open_as(client, "alice")
    staff_answer_by_web(client, 1, "Send the log?")
    reply = answer_to(
        smtp.messages[-1],
        "alice@demo.chatons.org",
        "Here it is",
        Return_Path="<alice@demo.chatons.org>",
    )
    reply.add_attachment(
        b"MZ\x90\x00" + bytes(300),
        maintype="application",
        subtype="octet-stream",
        filename="log.pdf",
    )
    outcome = receive(mail_app, reply.as_bytes())
    assert (outcome.status, outcome.answered) == ("refused", True)
    assert [m.body for m in thread(mail_app)][-1] == "Send the log?"


def test_a_mail_over_the_size_limit_is_refused_unread(
    make_support_app: Any, smtp: Any, staff_answer_by_web: Any
) -> None:
    app = make_support_app(
        SMTP_URL=smtp.url, SUPPORT_REPLY_ADDRESS=SUPPORT, SUPPORT_MAIL_MAX_BYTES=20_000
    )
    client = app.test_client()
    open_as(client, "alice")
    staff_answer_by_web(client, 1, "Send a picture?")
    reply = answer_to(smtp.messages[-1], "alice@demo.chatons.org", "Here")
    reply.add_attachment(PNG + bytes(40_000), maintype="image", subtype="png", filename="a.png")
    assert receive(app, reply.as_bytes()).status == "too_big"
    assert len(thread(app)) == 2


def test_html_only_mail_becomes_plain_text_without_quotes_or_scripts() -> None:
    html = (
        "<html><head><style>p{color:red}</style></head><body><p>Bonjour,</p>"
        "<p>It works <b>now</b>.<br>Thanks!</p><script>alert(1)</script>"
        '<div class="gmail_quote">On Mon wrote:<blockquote>old text</blockquote></div>'
        "</body></html>"
    )
    text = html_to_text(html)
    assert "Bonjour," in text and "It works now." in text and "Thanks!" in text
    assert "alert" not in text and "old text" not in text and "color" not in text


@pytest.mark.parametrize(
    "body",
    [
        "Merci !\n\nLe lun. 30 nov. 2026 à 12:00, Panel <p@x.org> a écrit :\n> old",
        "Merci !\n\nLe lun. 30 nov. 2026 à 12:00, Panel <p@x.org>\na écrit :\n> old",
        "Merci !\n\nOn Mon, Nov 30, 2026 at 12:00 PM Panel <p@x.org> wrote:\n> old",
        "Merci !\n-- \nAlice\nold",
        "Merci !\n\n-------- Message original --------\nold",
        "Merci !\n> old",
    ],
)
def test_quoted_history_and_signatures_are_cut(body: str) -> None:
    assert new_text(body) == "Merci !"


def test_a_reply_to_a_ticket_closed_long_ago_is_refused(
    mail_app: Any, smtp: Any, staff_answer_by_web: Any
) -> None:
    from datetime import timedelta

    from app.db import utcnow

    client = mail_app.test_client()
    open_as(client, "alice")
    staff_answer_by_web(client, 1, "Solved?")
    with session_scope(mail_app) as session:
        ticket = session.get(Ticket, 1)
        ticket.state = "closed"
        ticket.closed_at = utcnow() - timedelta(days=40)
    reply = answer_to(
        smtp.messages[-1],
        "alice@demo.chatons.org",
        "It broke again",
        Return_Path="<alice@demo.chatons.org>",
    )
    outcome = receive(mail_app, reply.as_bytes())
    assert (outcome.status, outcome.answered) == ("closed", True)
    assert [m.body for m in thread(mail_app)][-1] == "Solved?"


def test_flask_support_receive_reads_the_message_on_stdin(
    mail_app: Any, smtp: Any, staff_answer_by_web: Any
) -> None:
    client = mail_app.test_client()
    open_as(client, "alice")
    staff_answer_by_web(client, 1, "Anything else?")
    reply = answer_to(smtp.messages[-1], "alice@demo.chatons.org", "No, thanks.")
    result = mail_app.test_cli_runner().invoke(args=["support", "receive"], input=reply.as_bytes())
    assert result.exit_code == 0 and result.output.strip() == "added 1"
    assert [m.body for m in thread(mail_app)][-1] == "No, thanks."


def test_receive_asks_the_mail_server_to_retry_when_the_database_is_down(
    make_support_app: Any,
) -> None:
    app = make_support_app(
        SUPPORT_REPLY_ADDRESS=SUPPORT,
        DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:9/nowhere",  # nothing listens
    )
    mail = EmailMessage()
    mail["From"] = "alice@demo.chatons.org"
    mail["To"] = "support+1.aaaaaaaaaaaaaaaa@demo.chatons.org"
    mail.set_content("Hello")
    result = app.test_cli_runner().invoke(args=["support", "receive"], input=mail.as_bytes())
    assert result.exit_code == 75  # EX_TEMPFAIL: Postfix keeps the mail and tries again
