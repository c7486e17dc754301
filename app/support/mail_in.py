"""Replies by mail: one RFC 5322 message in, a ticket message out, or nothing at all.

`receive_message` is called by `flask support receive` (a Postfix pipe or a Sieve pipe
gives it the message on stdin) and by `flask support fetch` (IMAP). It never trusts the
mail, and it reads as little of it as it can before it knows the mail is expected:

1. the headers only: anything automatic — auto-replies, bulk or list mail, bounces, the
   panel's own mail — changes nothing and is never answered, so no mail loop can form;
2. the reply address's HMAC token names the ticket and its recipient: a mail without a
   valid token is dropped without an answer (answering it would mail whoever the forger
   put in `From`: backscatter);
3. a replayed Message-ID is recognised and not added again;
4. only then the body, with a bounded parser: at most SUPPORT_MAIL_MAX_PARTS MIME parts,
   SUPPORT_MAIL_MAX_DEPTH levels and SUPPORT_MAIL_PARSE_SECONDS of CPU.

A sender whose token was valid but whose mail was refused gets one polite answer, at its
envelope sender (`Return-Path`, RFC 3834), at most once an hour per address and at most
SUPPORT_MAIL_ANSWERS_PER_HOUR for everybody together; the answer never repeats what the
mail said (not even its Subject).
"""

from __future__ import annotations

import hashlib
import hmac
import io
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import policy
from email.feedparser import BytesFeedParser
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr
from typing import Any

from flask import current_app
from flask_babel import force_locale
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import audit
from app.accounts.models import Account
from app.db import utcnow
from app.links import external_url
from app.mail import queue_mail
from app.support import notifications, operations
from app.support.attachments import AttachmentStore, Upload, clean_filename
from app.support.mail_models import MailInAnswer
from app.support.mail_text import html_to_text, new_text
from app.support.models import Ticket, TicketMessage
from app.support.reply_address import ReplyTarget, parse_address, recipient_of
from app.support.settings import SupportError, SupportSettings

log = logging.getLogger(__name__)

ANSWER_EVERY = timedelta(hours=1)
AUTOMATIC_SENDERS = ("mailer-daemon", "postmaster", "noreply", "no-reply", "donotreply")
RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "To", "Cc")
# Headers are read from the first bytes only: a header block is a few kilobytes (hundreds
# of recipients, long Received and DKIM chains included).
HEADER_BYTES = 64 * 1024
# The body is fed to the parser in chunks; the time budget is checked between them.
PARSE_CHUNK = 64 * 1024
MESSAGE_ID_CHARS = 255


@dataclass(frozen=True)
class Outcome:
    """What happened to one message: `added` or a reason it changed nothing."""

    # added | automatic | not_ours | duplicate | too_big | too_complex | unknown_sender
    # | closed | refused
    status: str
    ticket_id: int | None = None
    answered: bool = False
    detail: str = ""


@dataclass(frozen=True)
class MailInSettings:
    max_bytes: int
    closed_days: int
    support: SupportSettings
    max_parts: int = 50
    max_depth: int = 10
    parse_seconds: float = 5.0
    answers_per_hour: int = 20

    @classmethod
    def from_config(cls, config: Any) -> MailInSettings:
        support = SupportSettings.from_config(config)
        return cls(
            max_bytes=int(config["SUPPORT_MAIL_MAX_BYTES"]),
            closed_days=int(config["SUPPORT_MAIL_CLOSED_DAYS"]),
            support=support,
            max_parts=int(config["SUPPORT_MAIL_MAX_PARTS"]),
            max_depth=int(config["SUPPORT_MAIL_MAX_DEPTH"]),
            parse_seconds=float(config["SUPPORT_MAIL_PARSE_SECONDS"]),
            answers_per_hour=int(config["SUPPORT_MAIL_ANSWERS_PER_HOUR"]),
        )


class MailTooComplex(ValueError):
    """Too many MIME parts, nested too deep, or too long to parse: refused unread."""


class _BoundedParser(BytesFeedParser):
    """The standard library's parser, stopped at a part count and a nesting depth.

    Every part (the message itself, each MIME part, each attached message) goes through
    `_new_message`; the stack it pushes onto is the chain of parts it is nested in.
    """

    def __init__(self, *, max_parts: int, max_depth: int) -> None:
        super().__init__(policy=policy.default)
        self.max_parts = max_parts
        self.max_depth = max_depth
        self.parts = 0

    def _new_message(self) -> None:
        self.parts += 1
        if self.parts > self.max_parts:
            raise MailTooComplex(f"more than {self.max_parts} MIME parts")
        if len(self._msgstack) > self.max_depth:  # type: ignore[attr-defined]
            raise MailTooComplex(f"MIME parts nested more than {self.max_depth} deep")
        super()._new_message()  # type: ignore[misc]


def parse_bounded(
    raw: bytes,
    *,
    max_parts: int,
    max_depth: int,
    seconds: float,
    clock: Callable[[], float] = time.process_time,
) -> EmailMessage:
    """The whole message, or MailTooComplex: bounded parts, depth and CPU time."""
    parser = _BoundedParser(max_parts=max_parts, max_depth=max_depth)
    started = clock()
    for offset in range(0, len(raw), PARSE_CHUNK):
        parser.feed(raw[offset : offset + PARSE_CHUNK])
        if clock() - started > seconds:
            raise MailTooComplex(f"not parsed within {seconds:g} s of CPU time")
    message = parser.close()
    assert isinstance(message, EmailMessage)
    return message


def parse(raw: bytes) -> EmailMessage:
    """The whole message, without bounds: for the panel's own mail and tests only."""
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    return message


def parse_headers(raw: bytes) -> Message:
    """The header block only, as raw strings; the body is not parsed at all.

    compat32 on purpose: the modern policy parses address headers into objects, which costs
    seconds for a forged 64 KiB `To:` before anything is known about the mail.
    """
    end = raw.find(b"\n\n", 0, HEADER_BYTES)
    crlf = raw.find(b"\r\n\r\n", 0, HEADER_BYTES)
    cut = min(x for x in (end, crlf, HEADER_BYTES) if x >= 0)
    return BytesParser(policy=policy.compat32).parsebytes(raw[:cut], headersonly=True)


def _address(value: str | None) -> str:
    return parseaddr(str(value or ""))[1].strip().lower()


def envelope_sender_of(message: Message, given: str | None) -> str | None:
    """Where a bounce or an automatic answer goes (RFC 3834 §4): the envelope sender.

    `given` is what the MTA passed (Postfix `${sender}`); else the `Return-Path` the
    delivering MTA put on top (Postfix `pipe` flag R, Dovecot LDA/LMTP). "" is the null
    sender (a bounce); None: nobody can say.
    """
    if given is not None:
        return _address(given)
    value = message.get("Return-Path")
    if value is None:
        return None
    return _address(value)


def automatic_reason(
    message: Message, own_addresses: set[str], envelope_sender: str | None = None
) -> str | None:
    """Why this mail was written by a machine (RFC 3834 and common practice), or None."""
    auto = str(message.get("Auto-Submitted", "")).strip().lower()
    if auto and auto != "no":
        return "auto-submitted"
    if str(message.get("Precedence", "")).strip().lower() in ("bulk", "junk", "list"):
        return "precedence"
    for header in ("X-Autoreply", "X-Autorespond", "List-Id"):
        if header in message:
            return header.lower()
    if envelope_sender == "" or (
        envelope_sender and envelope_sender.partition("@")[0] in AUTOMATIC_SENDERS
    ):
        return "bounce"
    if message.get_content_type() == "multipart/report":
        return "bounce"
    sender = _address(message.get("From"))
    if not sender or sender.partition("@")[0] in AUTOMATIC_SENDERS:
        return "bounce"
    if sender in own_addresses:
        return "own-mail"
    return None


def mail_message_id(message: Message) -> str | None:
    """The Message-ID as stored with the ticket message (a long one by its digest)."""
    value = " ".join(str(message.get("Message-ID", "")).split())
    if not value:
        return None
    if len(value) > MESSAGE_ID_CHARS:
        return "sha256:" + hashlib.sha256(value.encode()).hexdigest()
    return value


def _targets(message: Message, envelope: str | None) -> list[ReplyTarget]:
    config = current_app.config
    candidates = [envelope] if envelope else []
    for header in RECIPIENT_HEADERS:
        candidates += [a for _n, a in getaddresses([str(v) for v in message.get_all(header, [])])]
    found = []
    for candidate in candidates:
        target = parse_address(config, candidate or "")
        if target is not None and target not in found:
            found.append(target)
    return found


def _text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    assert isinstance(part, EmailMessage)
    try:
        content = part.get_content()
    except (LookupError, ValueError):
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    if part.get_content_type() == "text/html":
        content = html_to_text(str(content))
    return new_text(str(content))


def _uploads(message: EmailMessage) -> list[Upload]:
    uploads = []
    for part in message.iter_attachments():
        assert isinstance(part, EmailMessage)
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes):
            continue
        uploads.append(
            Upload(
                filename=clean_filename(part.get_filename() or "attachment"),
                stream=io.BytesIO(data),
                received=len(data),
            )
        )
    return uploads


def _sender_hash(secret: str, sender: str) -> str:
    return hmac.new(secret.encode(), f"mail-in:{sender}".encode(), hashlib.sha256).hexdigest()


def _answer(
    session: Session,
    settings: MailInSettings,
    message: Message,
    to: str | None,
    reason: str,
    now: datetime,
) -> bool:
    """One polite mail to the envelope sender of a mail whose token was valid: at most once
    an hour per address, at most `answers_per_hour` for everybody, never to a machine."""
    if not to:
        log.info("mail-in: no envelope sender (Return-Path) to answer")
        return False
    if "X-Auto-Response-Suppress" in message:
        # Exchange's way of asking for no automatic answer (the mail may still be human).
        return False
    key = _sender_hash(str(current_app.config["SECRET_KEY"]), to)
    last = session.get(MailInAnswer, key)
    if last is not None and now - last.answered_at < ANSWER_EVERY:
        return False
    # Each address keeps only its last answer, so the rows of the last hour are the answers
    # of the last hour.
    recent = session.scalar(
        select(func.count())
        .select_from(MailInAnswer)
        .where(MailInAnswer.answered_at > now - ANSWER_EVERY)
    )
    if int(recent or 0) >= settings.answers_per_hour:
        log.warning("mail-in: %s automatic answers in the last hour, no more are sent", recent)
        return False
    if last is None:
        session.add(MailInAnswer(sender_hash=key, answered_at=now))
    else:
        last.answered_at = now
    account = session.scalars(
        select(Account).where(func.lower(Account.email) == to).limit(1)
    ).first()
    language = (
        notifications.mail_language(account) if account else current_app.config["LANGUAGES"][0]
    )
    headers = {"Auto-Submitted": "auto-replied"}
    original = str(message.get("Message-ID", "")).strip()
    if original:
        headers["In-Reply-To"] = original
        headers["References"] = original
    with force_locale(language):
        queue_mail(
            session,
            to=to,
            template="support_mail_refused",
            purpose="support.mail_refused",
            headers=headers,
            reason=reason,
            support_link=_support_link(),
        )
    return True


def _support_link() -> str | None:
    try:
        return external_url("support.index")
    except Exception:  # a link is a courtesy; the answer goes without it
        return None


def _refuse(
    session: Session,
    settings: MailInSettings,
    message: Message,
    answer_to: str | None,
    status: str,
    now: datetime,
    ticket_id: int | None = None,
    detail: str = "",
) -> Outcome:
    answered = _answer(session, settings, message, answer_to, status, now)
    # Reason and ticket only: never the addresses, the subject or the text.
    log.info("mail-in refused: %s (ticket %s) %s", status, ticket_id, detail)
    return Outcome(status, ticket_id=ticket_id, answered=answered, detail=detail)


def _drop(status: str, detail: str = "") -> Outcome:
    """Changed nothing and answered nobody: the mail proved nothing about its sender."""
    log.info("mail-in dropped: %s %s", status, detail)
    return Outcome(status, detail=detail)


def receive_message(
    session: Session,
    store: AttachmentStore,
    settings: MailInSettings,
    raw: bytes,
    *,
    envelope_recipient: str | None = None,
    envelope_sender: str | None = None,
    now: datetime | None = None,
) -> Outcome:
    """Add one reply mail to its ticket, or change nothing and say why. No commit."""
    now = now or utcnow()
    config = current_app.config
    # Until the token is checked, the headers are all that is read.
    head = parse_headers(raw)
    return_path = envelope_sender_of(head, envelope_sender)
    # The team mailbox is not one of them: people may write from it (then it is answered
    # as an unknown sender, unless a staff account has that address).
    own = {_address(config.get("MAIL_FROM")), _address(config.get("SUPPORT_REPLY_ADDRESS"))} - {""}
    reason = automatic_reason(head, own, return_path)
    if reason is not None:
        log.info("mail-in ignored: automatic mail (%s)", reason)
        return Outcome("automatic", detail=reason)
    targets = _targets(head, envelope_recipient)
    if not targets:
        return _drop("not_ours", "no reply address")
    target = targets[0]
    ticket = session.get(Ticket, target.ticket_id)
    role = recipient_of(config, target, ticket.requester_key) if ticket else None
    if ticket is None or role is None:
        return _drop("not_ours", "wrong token")

    # The token is right: the mail answers one of ours, and a refusal may be explained.
    def refuse(status: str, detail: str = "") -> Outcome:
        return _refuse(session, settings, head, return_path, status, now, ticket.id, detail)

    sender = _address(head.get("From"))
    visitor = role == "requester" and ticket.from_visitor
    # A visitor has no account: their address is who they are (the token was made for it).
    author = None if visitor else _author(session, ticket, role, sender)
    if (author is None and not visitor) or (visitor and sender != ticket.contact_email):
        return refuse("unknown_sender")
    if (
        ticket.is_closed
        and ticket.closed_at is not None
        and now - ticket.closed_at > timedelta(days=settings.closed_days)
    ):
        return refuse("closed")
    message_id = mail_message_id(head)
    if message_id is not None and _already_added(session, ticket.id, message_id):
        return _duplicate(ticket.id)
    if len(raw) > settings.max_bytes:
        return refuse("too_big", f"{len(raw)} bytes")
    try:
        message = parse_bounded(
            raw,
            max_parts=settings.max_parts,
            max_depth=settings.max_depth,
            seconds=settings.parse_seconds,
        )
    except MailTooComplex as exc:
        return refuse("too_complex", str(exc))
    body = _text(message)
    uploads = _uploads(message)
    try:
        with session.begin_nested(), store.transaction():
            if role == "staff" and author is not None:
                added = operations.reply_as_staff(
                    session,
                    store,
                    settings.support,
                    ticket=ticket,
                    author=author,
                    body=body,
                    uploads=uploads,
                    internal=False,  # a mail from staff is always a reply, never a note
                )
            else:
                added = operations.reply_as_requester(
                    session,
                    store,
                    settings.support,
                    ticket=ticket,
                    account=author,
                    body=body,
                    uploads=uploads,
                )
            added.mail_message_id = message_id
            # Written now: the same mail delivered at the same moment by another process
            # meets the unique key here, and this copy (files, mail) is undone.
            session.flush()
    except SupportError as exc:
        problems = "; ".join(str(p) for errs in exc.errors.values() for p in errs)
        return refuse("refused", problems)
    except IntegrityError:
        if message_id is None or not _already_added(session, ticket.id, message_id):
            raise
        return _duplicate(ticket.id)
    audit.record(
        session,
        "support.mail_reply",
        account_id=ticket.account_id,
        actor_id=author.id if author else None,
        ticket=ticket.id,
        message=added.id,
    )
    log.info("mail-in: message %s added to ticket %s", added.id, ticket.id)
    return Outcome("added", ticket_id=ticket.id)


def _already_added(session: Session, ticket_id: int, message_id: str) -> bool:
    found = session.scalar(
        select(TicketMessage.id).where(
            TicketMessage.ticket_id == ticket_id, TicketMessage.mail_message_id == message_id
        )
    )
    return found is not None


def _duplicate(ticket_id: int) -> Outcome:
    """The same mail again (a replay, or a redelivery): already in the ticket, no answer."""
    log.info("mail-in: a mail already added to ticket %s came again; ignored", ticket_id)
    return Outcome("duplicate", ticket_id=ticket_id)


def _author(session: Session, ticket: Ticket, role: str, sender: str) -> Account | None:
    if role == "requester":
        requester = session.get(Account, ticket.account_id)
        if requester and requester.email and requester.email.strip().lower() == sender:
            return requester
        return None
    return session.scalars(
        select(Account)
        .where(Account.is_staff.is_(True), func.lower(Account.email) == sender)
        .order_by(Account.id)
        .limit(1)
    ).first()
