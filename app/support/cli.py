"""`flask support ...`: the daily clean-up commands and the reply mailbox's."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from app.db import session_scope
from app.mail import send_queued
from app.support import cleanup, mail_cli, operations, visitors
from app.support.attachments import AttachmentStore
from app.support.settings import SupportSettings

support_group = AppGroup("support", help="Support tickets.")


@support_group.command(
    "auto-close",
    help="Close tickets waiting for their requester for too long (run it daily from cron).",
)
@click.option("--days", type=int, default=None, help="Override SUPPORT_AUTO_CLOSE_DAYS.")
def auto_close_command(days: int | None) -> None:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    settings = SupportSettings.from_config(app.config)
    with session_scope(app) as session:
        closed = operations.auto_close(session, settings, days=days)
        files = visitors.delete_old_visitor_tickets(
            session, days=int(app.config["SUPPORT_VISITOR_KEEP_DAYS"])
        )
    # Files go once the rows are gone (a file left over is swept by sweep-files).
    AttachmentStore(Path(app.config["SUPPORT_ATTACHMENT_DIR"])).remove(files)
    click.echo(f"{closed} ticket(s) closed")
    if closed:
        send_queued(app)


@support_group.command(
    "sweep-files",
    help="Remove attachment files that no ticket refers to any more (run it daily).",
)
def sweep_files_command() -> None:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    with session_scope(app) as session:
        removed = cleanup.sweep_orphan_files(
            session, AttachmentStore(Path(app.config["SUPPORT_ATTACHMENT_DIR"]))
        )
    click.echo(f"{removed} file(s) removed")


support_group.add_command(mail_cli.receive_command)
support_group.add_command(mail_cli.fetch_command)
