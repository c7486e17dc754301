"""Moving-house work run by the task worker: check an archive and plan, then import it.

Both can take long (gigabytes to hash, thousands of messages to write), so the pages only
queue them and show the job's state and progress, which these functions commit as they go.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

from flask import Flask, g
from flask_babel import force_locale
from sqlalchemy.orm import Session

from app import tasks
from app.accounts.models import Account
from app.connectors.base import service_connectors
from app.db import session_scope
from app.export.services import person_of
from app.links import external_url
from app.mail import queue_mail, send_if_queued
from app.moving import services
from app.moving.models import ImportJob

CHECK = "moving.check"
RUN = "moving.run"


def _person(account: Account) -> services.Person:
    return person_of(account)


def _code_box(app: Flask) -> Any:
    """The queue is storage (Redis, SQLite) and keeps no secrets in the clear: a transfer
    code rides in it encrypted with a key derived from the panel's secret key, and opens
    for at most a day (a code is valid 24 hours anyway)."""
    # cryptography stays out of web workers' memory: only the worker opens a sealed code.
    from cryptography.fernet import Fernet

    key = hashlib.sha256(b"chatons-panel transfer code\0" + str(app.secret_key).encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def _job_and_owner(session: Session, job_id: int) -> tuple[ImportJob, Account] | None:
    """The job and the account it imports into; None when the job is gone (the account was
    deleted meanwhile, its jobs with it)."""
    job = session.get(ImportJob, job_id)
    if job is None:
        return None
    account = session.get(Account, job.account_id)
    assert account is not None
    return job, account


def check_job(app: Flask, job_id: int, sealed_code: str | None = None) -> None:
    """Fetch (transfer) and check the archive, then make the plan for her to confirm."""
    transfer_code = None
    if sealed_code:
        from cryptography.fernet import InvalidToken  # the worker's only: see _code_box

        try:
            transfer_code = _code_box(app).decrypt(sealed_code.encode(), ttl=86_400).decode()
        except InvalidToken:
            transfer_code = None  # the panel's key changed: the job fails as "no archive"
    with session_scope(app) as session:
        found = _job_and_owner(session, job_id)
        if found is None:
            return
        job, account = found
        settings = services.MovingSettings.from_config(app.config)
        fetch = None
        if job.source == "transfer" and job.transfer_url and transfer_code:
            url, code = job.transfer_url, transfer_code

            def fetch(destination: Path) -> None:
                # The transfer client stays out of web workers' memory (they queue this job).
                from app.moving import transfer

                transfer.fetch_export(
                    url, code, destination, max_bytes=settings.limits.max_archive_bytes
                )

        services.plan_job(
            session,
            job,
            settings=settings,
            connectors=service_connectors(app),
            person=_person(account),
            fetch=fetch,
        )


def run_job(app: Flask, job_id: int) -> None:
    """Import the confirmed job's parts; mail her in her language when it ends."""
    settings = services.MovingSettings.from_config(app.config)
    with session_scope(app) as session:
        found = _job_and_owner(session, job_id)
        if found is None:
            return
        _job, account = found
        person = _person(account)
        done = services.run_job(
            session,
            job_id,
            settings=settings,
            connectors=service_connectors(app),
            person=person,
        )
        if done is not None and done.state in ("done", "failed") and account.email:
            languages = app.config["LANGUAGES"]
            language = (account.preferred_language or "").split("-")[0].lower()
            with force_locale(language if language in languages else languages[0]):
                queue_mail(
                    session,
                    to=account.email,
                    template="import_done",
                    purpose="moving.done",
                    account=account,
                    job=done,
                    report=services.report_by_service(done),
                    link=external_url("moving.job_page", job_id=done.id),
                )
            g.panel_mail_queued = True
    send_if_queued(app)


def queue_check(app: Flask, job_id: int, transfer_code: str | None = None) -> None:
    sealed = _code_box(app).encrypt(transfer_code.encode()).decode() if transfer_code else None
    tasks.enqueue(app, CHECK, job_id, sealed)


def queue_run(app: Flask, job_id: int) -> None:
    tasks.enqueue(app, RUN, job_id)
