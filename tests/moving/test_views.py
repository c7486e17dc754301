"""/account/import as a person uses it, in French and English, and /staff/imports."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from moving.moving_support import (
    FakeImporter,
    archive_bytes,
    load_job,
    make_export_zip,
    start_upload,
    tree,
    use_importer,
)
from sqlalchemy import select

from app.audit import AuditEvent
from app.db import session_scope
from app.moving.models import ImportJob
from helpers import csrf_token, do_login

GOOD = {"services/cloud/notes/a.txt": b"hello\n", "services/cloud/b.txt": b"world\n"}


def _upload(client: FlaskClient, body: bytes, name: str = "export.zip") -> Any:
    token = csrf_token(client, "/account/import")
    return client.post(
        "/account/import/upload",
        data={"csrf_token": token, "archive": (io.BytesIO(body), name)},
        content_type="multipart/form-data",
    )


def _post(client: FlaskClient, path: str, page: str) -> Any:
    return client.post(path, data={"csrf_token": csrf_token(client, page)})


def test_the_import_page_asks_for_the_password_first(client: FlaskClient, signed_in: Any) -> None:
    signed_in("alice")
    token = csrf_token(client, "/")
    with client.session_transaction() as session:
        session.pop("reauth_at", None)
    response = client.get("/account/import")
    assert response.status_code == 302 and "/account/confirm" in response.headers["Location"]
    response = client.post(
        "/account/import/upload",
        data={"csrf_token": token, "archive": (io.BytesIO(archive_bytes(GOOD)), "a.zip")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302 and "/account/confirm" in response.headers["Location"]


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("fr", ["Apporter mes données d'un autre hébergeur", "Vous n'avez encore rien importé."]),
        ("en", ["Bring my data from another hoster", "You have not imported anything yet."]),
    ],
)
def test_the_import_page_speaks_her_language_and_has_an_empty_state(
    client: FlaskClient, signed_in: Any, fresh_reauth: Any, language: str, words: list[str]
) -> None:
    signed_in("alice")
    fresh_reauth()
    client.get(f"/language/{language}")
    page = client.get("/account/import").get_data(as_text=True)
    assert f'lang="{language}"' in page
    for text in words:
        assert text in page
    assert 'enctype="multipart/form-data"' in page


def test_upload_plan_confirm_and_report_without_javascript(
    app: Flask, client: FlaskClient, signed_in: Any, fresh_reauth: Any, tmp_path: Path
) -> None:
    signed_in("bob")
    fresh_reauth()
    use_importer(app, FakeImporter("cloud", tmp_path / "new"))
    response = _upload(client, archive_bytes(GOOD))
    assert response.status_code == 302, response.get_data(as_text=True)[:800]
    plan_url = response.headers["Location"]
    page = client.get(plan_url).get_data(as_text=True)
    assert "The plan" in page and "Confirm and import" in page
    assert "Into Cloud" in page
    assert not (tmp_path / "new").exists(), "nothing written before she confirms"

    response = _post(client, plan_url + "/confirm", plan_url)
    assert response.status_code == 302
    page = client.get(plan_url).get_data(as_text=True)
    assert "Report" in page
    assert "2 imported, 0 already there, 0 refused" in page
    assert tree(tmp_path / "new" / "files") and len(tree(tmp_path / "new" / "files")) == 2
    progress = client.get(plan_url + "/progress.json").get_json()
    assert progress["state"] == "done" and "2 of 2 items" in progress["summary"]


def test_a_hostile_upload_shows_why_and_that_nothing_was_written(
    app: Flask, client: FlaskClient, signed_in: Any, fresh_reauth: Any, tmp_path: Path
) -> None:
    signed_in("bob")
    fresh_reauth()
    use_importer(app, FakeImporter("cloud", tmp_path / "new"))
    response = _upload(client, archive_bytes({**GOOD, "../../evil": b"x"}))
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "This archive cannot be imported" in page
    assert "leads out of its folder (../../evil)" in page
    assert "Nothing was written to your services" in page
    assert list((tmp_path / "uploads").glob("*")) == []


def test_an_empty_form_says_what_is_missing(
    client: FlaskClient, signed_in: Any, fresh_reauth: Any
) -> None:
    signed_in("bob")
    fresh_reauth()
    token = csrf_token(client, "/account/import")
    response = client.post(
        "/account/import/upload", data={"csrf_token": token}, content_type="multipart/form-data"
    )
    assert response.status_code == 400
    assert "Choose the ZIP archive of your export." in response.get_data(as_text=True)
    response = client.post(
        "/account/import/transfer", data={"csrf_token": token, "panel_url": "ftp://x"}
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "https://" in page and "transfer code" in page


def test_a_transfer_from_a_panel_out_of_reach_is_refused_clearly(
    app: Flask, client: FlaskClient, signed_in: Any, fresh_reauth: Any
) -> None:
    signed_in("bob")
    fresh_reauth()
    token = csrf_token(client, "/account/import")
    response = client.post(
        "/account/import/transfer",
        data={"csrf_token": token, "panel_url": "https://old.example.org/", "code": "abcd-efgh"},
    )
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "From https://old.example.org" in page
    # This machine reaches no other site: the name does not resolve, as for a typo.
    assert "could not be reached" in page or "private network" in page, page
    with session_scope(app) as session:
        job = session.scalars(select(ImportJob)).one()
        assert job.transfer_url == "https://old.example.org" and "abcd" not in repr(vars(job))


def test_cancel_before_confirming_deletes_the_archive(
    app: Flask, client: FlaskClient, signed_in: Any, fresh_reauth: Any, tmp_path: Path
) -> None:
    signed_in("bob")
    fresh_reauth()
    use_importer(app, FakeImporter("cloud", tmp_path / "new"))
    url = _upload(client, archive_bytes(GOOD)).headers["Location"]
    assert len(list((tmp_path / "uploads").glob("*.zip"))) == 1
    _post(client, url + "/cancel", url)
    assert "cancelled" in client.get(url).get_data(as_text=True)
    assert list((tmp_path / "uploads").glob("*.zip")) == []


def test_nobody_sees_someone_elses_import(
    app: Flask, client: FlaskClient, signed_in: Any, fresh_reauth: Any, tmp_path: Path
) -> None:
    signed_in("bob")
    fresh_reauth()
    use_importer(app, FakeImporter("cloud", tmp_path / "new"))
    url = _upload(client, archive_bytes(GOOD)).headers["Location"]
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    signed_in("alice")
    assert client.get(url).status_code == 404
    assert client.get(url + "/progress.json").status_code == 404


def test_staff_see_who_when_and_sizes_never_content_and_can_retry(
    app: Flask, client: FlaskClient, signed_in: Any, tmp_path: Path
) -> None:
    assert do_login(app.test_client(), "alice", "demo").status_code == 302
    signed_in("camille")
    importer = FakeImporter("cloud", tmp_path / "new", stop_after=1)
    use_importer(app, importer)
    (tmp_path / "uploads").mkdir(exist_ok=True)
    archive = tmp_path / "uploads" / "a.zip"
    archive.write_bytes(archive_bytes(GOOD))
    job_id = start_upload(app, "alice", archive)
    from moving.moving_support import confirm, run_import

    confirm(app, job_id)
    assert run_import(app, job_id).state == "failed"
    page = client.get("/staff/imports").get_data(as_text=True)
    assert "alice" in page and "notes" not in page and "hello" not in page
    response = _post(client, f"/staff/imports/{job_id}/retry", "/staff/imports")
    assert response.status_code == 302
    assert load_job(app, job_id).state == "done"
    with session_scope(app) as session:
        actions = session.scalars(select(AuditEvent.action)).all()
    assert "moving.retried" in actions
    home = client.get("/staff/").get_data(as_text=True)
    assert "/staff/imports" in home


def test_people_without_staff_rights_get_403_on_the_staff_list(
    client: FlaskClient, signed_in: Any
) -> None:
    signed_in("alice")
    assert client.get("/staff/imports").status_code == 403


def test_the_report_goes_into_her_export_afterwards(
    app: Flask, client: FlaskClient, signed_in: Any, fresh_reauth: Any, tmp_path: Path
) -> None:
    signed_in("bob")
    fresh_reauth()
    use_importer(app, FakeImporter("cloud", tmp_path / "new"))
    url = _upload(client, archive_bytes(GOOD)).headers["Location"]
    _post(client, url + "/confirm", url)
    app.extensions["panel_connectors"].pop("cloud")
    exported = make_export_zip(client, tmp_path / "again.zip")
    with zipfile.ZipFile(exported) as archive:
        imports = json.loads(archive.read("panel/moving/imports.json"))
    (job,) = imports
    assert job["state"] == "done"
    cloud = next(p for p in job["parts"] if p["to_service"] == "cloud")
    assert (cloud["imported"], cloud["skipped_already_there"], cloud["refused"]) == (2, 0, 0)


def test_an_upload_larger_than_allowed_is_refused_while_it_streams(
    make_app: Any, tmp_path: Path
) -> None:
    app = make_app(MOVING_MAX_ARCHIVE_BYTES=10_000, MOVING_UPLOAD_DIR=str(tmp_path / "up"))
    client = app.test_client()
    assert do_login(client, "bob", "demo").status_code == 302
    token = csrf_token(client, "/account/import")
    response = client.post(
        "/account/import/upload",
        data={"csrf_token": token, "archive": (io.BytesIO(bytes(2_000_000)), "big.zip")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413
    assert "larger than this panel accepts" in response.get_data(as_text=True)
    assert not list((tmp_path / "up").glob("*")) if (tmp_path / "up").exists() else True


def test_the_account_page_says_when_a_plan_waits_for_her(
    app: Flask, client: FlaskClient, signed_in: Any, fresh_reauth: Any, tmp_path: Path
) -> None:
    signed_in("bob")
    fresh_reauth()
    client.get("/language/en")
    page = client.get("/").get_data(as_text=True)
    assert "/account/import" in page and "The plan of your import is ready" not in page
    use_importer(app, FakeImporter("cloud", tmp_path / "new"))
    url = _upload(client, archive_bytes(GOOD)).headers["Location"]
    page = client.get("/").get_data(as_text=True)
    assert "The plan of your import is ready" in page and url in page
