"""Why a mail was not delivered, in sentences staff understand.

The outbox keeps the last failure as text (`SMTPRecipientsRefused: {'a@x': (550, b'5.1.1
User unknown')}`): what smtplib raised, with the server's codes. Staff read a sentence
instead; the raw text stays beside it, folded, for whoever runs the mail server. The
sentence comes from the exception's name and the SMTP codes (RFC 5321 basic codes, RFC 3463
enhanced status codes), so rows written before this module existed are described too.
"""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l

# RFC 3463: class.subject.detail, e.g. 5.1.1 (bad mailbox), 4.2.2 (mailbox full).
ENHANCED = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
# A reply code: in smtplib's (code, message) tuples, "(550, b'…')", or as a server writes it.
BASIC = re.compile(r"(?:^|[(\s:,'\"])([245]\d\d)(?=[\s,)'\"-]|$)")

WORDS = {
    "unknown_address": _l(
        "The address does not exist: the recipient's mail server does not know it. "
        "Check it for a typo."
    ),
    "unknown_domain": _l(
        "The address's domain does not receive mail (it does not exist, or has no mail "
        "server). Check it for a typo."
    ),
    "mailbox_full": _l("The recipient's mailbox is full."),
    "mailbox_disabled": _l("The recipient's mailbox is closed or disabled."),
    "too_big": _l("The message is too large for the recipient's mail server."),
    "policy": _l(
        "The recipient's mail server refused the message as unwanted (a spam filter, or "
        "checks of the sender such as SPF or DMARC)."
    ),
    "temporary": _l("The recipient's mail server asked to try again later."),
    "recipient_refused": _l("The recipient's mail server refused the address."),
    "sender_refused": _l(
        "The mail server refused the panel's sender address (MAIL_FROM): check the panel's "
        "mail settings."
    ),
    "authentication": _l(
        "The panel could not sign in to its mail server: check the user and password in SMTP_URL."
    ),
    "unreachable": _l(
        "The panel's mail server could not be reached: it was down, or the host or port in "
        "SMTP_URL is wrong."
    ),
    "tls": _l(
        "The secure connection to the panel's mail server failed (its certificate, or the "
        "TLS settings in SMTP_URL)."
    ),
    "malformed": _l("The message could not be written: the address or a header is not valid."),
    "unknown": _l("The panel does not recognise this failure; the details below say more."),
}

UNREACHABLE = {
    "SMTPConnectError",
    "SMTPServerDisconnected",
    "SMTPHeloError",
    "ConnectionError",
    "ConnectionRefusedError",
    "ConnectionResetError",
    "ConnectionAbortedError",
    "TimeoutError",
    "timeout",
    "gaierror",
    "OSError",
}
MALFORMED = {"ValueError", "InvalidRecipient", "UnicodeEncodeError", "HeaderParseError"}


def failure_kind(last_error: str | None) -> str:
    """One of WORDS' keys for the outbox's `last_error` text."""
    text = (last_error or "").strip()
    name = text.partition(":")[0].strip().rpartition(".")[2]
    if name == "SMTPAuthenticationError":
        return "authentication"
    if name == "SMTPSenderRefused":
        return "sender_refused"
    if name.startswith("SSL") or (name == "SMTPNotSupportedError" and "STARTTLS" in text):
        return "tls"
    if name in UNREACHABLE:
        return "unreachable"
    if name in MALFORMED or name == "SMTPNotSupportedError":
        return "malformed"
    enhanced = ENHANCED.search(text)
    if enhanced:
        return _enhanced_kind(*(int(n) for n in enhanced.groups()))
    basic = BASIC.search(text)
    if basic:
        return _basic_kind(int(basic.group(1)))
    return "unknown"


def _enhanced_kind(klass: int, subject: int, detail: int) -> str:
    if subject == 7:
        return "policy"
    if (subject, detail) in ((1, 2), (4, 4)):
        return "unknown_domain"
    if klass == 4:
        return "temporary"
    if subject == 1:
        return "unknown_address"
    if (subject, detail) == (2, 2):
        return "mailbox_full"
    if (subject, detail) == (2, 1):
        return "mailbox_disabled"
    if (subject, detail) in ((3, 4), (2, 3)):
        return "too_big"
    return "recipient_refused"


def _basic_kind(code: int) -> str:
    if code < 500:
        return "temporary"
    if code == 552:
        return "mailbox_full"
    if code == 554:
        return "policy"
    return "recipient_refused"


def failure_in_words(last_error: str | None) -> str:
    """The sentence staff read for a failed mail."""
    return str(WORDS[failure_kind(last_error)])
