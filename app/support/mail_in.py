"""Replies by mail: one RFC 5322 message in, a ticket message out, or nothing at all.

`receive_message` is called by `flask support receive` (a Postfix pipe or a Sieve pipe
gives it the message on stdin) and by `flask support fetch` (IMAP). It never trusts the
mail: the reply address's HMAC names the ticket and the recipient, the From address must
be that recipient (or a staff account for the team's copy), and anything automatic —
auto-replies, bulk or list mail, bounces, the panel's own mail — changes nothing and is
never answered, so no mail loop can form. A human whose mail was refused gets one polite
answer per hour at most.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr
from typing import Any

from flask import current_app
from flask_babel import force_locale
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import audit
from app.accounts.models import Account
from app.db import utcnow
from app.mail import queue_mail
from app.support import services
from app.support.attachments import AttachmentStore, Upload, clean_filename
from app.support.mail_models import MailInAnswer
from app.support.mail_text import html_to_text, new_text
from app.support.models import Ticket
from app.support.reply_address import ReplyTarget, parse_address, recipient_of

log = logging.getLogger(__name__)

ANSWER_EVERY = timedelta(hours=1)
AUTOMATIC_SENDERS = ("mailer-daemon", "postmaster", "noreply", "no-reply", "donotreply")
RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "To", "Cc")


@dataclass(frozen=True)
class Outcome:
    """What happened to one message: `added` or a reason it changed nothing."""

    status: str  # added | automatic | too_big | not_ours | unknown_sender | closed | refused
    ticket_id: int | None = None
    answered: bool = False
    detail: str = ""


@dataclass(frozen=True)
class MailInSettings:
    max_bytes: int
    closed_days: int
    support: services.SupportSettings

    @classmethod
    def from_config(cls, config: Any) -> MailInSettings:
        support = services.SupportSettings.from_config(config)
        return cls(
            max_bytes=int(config["SUPPORT_MAIL_MAX_BYTES"]),
            closed_days=int(config["SUPPORT_MAIL_CLOSED_DAYS"]),
            support=support,
        )


def parse(raw: bytes) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    return message


def parse_headers(raw: bytes) -> EmailMessage:
    head = raw[: 256 * 1024]
    message = BytesParser(policy=policy.default).parsebytes(head, headersonly=True)
    assert isinstance(message, EmailMessage)
    return message


def _address(value: str | None) -> str:
    return parseaddr(str(value or ""))[1].strip().lower()


def automatic_reason(message: EmailMessage, own_addresses: set[str]) -> str | None:
    """Why this mail was written by a machine (RFC 3834 and common practice), or None."""
    auto = str(message.get("Auto-Submitted", "")).strip().lower()
    if auto and auto != "no":
        return "auto-submitted"
    if str(message.get("Precedence", "")).strip().lower() in ("bulk", "junk", "list"):
        return "precedence"
    for header in ("X-Autoreply", "X-Autorespond", "List-Id"):
        if header in message:
            return header.lower()
    if message.get("Return-Path") is not None and _address(message["Return-Path"]) == "":
        return "bounce"
    if message.get_content_type() == "multipart/report":
        return "bounce"
    sender = _address(message.get("From"))
    if not sender or sender.partition("@")[0] in AUTOMATIC_SENDERS:
        return "bounce"
    if sender in own_addresses:
        return "own-mail"
    return None


def _targets(message: EmailMessage, envelope: str | None) -> list[ReplyTarget]:
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
    session: Session, message: EmailMessage, sender: str, reason: str, now: datetime
) -> bool:
    """One polite mail to a human sender, at most once an hour: never to a machine."""
    if "X-Auto-Response-Suppress" in message:
        # Exchange's way of asking for no automatic answer (the mail may still be human).
        return False
    key = _sender_hash(str(current_app.config["SECRET_KEY"]), sender)
    last = session.get(MailInAnswer, key)
    if last is not None and now - last.answered_at < ANSWER_EVERY:
        return False
    if last is None:
        session.add(MailInAnswer(sender_hash=key, answered_at=now))
    else:
        last.answered_at = now
    account = session.scalars(
        select(Account).where(func.lower(Account.email) == sender).limit(1)
    ).first()
    language = services.mail_language(account) if account else current_app.config["LANGUAGES"][0]
    headers = {"Auto-Submitted": "auto-replied"}
    original = str(message.get("Message-ID", "")).strip()
    if original:
        headers["In-Reply-To"] = original
        headers["References"] = original
    with force_locale(language):
        queue_mail(
            session,
            to=sender,
            template="support_mail_refused",
            purpose="support.mail_refused",
            headers=headers,
            reason=reason,
            subject=" ".join(str(message.get("Subject", "")).split())[:200],
            support_link=_support_link(),
        )
    return True


def _support_link() -> str | None:
    from app.links import external_url

    try:
        return external_url("support.index")
    except Exception:  # a link is a courtesy; the answer goes without it
        return None


def _refuse(
    session: Session,
    message: EmailMessage,
    sender: str,
    status: str,
    now: datetime,
    ticket_id: int | None = None,
    detail: str = "",
) -> Outcome:
    answered = _answer(session, message, sender, status, now)
    log.info("mail-in refused: %s (ticket %s) %s", status, ticket_id, detail)
    return Outcome(status, ticket_id=ticket_id, answered=answered, detail=detail)


def receive_message(
    session: Session,
    store: AttachmentStore,
    settings: MailInSettings,
    raw: bytes,
    *,
    envelope_recipient: str | None = None,
    now: datetime | None = None,
) -> Outcome:
    """Add one reply mail to its ticket, or change nothing and say why. No commit."""
    now = now or utcnow()
    config = current_app.config
    too_big = len(raw) > settings.max_bytes
    # A mail over the limit is read no further than its headers (who sent it, and whether
    # a machine did).
    message = parse_headers(raw) if too_big else parse(raw)
    # The team mailbox is not one of them: people may write from it (then it is answered
    # as an unknown sender, unless a staff account has that address).
    own = {_address(config.get("MAIL_FROM")), _address(config.get("SUPPORT_REPLY_ADDRESS"))} - {""}
    reason = automatic_reason(message, own)
    if reason is not None:
        log.info("mail-in ignored: automatic mail (%s)", reason)
        return Outcome("automatic", detail=reason)
    sender = _address(message.get("From"))
    if too_big:
        return _refuse(session, message, sender, "too_big", now, detail=f"{len(raw)} bytes")
    targets = _targets(message, envelope_recipient)
    if not targets:
        return _refuse(session, message, sender, "not_ours", now)
    target = targets[0]
    ticket = session.get(Ticket, target.ticket_id)
    role = recipient_of(config, target, ticket.requester_key) if ticket else None
    if ticket is None or role is None:
        return _refuse(session, message, sender, "not_ours", now)
    visitor = role == "requester" and ticket.from_visitor
    # A visitor has no account: their address is who they are (the token was made for it).
    author = None if visitor else _author(session, ticket, role, sender)
    if (author is None and not visitor) or (visitor and sender != ticket.contact_email):
        return _refuse(session, message, sender, "unknown_sender", now, ticket.id)
    if (
        ticket.is_closed
        and ticket.closed_at is not None
        and now - ticket.closed_at > timedelta(days=settings.closed_days)
    ):
        return _refuse(session, message, sender, "closed", now, ticket.id)
    body = _text(message)
    uploads = _uploads(message)
    try:
        with session.begin_nested(), store.transaction():
            if role == "staff" and author is not None:
                added = services.reply_as_staff(
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
                added = services.reply_as_requester(
                    session,
                    store,
                    settings.support,
                    ticket=ticket,
                    account=author,
                    body=body,
                    uploads=uploads,
                )
    except services.SupportError as exc:
        problems = "; ".join(str(p) for errs in exc.errors.values() for p in errs)
        return _refuse(session, message, sender, "refused", now, ticket.id, problems)
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
