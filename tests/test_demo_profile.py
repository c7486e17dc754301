"""The demo profile as `make run` serves it, on a machine without its mail and calendar servers.

The demo's `mail` (imap) and `calendars` (dav) connectors sign in to a Dovecot on
127.0.0.1:143 and a Radicale on 127.0.0.1:5232. Nothing listens there in these tests: every
page still works, and says in plain words, in French and in English, which service did not
answer.
"""

from __future__ import annotations

import io
import json
import logging
import re
import socket
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.db import session_scope
from app.deletion.models import DeletionRequest
from app.profile.loading import DEMO_FILE
from helpers import csrf_token, do_login, english_connector_words, missing_tool

DEMO_SERVERS = {"mail": 143, "calendars": 5232}
NOT_REACHABLE = {
    "fr": "Injoignable pour le moment",
    "en": "Not reachable right now",
}


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def demo_app(make_app: Callable[..., Flask]) -> Flask:
    busy = [f"127.0.0.1:{p}" for p in DEMO_SERVERS.values() if _listening(p)]
    if busy:
        missing_tool(
            f"a server answers on {', '.join(busy)}: the demo's tests need these ports free"
        )
    return make_app(HOSTER_FILE=str(DEMO_FILE), DELETION_GRACE_DAYS=0)


def signed_in(app: Flask, uid: str) -> FlaskClient:
    client = app.test_client()
    assert do_login(client, uid, "demo").status_code == 302
    return client


def text(response: Any) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


@pytest.mark.parametrize(("uid", "language"), [("zoe", "fr"), ("bob", "en")])
def test_account_data_shows_mail_and_calendars_as_not_reachable(
    demo_app: Flask, uid: str, language: str
) -> None:
    response = signed_in(demo_app, uid).get("/account/data")
    assert response.status_code == 200
    page = text(response)
    # Exactly the two services of the absent servers, each under its own heading.
    assert page.count(NOT_REACHABLE[language]) == 2
    for heading in ("Courriel", "Agendas et contacts") if language == "fr" else ("Mail",):
        assert f"{heading} {NOT_REACHABLE[language]}" in page
    if language == "en":
        assert f"Calendars and contacts {NOT_REACHABLE['en']}" in page


def test_the_export_completes_and_says_which_services_did_not_answer(demo_app: Flask) -> None:
    bob = signed_in(demo_app, "bob")
    response = bob.post("/account/export", data={"csrf_token": csrf_token(bob, "/account/export")})
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(response.get_data()))
    assert archive.testzip() is None
    manifest = json.loads(archive.read("manifest.json"))
    parts = {s["service"]: s for s in manifest["services"]}
    assert parts["mail"]["status"] == parts["calendars"]["status"] == "failed"
    assert "127.0.0.1:143" in parts["mail"]["reason"]
    assert "not reachable" in parts["mail"]["reason"]
    assert "127.0.0.1:5232 cannot be reached" in parts["calendars"]["reason"]
    assert parts["panel"]["status"] == "ok" and not parts["panel"]["reason"]
    assert any(name.startswith("panel/") for name in archive.namelist())
    failures = archive.read("ERRORS.txt").decode()
    assert "127.0.0.1:143" in failures and "127.0.0.1:5232" in failures


def test_deletion_steps_of_absent_servers_wait_for_a_retry_with_the_reason_in_french(
    demo_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    zoe = signed_in(demo_app, "zoe")
    asked = zoe.post(
        "/account/deletion",
        data={"csrf_token": csrf_token(zoe, "/account/deletion"), "confirm_login": "zoe"},
    )
    assert asked.status_code == 302
    with session_scope(demo_app) as session:
        request_id = session.scalar(select(DeletionRequest.id))
    staff = signed_in(demo_app, "camille")  # reads French
    page = f"/staff/deletions/{request_id}"
    with caplog.at_level(logging.INFO):
        approved = staff.post(f"{page}/approve", data={"csrf_token": csrf_token(staff, page)})
        assert approved.status_code == 302
        shown = staff.get(page)
        assert shown.status_code == 200
        listing = text(shown)
        retried = re.search(rf"{page}/steps/(\d+)/retry", shown.get_data(as_text=True))
        assert retried is not None
        again = staff.post(retried.group(0), data={"csrf_token": csrf_token(staff, page)})
        assert again.status_code == 302
    with session_scope(demo_app) as session:
        request = session.get(DeletionRequest, request_id)
        assert request is not None and request.state == "approved"
        failed = {s.service_slug: s for s in request.steps if s.state == "failed"}
        assert set(failed) == {"mail", "calendars"}
        assert all(len(s.detail or "") < 200 for s in failed.values())  # a reason, no trace
    # The reasons, in the reader's language, next to a Retry button for each.
    assert "le serveur de courriel 127.0.0.1:143 est injoignable (connexion refusée)" in listing
    assert "127.0.0.1:5232 est injoignable : connexion refusée" in listing
    assert listing.count("Réessayer") >= 2
    assert "Traceback" not in listing
    for words in english_connector_words():
        assert words not in listing, words
    # Neither the page nor the log is flooded: failures of absent servers are no crash.
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records]


def test_doctor_notes_the_demo_servers_that_are_not_running_and_stays_happy(
    demo_app: Flask,
) -> None:
    result = demo_app.test_cli_runner().invoke(args=["doctor"])
    assert result.exit_code == 0, result.output
    assert re.search(
        r"^note +connector mail: the mail server 127\.0\.0\.1:143 is not reachable .*"
        r"not running here",
        result.output,
        re.M,
    ), result.output
    assert re.search(
        r"^note +connector calendars: 127\.0\.0\.1:5232 cannot be reached", result.output, re.M
    ), result.output


def test_the_demo_pages_of_people_and_staff_never_show_an_error_page(demo_app: Flask) -> None:
    for uid, paths in {
        "zoe": ["/", "/account/data", "/account/export", "/account/deletion", "/services"],
        "camille": ["/staff/deletions", "/account/data"],
    }.items():
        client = signed_in(demo_app, uid)
        for path in paths:
            assert client.get(path).status_code == 200, (uid, path)
