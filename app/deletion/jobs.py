"""Deletion work run by the task worker: one request's steps, and the periodic due run.

Connectors can take minutes (a mailbox to empty, a slow server up to its timeout), so
the staff page only queues the work and shows the steps' states while the worker runs
them; the steps' claims keep two workers from running the same step.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from flask import Flask

from app import tasks
from app.db import session_scope
from app.deletion import pipeline
from app.mail import send_if_queued

log = logging.getLogger(__name__)

RUN_REQUEST = "deletion.run_request"
RUN_DUE = "deletion.run_due"


def run_request_job(app: Flask, request_id: int, actor_id: int | None = None) -> dict[str, Any]:
    """Run the runnable automatic steps of one approved request; returns the RunReport."""
    with session_scope(app) as session:
        report = pipeline.run_request(session, app, request_id, actor_id=actor_id)
    send_if_queued(app)
    return asdict(report)


def run_due_job(app: Flask) -> None:
    """What `flask deletions run-due` does, every few minutes while a worker runs."""
    with session_scope(app) as session:
        report = pipeline.run_due(session, app)
    send_if_queued(app)
    if report.failed:
        log.warning("deletion requests with a failed step: %s", report.failed)


def queue_request(app: Flask, request_id: int, actor_id: int | None) -> pipeline.RunReport | None:
    """Queue the request's steps; in immediate mode they have run and the report is returned."""
    result = tasks.enqueue(app, RUN_REQUEST, request_id, actor_id)
    if result is None or not tasks.is_immediate(app):
        return None
    return pipeline.RunReport(**result.get())
