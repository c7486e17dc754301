"""Import jobs without HTTP: the worker's tasks, retries of stalled jobs, the running page."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from moving.moving_support import account_id

from app.db import session_scope, utcnow
from app.moving.models import ImportJob, ImportPart
from app.moving.services import ImportRefused, retry_import


def _running_job(app: Flask, uid: str, *, silent_for: timedelta, archive: str) -> int:
    with session_scope(app) as session:
        job = ImportJob(
            account_id=account_id(app, uid),
            source="upload",
            state="running",
            cancel_requested=False,
            created_at=utcnow(),
            started_at=utcnow() - silent_for - timedelta(minutes=1),
            updated_at=utcnow() - silent_for,
            confirmed_at=utcnow(),
            attempts=1,
            items_total=10,
            bytes_total=1000,
            items_done=4,
            bytes_done=400,
            archive_path=archive,
        )
        job.parts = [
            ImportPart(
                position=0, key="services/cloud/", kind="files", name="", source_service="cloud",
                service_slug="cloud", state="running", items_total=10, bytes_total=1000,
                items_done=4, bytes_done=400, imported=4, skipped=0, refused=0,
            )
        ]  # fmt: skip
        session.add(job)
        session.flush()
        return int(job.id)


def test_the_worker_knows_both_tasks(app: Flask) -> None:
    assert {"moving.check", "moving.run"} <= set(app.extensions["panel_tasks"].tasks)


def test_staff_retry_a_running_job_only_once_its_worker_stopped_answering(
    app: Flask, signed_in: Any, tmp_path: Any
) -> None:
    signed_in("alice")
    archive = tmp_path / "a.zip"
    archive.write_bytes(b"PK")
    fresh = _running_job(app, "alice", silent_for=timedelta(seconds=5), archive=str(archive))
    stalled = _running_job(app, "alice", silent_for=timedelta(hours=1), archive=str(archive))
    with session_scope(app) as session:
        job = session.get(ImportJob, fresh)
        assert job is not None
        with pytest.raises(ImportRefused):
            retry_import(session, job, actor_id=job.account_id)
        job = session.get(ImportJob, stalled)
        assert job is not None
        retry_import(session, job, actor_id=job.account_id)
        assert job.state == "queued"


def test_a_running_import_shows_its_progress_and_a_refresh_link_without_javascript(
    app: Flask, client: FlaskClient, signed_in: Any, fresh_reauth: Any, tmp_path: Any
) -> None:
    signed_in("alice")
    fresh_reauth()
    client.get("/language/en")
    job_id = _running_job(app, "alice", silent_for=timedelta(seconds=5), archive="x")
    page = client.get(f"/account/import/{job_id}").get_data(as_text=True)
    assert "4 of 10 items" in page and "min left" in page
    assert f'href="/account/import/{job_id}"' in page and "Refresh" in page
    assert "<script>" not in page and "moving-progress.js" in page
    assert "Cancel the import" in page
