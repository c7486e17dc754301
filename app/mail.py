"""Outgoing mail: queued in the database with the change it reports, then sent over SMTP.

A message is written to the outbox in the same transaction as the action it reports, so
a failing SMTP server never loses a reply or a receipt: the message stays queued and is
retried (`flask mail send`, run from cron, and after every request that queued mail).
A sent message is deleted at once: the panel keeps no copy of what it mailed.

One message never holds up another: a recipient is checked when the mail is queued (one
address, no control character, else nothing is queued and the event is logged once), each
message is sent in its own try, a failure is retried later and later (exponential back-off)
and after MAIL_MAX_ATTEMPTS the message becomes a dead letter, listed on the staff home
with the reason, and is no longer tried until staff send it again (or discard it) from there.
"""

from __future__ import annotations

import json
import logging
import re
import smtplib
import ssl
import unicodedata
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime, formataddr, make_msgid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import click
from flask import Flask, g, render_template
from sqlalchemy import Boolean, Integer, String, Text, false, func, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from app import tasks
from app.dates import hoster_time
from app.db import (
    Base,
    UTCDateTime,
    after_commit,
    in_request_transaction,
    session_scope,
    utcnow,
)
from app.extensions import running_app
from app.mail_failures import failure_in_words

log = logging.getLogger(__name__)

# Settings of the outbox; each can be overridden like any other (PANEL_MAIL_MAX_ATTEMPTS=…).
DEFAULTS: dict[str, Any] = {
    # Failed sends before a message becomes a dead letter (shown to staff, never retried).
    "MAIL_MAX_ATTEMPTS": 10,
    # Wait after the first failure; doubled after each further one, up to the maximum.
    "MAIL_RETRY_SECONDS": 60,
    "MAIL_RETRY_MAX_SECONDS": 6 * 3600,
}
# One plain address: local@domain, no spaces, separators, brackets or quotes.
ADDRESS = re.compile(r"[^\s@,;:<>()\[\]\"\\]+@[^\s@,;:<>()\[\]\"\\]+")


class OutgoingMail(Base):
    __tablename__ = "outgoing_mail"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(998))
    body: Mapped[str] = mapped_column(Text)
    # What the mail is about, for staff who see failures ("ticket.reply", "deletion.receipt").
    purpose: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Extra headers as a JSON object (threading, Reply-To, List-Unsubscribe), or null.
    headers: Mapped[str | None] = mapped_column(Text)
    # Mail to a list (incident subscribers): sent by `flask mail send` / the worker at a
    # throttled pace, never after a person's request.
    bulk: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Not tried again before this time (back-off); null = as soon as possible.
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when the message is given up: it stays for staff to see why, and is never retried.
    dead_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class InvalidRecipient(ValueError):
    """Not exactly one plain e-mail address."""


def checked_recipient(address: str | None) -> str:
    """The address, stripped, if it is exactly one plain address; else InvalidRecipient.

    A directory `mail` value may hold anything: a line break would break the message's
    headers, and "a@x, b@y" would mail a second person.
    """
    text = (address or "").strip()
    if not text or len(text) > 320:
        raise InvalidRecipient("empty or too long")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in text):
        raise InvalidRecipient("control character or line break")
    if not ADDRESS.fullmatch(text):
        raise InvalidRecipient("not exactly one plain address")
    return text


def queue_mail(
    session: Session,
    *,
    to: str,
    template: str,
    purpose: str,
    headers: dict[str, str] | None = None,
    bulk: bool = False,
    by_worker: bool = False,
    **context: Any,
) -> OutgoingMail | None:
    """Render `templates/emails/<template>.txt` (first line `Subject: …`) into the outbox.

    The caller commits (in a request, the request does); the message is sent after that
    commit (or by `flask mail send`).
    `headers` adds or replaces headers (Message-ID, In-Reply-To, References, Reply-To,
    List-Unsubscribe…); `bulk` keeps list mail out of the after-request sending.
    `by_worker` leaves the message to the task worker too (see send_soon): a form that
    mails only sometimes must not answer more slowly when it does.
    A recipient that is not one plain address queues nothing (None) and is logged once.
    """
    try:
        recipient = checked_recipient(to)
    except InvalidRecipient as exc:
        log.warning("mail not queued (%s): the recipient address is unusable: %s", purpose, exc)
        return None
    with hoster_time():
        rendered = render_template(f"emails/{template}.txt", **context).lstrip()
    first, _, body = rendered.partition("\n")
    if not first.startswith("Subject:"):
        raise ValueError(f"emails/{template}.txt must start with a 'Subject:' line")
    subject = " ".join(first[len("Subject:") :].split())  # no header injection by newline
    message = OutgoingMail(
        recipient=recipient,
        subject=subject[:998],
        body=body.strip() + "\n",
        purpose=purpose,
        attempts=0,
        created_at=utcnow(),
        headers=json.dumps(_clean_headers(headers)) if headers else None,
        bulk=bulk,
    )
    session.add(message)
    if not bulk and not by_worker:
        g.panel_mail_queued = True
        # In a request the message is sent once the request's transaction has committed
        # (a rolled-back request sends nothing); the worker and the CLI send themselves.
        if in_request_transaction():
            after_commit(_send_after_commit)
    return message


def send_soon(app: Flask) -> None:
    """Ask the task worker to send what is due now, once the request's transaction has
    committed (the worker must find the message); outside a request, at once.

    Without a running worker the mail still leaves with the next `flask mail send`."""

    def ask() -> None:
        try:
            tasks.enqueue(app, "mail.send_now")
        except Exception:  # the queue being down must not fail the request; cron sends it
            log.exception("could not ask the worker to send mail")

    after_commit(ask)


def send_if_queued(app: Flask) -> None:
    """For a worker job, after its commit: send the mail it queued now, not at the next cron."""
    if g.pop("panel_mail_queued", False):
        try:
            send_queued(app)
        except Exception:  # the mail stays queued for `flask mail send`
            log.exception("sending queued mail failed")


def _send_after_commit() -> None:
    if g.pop("panel_mail_queued", False):
        try:
            send_queued(running_app(), bulk=False)
        except Exception:  # never fail the user's request because of mail
            log.exception("sending queued mail failed")


def _clean_headers(headers: dict[str, str]) -> dict[str, str]:
    """Header values on one line: a value never starts a header of its own."""
    return {name: " ".join(str(value).split()) for name, value in headers.items()}


def extra_headers(message: OutgoingMail) -> dict[str, str]:
    if not message.headers:
        return {}
    loaded: dict[str, str] = json.loads(message.headers)
    return loaded


# Headers whose value is a list of <…> (URIs, message ids): mail clients read them as
# written. The standard folder turns one longer than 78 characters into RFC 2047
# encoded-words (`=?utf-8?q?=3Chttps…`), and then Gmail, Apple Mail and Thunderbird show no
# unsubscribe button, and threading breaks. These are folded between items instead.
ANGLE_LIST_HEADERS = frozenset(
    {
        "list-id",
        "list-unsubscribe",
        "list-help",
        "list-archive",
        "message-id",
        "in-reply-to",
        "references",
    }
)


class MailPolicy(EmailPolicy):
    """The SMTP policy, except for ANGLE_LIST_HEADERS (plain ASCII, folded at spaces only)."""

    def _raw(self, name: str, value: Any) -> str | None:
        text = " ".join(str(value).split())
        if name.lower() not in ANGLE_LIST_HEADERS or not text.isascii():
            return None
        limit = self.max_line_length or 78
        lines, current = [], f"{name}:"
        for word in text.split(" "):
            if len(current) + 1 + len(word) > limit and current != f"{name}:":
                lines.append(current)
                current = ""
            current += " " + word
        lines.append(current)
        return self.linesep.join(lines) + self.linesep

    def fold(self, name: str, value: Any) -> str:
        raw = self._raw(name, value)
        return raw if raw is not None else super().fold(name, value)

    def fold_binary(self, name: str, value: Any) -> bytes:
        raw = self._raw(name, value)
        return raw.encode("ascii") if raw is not None else super().fold_binary(name, value)


SMTP_POLICY = MailPolicy(linesep="\r\n")


def build_message(config: dict[str, Any], message: OutgoingMail) -> EmailMessage:
    """The message as it leaves: RFC 5322 headers (Date, Message-ID) and the outbox's own."""
    email = EmailMessage(policy=SMTP_POLICY)
    email["From"] = formataddr((config["HOSTER_NAME"], config["MAIL_FROM"]))
    email["To"] = message.recipient
    email["Subject"] = message.subject
    # When the change the mail reports was made (the outbox row), not when a retry left.
    email["Date"] = format_datetime(message.created_at or utcnow())
    email["Message-ID"] = make_msgid(domain=config["MAIL_FROM"].rpartition("@")[2] or None)
    email["Auto-Submitted"] = "auto-generated"
    for name, value in extra_headers(message).items():
        del email[name]
        email[name] = value
    email.set_content(message.body)
    return email


def _smtp_send(config: dict[str, Any], message: OutgoingMail) -> None:
    url = urlsplit(config["SMTP_URL"])
    email = build_message(config, message)
    timeout = 10
    port = url.port
    options = parse_qs(url.query)
    starttls = url.scheme == "smtp+starttls" or options.get("starttls", ["false"])[0] == "true"
    context = ssl.create_default_context()
    server: smtplib.SMTP
    if url.scheme == "smtps":
        server = smtplib.SMTP_SSL(
            url.hostname or "localhost", port or 465, timeout=timeout, context=context
        )
    else:
        server = smtplib.SMTP(url.hostname or "localhost", port or 25, timeout=timeout)
    with server:
        if starttls:
            server.starttls(context=context)
        if url.username:
            server.login(unquote(url.username), unquote(url.password or ""))
        server.send_message(email)


def _deliver(config: dict[str, Any], message: OutgoingMail) -> None:
    if config.get("SMTP_URL"):
        _smtp_send(config, message)
    else:
        _keep_demo_mail(config, message)


def _keep_demo_mail(config: dict[str, Any], message: OutgoingMail) -> None:
    """No SMTP server (the demo): the mail is printed whole at WARNING, which the terminal
    shows, and kept as a .eml file in MAIL_DIR (instance/mail/) that any mail client opens,
    so a visitor's confirmation link is never lost."""
    email = build_message(config, message)
    raw = email.as_bytes(policy=SMTP_POLICY.clone(linesep="\n"))
    folder = Path(config["MAIL_DIR"])
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    stamp = utcnow().strftime("%Y%m%d-%H%M%S")
    path = folder / f"{stamp}-{message.id or 0}-{message.purpose}.eml"
    path.write_bytes(raw)
    if config.get("ENV") == "production":
        # Logs never carry message bodies in production (DESIGN, principle 2).
        log.warning("mail not sent: PANEL_SMTP_URL is not set; kept in %s", path)
        return
    # The terminal gets it as a person reads it: headers decoded, the body as written.
    readable = "".join(f"{name}: {value}\n" for name, value in email.items())
    log.warning(
        "mail not sent (no PANEL_SMTP_URL), kept in %s:\n%s\n%s",
        path,
        readable,
        message.body,
    )


def _is_permanent(exc: Exception) -> bool:
    """Failures that no retry can cure: a malformed message, a recipient refused for good."""
    if isinstance(exc, ValueError):
        return True
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _text in exc.recipients.values())
    return False


def retry_delay(config: dict[str, Any], attempts: int) -> timedelta:
    """Exponential back-off: base, 2 x base, 4 x base... capped at MAIL_RETRY_MAX_SECONDS."""
    base = float(config["MAIL_RETRY_SECONDS"])
    cap = float(config["MAIL_RETRY_MAX_SECONDS"])
    return timedelta(seconds=min(cap, base * 2 ** min(attempts - 1, 32)))


def _record_failure(config: dict[str, Any], message: OutgoingMail, exc: Exception) -> None:
    now = utcnow()
    message.attempts += 1
    message.last_attempt_at = now
    message.last_error = f"{type(exc).__name__}: {exc}"[:500]
    if _is_permanent(exc) or message.attempts >= int(config["MAIL_MAX_ATTEMPTS"]):
        message.dead_at = now
        message.next_attempt_at = None
        log.error("mail %s (%s) given up: %s", message.id, message.purpose, message.last_error)
    else:
        message.next_attempt_at = now + retry_delay(config, message.attempts)
        log.warning("mail %s not sent (%s): %s", message.id, message.purpose, exc)


def send_queued(app: Flask, *, limit: int = 50, bulk: bool | None = None) -> tuple[int, int]:
    """Try every message that is due once, each on its own; sent ones are deleted.

    Returns (sent, failed). One message's failure, whatever it is, never stops the others.
    `bulk` False sends only mail to one person, True only list mail, None both.
    """
    sent = failed = 0
    config = dict(app.config)
    now = utcnow()
    with session_scope(app) as session:
        query = (
            select(OutgoingMail)
            .where(OutgoingMail.dead_at.is_(None))
            .where(or_(OutgoingMail.next_attempt_at.is_(None), OutgoingMail.next_attempt_at <= now))
        )
        if bulk is not None:
            query = query.where(OutgoingMail.bulk.is_(bulk))
        due = session.scalars(query.order_by(OutgoingMail.id).limit(limit)).all()
        for message in due:
            try:
                _deliver(config, message)
            except Exception as exc:  # one bad message must not hold up the queue
                _record_failure(config, message, exc)
                failed += 1
            else:
                session.delete(message)
                sent += 1
            # Each outcome is kept at once: a crash later in the batch resends nothing twice.
            session.commit()
    return sent, failed


def count_unsent(session: Session) -> int:
    """Messages still waiting to be sent (dead letters are counted apart)."""
    return int(
        session.scalar(
            select(func.count()).select_from(OutgoingMail).where(OutgoingMail.dead_at.is_(None))
        )
        or 0
    )


def count_dead_letters(session: Session) -> int:
    return int(
        session.scalar(
            select(func.count()).select_from(OutgoingMail).where(OutgoingMail.dead_at.is_not(None))
        )
        or 0
    )


def dead_letters(session: Session, *, limit: int = 50) -> list[OutgoingMail]:
    """Messages given up, newest first, for the staff home (purpose and reason, no body)."""
    return list(
        session.scalars(
            select(OutgoingMail)
            .where(OutgoingMail.dead_at.is_not(None))
            .order_by(OutgoingMail.dead_at.desc(), OutgoingMail.id.desc())
            .limit(limit)
        ).all()
    )


def _dead_letter_query(ids: list[int] | None) -> Any:
    query = select(OutgoingMail).where(OutgoingMail.dead_at.is_not(None))
    if ids is not None:
        query = query.where(OutgoingMail.id.in_(ids))
    return query.order_by(OutgoingMail.id)


def retry_dead_letters(session: Session, ids: list[int] | None = None) -> list[OutgoingMail]:
    """Give dead letters (these, or all) a fresh start: no attempts, due at once.

    Staff use it once the cause is fixed (the SMTP server is back, the address corrected in
    the directory still needs a new mail: the old recipient is kept). The caller commits.
    """
    messages = list(session.scalars(_dead_letter_query(ids)).all())
    for message in messages:
        message.dead_at = None
        message.attempts = 0
        message.next_attempt_at = None
        message.last_error = None
        message.last_attempt_at = None
    return messages


def discard_dead_letters(session: Session, ids: list[int] | None = None) -> list[OutgoingMail]:
    """Delete dead letters (these, or all) for good; the caller commits."""
    messages = list(session.scalars(_dead_letter_query(ids)).all())
    for message in messages:
        session.delete(message)
    return messages


def still_queued(session: Session, ids: list[int]) -> tuple[int, int]:
    """Of these messages, how many wait for another try and how many were given up again."""
    if not ids:
        return 0, 0
    states = session.scalars(select(OutgoingMail.dead_at).where(OutgoingMail.id.in_(ids))).all()
    dead = sum(1 for dead_at in states if dead_at is not None)
    return len(states) - dead, dead


def init_app(app: Flask) -> None:
    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)
    app.add_template_filter(failure_in_words, "mail_failure")
    # Where mail goes without PANEL_SMTP_URL (the demo): one .eml file per message.
    app.config.setdefault("MAIL_DIR", str(Path(app.instance_path) / "mail"))

    # Mail that waits on purpose (back-off, staff mail grouped for a few minutes) leaves
    # within a minute when the worker runs, without waiting for cron.

    def send_due_job(app: Flask) -> None:
        send_queued(app, limit=200, bulk=False)

    tasks.register_periodic_task(app, "mail.send_due", send_due_job, tasks.crontab())
    tasks.register_task(app, "mail.send_now", send_due_job)

    @app.cli.group("mail", help="Outgoing mail.")
    def mail_group() -> None:
        pass

    @mail_group.command("send", help="Send (retry) queued mail; run it from cron.")
    def mail_send() -> None:
        sent, failed = send_queued(app, limit=1000)
        click.echo(f"{sent} sent, {failed} still failing")
        if failed:
            raise SystemExit(1)
