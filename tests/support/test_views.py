"""Requester pages over HTTP: open, follow, answer, close, reopen; bad input; suggestions."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func, select
from support.ticket_helpers import EXE, PDF, PNG

from app.db import session_scope
from app.support.models import Attachment, Ticket, TicketMessage
from helpers import csrf_token


@pytest.fixture
def alice(login_as, client):
    login_as("alice")
    client.post("/language", data={"lang": "en", "csrf_token": csrf_token(client, "/support")})
    return client


def new_ticket(client, *, files=(), token=None, **fields):
    data = {
        "csrf_token": token or csrf_token(client, "/support/new"),
        "subject": "Cannot upload to the cloud",
        "service": "cloud",
        "category": "problem",
        "body": "The upload stops at 50%.",
        **fields,
    }
    data["attachments"] = [(io.BytesIO(content), name) for name, content in files]
    return client.post("/support/new", data=data, content_type="multipart/form-data")


def counts(app):
    with session_scope(app) as session:
        return tuple(
            session.scalar(select(func.count()).select_from(model))
            for model in (Ticket, TicketMessage, Attachment)
        )


def stored_files(attachment_dir):
    return [p for p in attachment_dir.rglob("*") if p.is_file()] if attachment_dir.exists() else []


def error_beside(page: str, field: str) -> str:
    match = re.search(rf'<p class="error" id="{field}-error">(.*?)</p>', page, re.S)
    assert match, f"no error beside {field}"
    return match.group(1)


def test_user_opens_a_ticket_with_an_attachment_and_finds_it_in_the_list(
    app, alice, attachment_dir
):
    response = new_ticket(alice, files=[("screenshot.png", PNG)])
    assert response.status_code == 302
    page = alice.get(response.headers["Location"]).get_data(as_text=True)
    assert "Your request has been sent (ticket #1)" in page
    assert "The upload stops at 50%." in page
    assert "screenshot.png" in page
    assert len(stored_files(attachment_dir)) == 1
    listing = alice.get("/support").get_data(as_text=True)
    assert "#1 Cannot upload to the cloud" in listing
    assert "Sent, not answered yet" in listing


def test_attachment_download_is_the_same_file_as_a_download_with_nosniff(app, alice):
    new_ticket(alice, files=[("rapport.pdf", PDF)])
    page = alice.get("/support/1").get_data(as_text=True)
    link = re.search(r'href="(/support/1/attachments/\d+)"', page).group(1)
    response = alice.get(link)
    assert response.status_code == 200
    assert response.data == PDF
    assert response.mimetype == "application/pdf"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "rapport.pdf" in response.headers["Content-Disposition"]


def test_disguised_file_is_refused_beside_the_field_and_nothing_is_stored(
    app, alice, attachment_dir
):
    response = new_ticket(alice, files=[("holiday.png", EXE)])
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "is not a type of file we accept" in error_beside(page, "attachments")
    # What the user typed is still there.
    assert "The upload stops at 50%." in page
    assert counts(app) == (0, 0, 0)
    assert stored_files(attachment_dir) == []


def test_html_renamed_as_text_is_refused(app, alice):
    response = new_ticket(alice, files=[("notes.txt", b"<!DOCTYPE html><script>alert(1)</script>")])
    assert response.status_code == 422
    assert counts(app) == (0, 0, 0)


def test_too_many_files_are_refused(app, alice, attachment_dir):
    files = [(f"p{i}.png", PNG) for i in range(4)]
    response = new_ticket(alice, files=files)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Too many files: at most 3" in error_beside(page, "attachments")
    assert counts(app) == (0, 0, 0)
    assert stored_files(attachment_dir) == []


def test_a_file_over_the_limit_is_refused_and_the_text_is_kept(
    make_support_app, attachment_dir, monkeypatch
):
    from app.support import attachments

    received = []
    original = attachments.CappedFile.__init__

    def spy(self, limit):
        original(self, limit)
        received.append(self)

    monkeypatch.setattr(attachments.CappedFile, "__init__", spy)
    app = make_support_app(SUPPORT_ATTACHMENT_MAX_BYTES=1000)
    client = app.test_client()
    from helpers import do_login

    do_login(client, "alice", "demo")
    big = PNG + bytes(2000)
    response = new_ticket(client, files=[("big.png", big)], body="Keep this text")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    # alice reads French (her directory language).
    error = error_beside(page, "attachments")
    assert "«\u202fbig.png\u202f» est trop volumineux\u202f: 1000 octets" in error
    assert "Keep this text" in page
    # The upload streamed into a capped file that stopped keeping bytes past the limit.
    [capped] = received
    assert capped.over_limit and capped.received == len(big)
    assert counts(app) == (0, 0, 0)
    assert stored_files(attachment_dir) == []


def test_a_request_larger_than_the_limits_is_refused_before_it_is_read(
    make_support_app, attachment_dir
):
    app = make_support_app(SUPPORT_ATTACHMENT_MAX_BYTES=1000, SUPPORT_ATTACHMENT_MAX_FILES=1)
    client = app.test_client()
    from helpers import do_login

    do_login(client, "alice", "demo")
    token = csrf_token(client, "/support/new")
    # 1 file of 1000 bytes + 1 MiB allowance for the text: 2 MiB is over the limit.
    response = new_ticket(client, token=token, files=[("huge.png", PNG + bytes(2 * 1024 * 1024))])
    assert response.status_code == 413
    assert "Rien n'a été enregistré" in response.get_data(as_text=True)
    assert counts(app) == (0, 0, 0)
    assert stored_files(attachment_dir) == []


def test_declared_length_is_checked_before_anything_is_read(make_support_app):
    app = make_support_app(SUPPORT_ATTACHMENT_MAX_BYTES=1000, SUPPORT_ATTACHMENT_MAX_FILES=1)
    client = app.test_client()
    from helpers import do_login

    do_login(client, "alice", "demo")

    class Exploding(io.BytesIO):
        def read(self, *args):
            raise AssertionError("the body was read")

    response = client.post(
        "/support/new",
        input_stream=Exploding(b""),
        content_type="multipart/form-data; boundary=x",
        environ_overrides={"CONTENT_LENGTH": str(50 * 1024 * 1024)},
    )
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"subject": ""}, "subject", "short title"),
        ({"body": "   "}, "body", "Write your message"),
        ({"body": "x" * (100 * 1024 + 1)}, "body", "at most 100 KB"),
        ({"body": "nul\x00byte"}, "body", "control characters"),
        ({"service": "bank"}, "service", "Choose a service"),
    ],
)
def test_bad_fields_get_a_message_beside_them(app, alice, fields, field, message):
    response = new_ticket(alice, **fields)
    assert response.status_code == 422
    assert message in error_beside(response.get_data(as_text=True), field)
    assert counts(app) == (0, 0, 0)


def test_invalid_utf8_in_a_multipart_form_is_refused(app, alice):
    token = csrf_token(alice, "/support/new")
    boundary = "XyZ"
    parts = [
        ("csrf_token", token.encode()),
        ("subject", b"Broken"),
        ("service", b"cloud"),
        ("category", b"problem"),
        ("body", b"caf\xe9 latin-1 \xff"),
    ]
    body = (
        b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value
            + b"\r\n"
            for name, value in parts
        )
        + f"--{boundary}--\r\n".encode()
    )
    response = alice.post(
        "/support/new", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert response.status_code == 422
    assert "not valid UTF-8" in error_beside(response.get_data(as_text=True), "body")
    assert counts(app) == (0, 0, 0)


def test_invalid_utf8_in_a_urlencoded_form_is_refused(app, alice):
    token = csrf_token(alice, "/support/new")
    body = f"csrf_token={token}&subject=Broken&service=cloud&category=problem&body=caf%E9"
    response = alice.post(
        "/support/new", data=body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 422
    assert "not valid UTF-8" in error_beside(response.get_data(as_text=True), "body")
    assert counts(app) == (0, 0, 0)


def test_a_post_without_csrf_token_stores_nothing(app, alice, attachment_dir):
    response = alice.post(
        "/support/new",
        data={
            "subject": "x",
            "service": "cloud",
            "category": "problem",
            "body": "y",
            "attachments": [(io.BytesIO(PNG), "a.png")],
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert counts(app) == (0, 0, 0)
    assert stored_files(attachment_dir) == []


def test_user_replies_closes_and_reopens(app, alice):
    new_ticket(alice)
    token = csrf_token(alice, "/support/1")
    response = alice.post(
        "/support/1/reply",
        data={"csrf_token": token, "body": "More details: Firefox 128."},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    assert "More details: Firefox 128." in alice.get("/support/1").get_data(as_text=True)

    alice.post("/support/1/close", data={"csrf_token": token})
    page = alice.get("/support/1").get_data(as_text=True)
    assert "The ticket is closed" in page
    assert "Reopen the ticket" in page

    alice.post("/support/1/reopen", data={"csrf_token": token})
    page = alice.get("/support/1").get_data(as_text=True)
    assert "The ticket is open again" in page
    assert "Waiting for the team" in page


def test_replying_to_a_closed_ticket_reopens_it(app, alice):
    new_ticket(alice)
    token = csrf_token(alice, "/support/1")
    alice.post("/support/1/close", data={"csrf_token": token})
    assert "Send and reopen" in alice.get("/support/1").get_data(as_text=True)
    alice.post(
        "/support/1/reply",
        data={"csrf_token": token, "body": "It broke again."},
        content_type="multipart/form-data",
    )
    page = alice.get("/support/1").get_data(as_text=True)
    assert "Your reply has been sent and the ticket is open again." in page
    with session_scope(app) as session:
        assert session.get(Ticket, 1).state == "waiting_staff"


def test_empty_reply_is_refused_beside_the_field(app, alice):
    new_ticket(alice)
    response = alice.post(
        "/support/1/reply",
        data={"csrf_token": csrf_token(alice, "/support/1"), "body": ""},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "Write your message" in error_beside(response.get_data(as_text=True), "body")
    assert counts(app) == (1, 1, 0)


def test_support_pages_stay_open_while_new_terms_wait(app):
    from app.security import view_flag

    with app.test_request_context():
        for endpoint in (
            "support.index",
            "support.new_ticket",
            "support.ticket",
            "support.reply",
            "support.close",
            "support.reopen",
            "support.attachment",
        ):
            assert view_flag(endpoint, "gate_exempt"), endpoint


def test_ongoing_incidents_are_suggested_after_choosing_a_service(app, alice):
    calls = []

    def ongoing(session, service):
        calls.append(service)
        if service == "cloud":
            return [(7, "Cloud sync is slow", "/incidents/7")]
        return []

    app.extensions["panel_ongoing_incidents"] = ongoing
    step = alice.get("/support/new").get_data(as_text=True)
    assert 'name="service"' in step and "Continue" in step
    assert 'name="subject"' not in step

    page = alice.get("/support/new?service=cloud").get_data(as_text=True)
    assert "Is this it?" in page
    assert '<a href="/incidents/7">Cloud sync is slow</a>' in page
    assert '<option selected value="cloud">' in page or 'value="cloud" selected' in page

    page = alice.get("/support/new?service=pad").get_data(as_text=True)
    assert "No known problem" in page
    assert calls == ["cloud", "pad"]

    assert alice.get("/support/new?service=nope").status_code == 422


def test_without_incidents_feature_the_form_comes_at_once(app, alice):
    app.extensions.pop("panel_ongoing_incidents", None)  # as if the journal were not installed
    page = alice.get("/support/new").get_data(as_text=True)
    assert 'name="subject"' in page
    assert "Is this it?" not in page


def test_ticket_list_paginates(app, alice, make_ticket):
    for i in range(27):
        make_ticket(subject=f"Ticket number {i}")
    first = alice.get("/support").get_data(as_text=True)
    assert "27 tickets" in first
    assert "Page 1 of 2" in first
    assert "Ticket number 26" in first and "Ticket number 0<" not in first
    assert "Ticket number 0<" in alice.get("/support?page=2").get_data(as_text=True)
    assert alice.get("/support?page=3").status_code == 404


def test_a_failing_incident_lookup_does_not_stop_a_ticket(app, alice):
    def broken(session, service):
        raise RuntimeError("incidents table missing")

    app.extensions["panel_ongoing_incidents"] = broken
    page = alice.get("/support/new?service=cloud")
    assert page.status_code == 200
    assert 'name="subject"' in page.get_data(as_text=True)
    assert new_ticket(alice).status_code == 302
