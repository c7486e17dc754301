"""A mail to a ticket's requester that did not arrive is shown on the ticket, in words."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import pytest
from support.test_contact import send
from support.test_mail import staff_answer

import ldap_server
from app.mail import send_queued
from app.mail_failures import failure_kind
from helpers import do_login

GONE = "gone@example.net"


class RefusingMailbox:
    """A real SMTP server that refuses one address for good, as a provider does."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address == GONE:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content)
        return "250 OK"


@pytest.fixture
def refusing_smtp() -> Iterator[str]:
    from aiosmtpd.controller import Controller

    port = ldap_server.free_port()
    controller = Controller(RefusingMailbox(), hostname="127.0.0.1", port=port)
    controller.start()
    yield f"smtp://127.0.0.1:{port}"
    controller.stop()


@pytest.fixture
def contact_app(make_support_app: Any, refusing_smtp: str) -> Any:
    return make_support_app(
        SMTP_URL=refusing_smtp,
        SUPPORT_CONTACT_FORM=True,
        SUPPORT_STAFF_EMAIL="team@demo.chatons.org",
        MAIL_FROM="panel@demo.chatons.org",
    )


def outside_details(page: str) -> str:
    """The page without its <details> blocks: what staff read before unfolding anything."""
    return re.sub(r"<details.*?</details>", "", page, flags=re.DOTALL)


def test_a_bounced_mail_to_a_visitor_shows_on_the_ticket_with_its_reason_in_words(
    contact_app: Any,
) -> None:
    assert send(contact_app.test_client(), email=GONE).status_code == 302
    send_queued(contact_app)  # the receipt to the visitor is refused: a dead letter
    staff = contact_app.test_client()
    do_login(staff, "camille", "demo")
    page = html.unescape(staff.get("/staff/tickets/1").get_data(as_text=True))
    assert "Le courriel au visiteur n'est pas arrivé" in page
    assert "L'adresse n'existe pas" in page
    assert "Formulaire de contact\u202f: message reçu" in page
    assert "SMTPRecipientsRefused" not in outside_details(page)
    assert "5.1.1" in page  # the server's own words, folded, for whoever runs the mail
    # The same words on the staff home's list of undelivered mail.
    home = html.unescape(staff.get("/staff/").get_data(as_text=True))
    assert "L'adresse n'existe pas" in home
    assert "SMTPRecipientsRefused" not in outside_details(home)
    assert "SMTPRecipientsRefused" in home


def test_a_ticket_whose_mail_arrived_says_nothing_about_it(contact_app: Any) -> None:
    assert send(contact_app.test_client(), email="fine@example.net").status_code == 302
    send_queued(contact_app)
    staff = contact_app.test_client()
    staff_answer(staff, 1, "Bonjour, voici la réponse.")
    do_login(staff, "camille", "demo")
    page = html.unescape(staff.get("/staff/tickets/1").get_data(as_text=True))
    assert "n'est pas arrivé" not in page


@pytest.mark.parametrize(
    ("last_error", "kind"),
    [
        (
            "SMTPRecipientsRefused: {'a@x.org': (550, b'5.1.1 <a@x.org>: User unknown')}",
            "unknown_address",
        ),
        ("SMTPRecipientsRefused: {'a@x.org': (550, b'Mailbox unavailable')}", "recipient_refused"),
        ("SMTPRecipientsRefused: 550 mailbox unavailable", "recipient_refused"),
        ("SMTPRecipientsRefused: {'a@x.org': (452, b'4.2.2 Mailbox full')}", "temporary"),
        ("SMTPRecipientsRefused: {'a@x.org': (552, b'5.2.2 Over quota')}", "mailbox_full"),
        ("SMTPDataError: (554, b'5.7.1 Message rejected as spam')", "policy"),
        ("SMTPRecipientsRefused: {'a@nowhere': (550, b'5.1.2 Bad domain')}", "unknown_domain"),
        ("SMTPDataError: (552, b'5.3.4 Message too big')", "too_big"),
        ("SMTPSenderRefused: (553, b'5.7.1 Sender rejected', 'panel@x.org')", "sender_refused"),
        ("SMTPAuthenticationError: (535, b'5.7.8 Bad credentials')", "authentication"),
        ("ConnectionRefusedError: [Errno 111] Connection refused", "unreachable"),
        ("TimeoutError: timed out", "unreachable"),
        ("SSLCertVerificationError: (1, '[SSL: CERTIFICATE_VERIFY_FAILED]')", "tls"),
        ("ValueError: invalid header", "malformed"),
        ("Surprise: something new", "unknown"),
        (None, "unknown"),
    ],
)
def test_failures_are_named_from_the_exception_and_the_smtp_codes(
    last_error: str | None, kind: str
) -> None:
    assert failure_kind(last_error) == kind
