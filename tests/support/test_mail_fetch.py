"""`flask support fetch` against the real Dovecot of the connector tests."""

from __future__ import annotations

from typing import Any

from support.test_mail import open_as, staff_answer
from support.test_mail_in import SUPPORT, answer_to, thread
from support.ticket_helpers import PNG

from imap_server import USERS, Dovecot, add_messages, server_view
from imap_server import dovecot as dovecot


def test_fetch_adds_replies_from_the_mailbox_and_files_every_message_away(
    make_support_app: Any, smtp: Any, dovecot: Dovecot
) -> None:
    dovecot.reset("carol")
    app = make_support_app(
        SMTP_URL=smtp.url,
        SUPPORT_REPLY_ADDRESS=SUPPORT,
        MAIL_FROM="panel@demo.chatons.org",
        SUPPORT_IMAP_URL=f"imap://carol:{USERS['carol']}@127.0.0.1:{dovecot.port}/INBOX",
    )
    client = app.test_client()
    open_as(client, "alice")
    staff_answer(client, 1, "A screenshot, please?")
    to_alice = smtp.messages[-1]
    reply = answer_to(to_alice, "alice@demo.chatons.org", "Here you are.")
    reply.add_attachment(PNG, maintype="image", subtype="png", filename="screen.png")
    vacation = answer_to(to_alice, "alice@demo.chatons.org", "Away.", Auto_Submitted="auto-replied")
    add_messages(dovecot, "carol", "INBOX", [reply.as_bytes(), vacation.as_bytes()])

    result = app.test_cli_runner().invoke(args=["support", "fetch"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "1 added, 1 automatic"
    assert [m.body for m in thread(app)][-1] == "Here you are."
    view = server_view(dovecot, "carol")
    assert view["INBOX"] == []
    assert len(view["Handled"]) == 1 and len(view["Refused"]) == 1
    # A second run finds nothing new.
    again = app.test_cli_runner().invoke(args=["support", "fetch"])
    assert again.output.strip() == "nothing new"


def test_fetch_says_clearly_when_the_mailbox_refuses_the_password(
    make_support_app: Any, dovecot: Dovecot
) -> None:
    app = make_support_app(
        SUPPORT_REPLY_ADDRESS=SUPPORT,
        SUPPORT_IMAP_URL=f"imap://carol:wrong@127.0.0.1:{dovecot.port}/INBOX",
    )
    result = app.test_cli_runner().invoke(args=["support", "fetch"])
    assert result.exit_code == 1
    assert "could not be read" in result.output and "wrong" not in result.output
