"""`flask support receive` (a message on stdin) and `flask support fetch` (an IMAP mailbox)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from flask_babel import force_locale
from sqlalchemy.exc import SQLAlchemyError

from app.connectors.base import ConnectorError
from app.db import session_scope
from app.extensions import running_app
from app.mail import send_queued
from app.support.attachments import AttachmentStore
from app.support.mail_in import MailInSettings, Outcome, receive_message

log = logging.getLogger(__name__)
# sysexits.h: Postfix and Dovecot keep the message and try again later.
EX_TEMPFAIL = 75


def receive(
    app: Flask,
    raw: bytes,
    envelope_recipient: str | None = None,
    envelope_sender: str | None = None,
) -> Outcome:
    """Handle one message in its own transaction, then send what it queued."""
    settings = MailInSettings.from_config(app.config)
    store = AttachmentStore(Path(app.config["SUPPORT_ATTACHMENT_DIR"]))
    language = str(app.config["LANGUAGES"][0])
    with app.app_context(), force_locale(language), session_scope(app) as session:
        outcome = receive_message(
            session,
            store,
            settings,
            raw,
            envelope_recipient=envelope_recipient,
            envelope_sender=envelope_sender,
        )
    if outcome.status == "added" or outcome.answered:
        with app.app_context():
            send_queued(app, bulk=False)
    return outcome


@click.command(
    "receive",
    help="Read one mail on standard input and add it to its ticket (Postfix or Sieve pipe).",
)
@click.option(
    "--recipient",
    default=None,
    help="The envelope recipient (Postfix: ${recipient}), when headers may not carry it.",
)
@click.option(
    "--sender",
    default=None,
    help="The envelope sender (Postfix: ${sender}); else the Return-Path header is used.",
)
@with_appcontext
def receive_command(recipient: str | None, sender: str | None) -> None:
    app: Flask = running_app()
    raw = sys.stdin.buffer.read()
    try:
        outcome = receive(app, raw, recipient, sender)
    except SQLAlchemyError as exc:
        # The database is away: the MTA keeps the mail and delivers it again later.
        click.echo(f"temporary failure, try again later: {exc}", err=True)
        raise SystemExit(EX_TEMPFAIL) from exc
    click.echo(f"{outcome.status} {outcome.ticket_id or ''}".strip())


class MailSource(Protocol):
    """A mailbox the fetch loop reads: issue #13's IMAP client, or anything alike."""

    def unread(self) -> Iterator[tuple[str, bytes]]: ...

    def move(self, uid: str, folder: str) -> None: ...


def fetch(
    app: Flask, source: MailSource, *, done_folder: str, refused_folder: str
) -> dict[str, int]:
    """Every waiting message once: handled ones go to `done_folder`, refused ones aside."""
    counts: dict[str, int] = {}
    for uid, raw in source.unread():
        outcome = receive(app, raw)
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
        handled = outcome.status in ("added", "duplicate")
        source.move(uid, done_folder if handled else refused_folder)
    return counts


def open_source(config: Any) -> MailSource:
    """The configured support mailbox (SUPPORT_IMAP_URL), through the connectors' IMAP
    client; a test or a plug-in may register another factory."""
    factory: Callable[[Any], MailSource] | None = current_app.extensions.get(
        "panel_support_mailbox"
    )
    if factory is None:
        # The IMAP client stays out of web workers' memory: only the worker reads the box.
        from app.support.mailbox import SupportMailbox

        factory = SupportMailbox.from_config
    return factory(config)


def fetch_mailbox(app: Flask) -> dict[str, int]:
    """Read the configured mailbox once: how many messages ended how."""
    source = open_source(app.config)
    try:
        return fetch(
            app,
            source,
            done_folder=str(app.config["SUPPORT_IMAP_DONE_FOLDER"]),
            refused_folder=str(app.config["SUPPORT_IMAP_REFUSED_FOLDER"]),
        )
    finally:
        close = getattr(source, "close", None)
        if close is not None:
            close()


def fetch_job(app: Flask) -> None:
    """The worker's periodic read of the support mailbox (when one is configured)."""
    if not app.config.get("SUPPORT_IMAP_URL"):
        return
    with force_locale(str(app.config["LANGUAGES"][0])):
        try:
            counts = fetch_mailbox(app)
        except ConnectorError as exc:
            log.warning("support mailbox not read: %s", exc)
            return
    if counts:
        log.info("support mailbox: %s", counts)


@click.command(
    "fetch",
    help="Read the support mailbox over IMAP (SUPPORT_IMAP_URL) and add replies to tickets.",
)
@with_appcontext
def fetch_command() -> None:
    app: Flask = running_app()
    if not app.config.get("SUPPORT_IMAP_URL"):
        raise click.ClickException("Set PANEL_SUPPORT_IMAP_URL to read a mailbox.")
    with force_locale(str(app.config["LANGUAGES"][0])):
        try:
            counts = fetch_mailbox(app)
        except ConnectorError as exc:
            raise click.ClickException(f"the support mailbox could not be read: {exc}") from exc
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "nothing new"
    click.echo(summary)
