"""`flask deletions run-due`: the cron side of the deletion pipeline."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from app.db import session_scope
from app.deletion import pipeline
from app.mail import send_queued

deletions_group = AppGroup("deletions", help="Account deletion requests.")


@deletions_group.command(
    "run-due",
    help="Approve due requests the policy lets the panel approve (every step automatic "
    "and PANEL_DELETION_APPROVAL=automatic), run the steps of approved requests and "
    "send the mail. Run it from cron; exits 1 when a step failed.",
)
@click.option("--retry-failed", is_flag=True, help="Also try failed automatic steps again.")
def run_due(retry_failed: bool) -> None:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    with session_scope(app) as session:
        report = pipeline.run_due(session, app, retry_failed=retry_failed)
    sent, unsent = send_queued(app, limit=1000)
    click.echo(
        f"approved {len(report.approved)}, completed {len(report.completed)}, "
        f"waiting for staff {len(report.waiting_staff)}, with failed steps "
        f"{len(report.failed)}; mail sent {sent}, still queued {unsent}"
    )
    for request_id in report.failed:
        click.echo(f"request {request_id}: a step failed, see /staff/deletions/{request_id}")
    if report.failed:
        raise SystemExit(1)
