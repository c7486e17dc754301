"""Transfer codes on the old panel: create, list, revoke; the one-time server download."""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from app.audit import AuditEvent
from app.db import utcnow
from app.export.transfer import TransferCode, TransferCodesSection, code_hash, normalise
from app.export.transfer_views import REFUSED
from helpers import csrf_token

CODE_RE = re.compile(r'value="([A-Z2-7]{4}(?:-[A-Z2-7]{4}){7})"')
TRANSFER = "/account/export/transfer"

TEXTS = {
    "fr": {
        "create": "Créer un code de transfert",
        "shown_once": "affiché uniquement sur cette page",
        "listed": "Un code de transfert créé le",
        "revoke": "Révoquer ce code",
        "revoked": "Le code de transfert est révoqué",
    },
    "en": {
        "create": "Create a transfer code",
        "shown_once": "shown only on this page",
        "listed": "A transfer code created on",
        "revoke": "Revoke this code",
        "revoked": "The transfer code is revoked",
    },
}


def create_code(client: FlaskClient) -> str:
    token = csrf_token(client, "/account/export")
    page = client.post("/account/export/transfer-codes", data={"csrf_token": token})
    assert page.status_code == 200, page.status_code
    match = CODE_RE.search(page.get_data(as_text=True))
    assert match, "the code is shown on the page that created it"
    return match.group(1)


def rows(app: Flask, model: Any, *where: Any) -> list[Any]:
    with app.app_context():
        from app.db import get_session

        # In the order written: without ORDER BY, PostgreSQL returns what its pages hold first.
        found = list(get_session().scalars(select(model).where(*where).order_by(model.id)))
        get_session().expunge_all()
        return found


def audit_actions(app: Flask, action_prefix: str = "export.") -> list[AuditEvent]:
    return [
        e
        for e in rows(app, AuditEvent, AuditEvent.action.startswith(action_prefix))
        if e.action != "export.downloaded"
    ]


def fetch(app: Flask, code: str | None, *, headers_en: bool = False, **kw: Any) -> Any:
    """Another panel's request: a fresh client (no cookie), the code as a bearer token."""
    headers = {"Authorization": f"Bearer {code}"} if code is not None else {}
    if headers_en:
        headers["Accept-Language"] = "en"
    return app.test_client().post(TRANSFER, headers=headers, **kw)


def zip_of(response: Any) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(response.get_data()))


def assert_refused(response: Any) -> None:
    assert response.status_code == 404
    assert response.get_data(as_text=True) == REFUSED
    assert response.mimetype == "text/plain"
    assert "Set-Cookie" not in response.headers


# Pages ----------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["fr", "en"])
def test_create_list_and_revoke_a_code(
    app: Flask, client: FlaskClient, sign_in: Any, language: str
) -> None:
    texts = TEXTS[language]
    sign_in(client, "alice")
    with client.session_transaction() as session:
        session["lang"] = language
    export_page = client.get("/account/export").get_data(as_text=True)
    assert texts["create"] in export_page
    assert texts["revoke"] not in export_page

    token = csrf_token(client, "/account/export")
    created = client.post("/account/export/transfer-codes", data={"csrf_token": token})
    page = created.get_data(as_text=True)
    assert created.status_code == 200 and texts["shown_once"] in page
    assert created.headers["Cache-Control"] == "no-store"
    code = CODE_RE.search(page).group(1)  # type: ignore[union-attr]
    assert "http://localhost" in page  # the panel's address to give the new panel

    (row,) = rows(app, TransferCode)
    assert row.code_hash == hashlib.sha256(normalise(code).encode()).hexdigest()
    assert timedelta(hours=23, minutes=59) < row.expires_at - row.created_at <= timedelta(hours=24)
    # Only the hash is kept: the code is nowhere in the audit trail.
    (event,) = audit_actions(app)
    assert event.action == "export.transfer_code_created"
    assert normalise(code) not in normalise(event.details) and code not in event.details

    # Listed on the account page while it is valid, with a revoke button (POST + CSRF).
    home = client.get("/").get_data(as_text=True)
    assert texts["listed"] in home and texts["revoke"] in home
    action = f"/account/export/transfer-codes/{row.id}/revoke"
    assert f'action="{action}?next=/"' in home
    assert texts["revoke"] in client.get("/account/export").get_data(as_text=True)
    # The code is never in the page again.
    assert code not in home and code not in client.get("/account/export").get_data(as_text=True)

    assert client.post(action + "?next=/").status_code == 400  # no CSRF token
    revoked = client.post(
        action + "?next=/", data={"csrf_token": csrf_token(client, "/")}, follow_redirects=True
    )
    assert revoked.request.path == "/"
    assert texts["revoked"] in revoked.get_data(as_text=True)
    assert texts["listed"] not in revoked.get_data(as_text=True)
    assert [e.action for e in audit_actions(app)] == [
        "export.transfer_code_created",
        "export.transfer_code_revoked",
    ]
    assert_refused(fetch(app, code))


def test_creating_a_code_needs_a_recent_password(client: FlaskClient, sign_in: Any) -> None:
    sign_in(client, "alice")
    token = csrf_token(client, "/account/export")
    with client.session_transaction() as session:
        session.pop("reauth_at")
    asked = client.post("/account/export/transfer-codes", data={"csrf_token": token})
    assert asked.status_code == 302
    assert asked.headers["Location"].startswith("/account/confirm")
    confirmed = client.post(
        "/account/confirm",
        data={"password": "demo", "next": "/account/export/transfer-codes", "csrf_token": token},
    )
    assert confirmed.headers["Location"] == "/account/export/transfer-codes"
    back = client.get("/account/export/transfer-codes")
    assert back.headers["Location"] == "/account/export#transfer-title"


def test_a_visitor_or_another_person_cannot_create_or_revoke(
    app: Flask, client: FlaskClient, sign_in: Any
) -> None:
    visitor = app.test_client()
    assert visitor.post("/account/export/transfer-codes").status_code in (302, 400)
    sign_in(client, "alice")
    create_code(client)
    (row,) = rows(app, TransferCode)
    zoe = sign_in(app.test_client(), "zoe")
    token = csrf_token(zoe, "/")
    refused = zoe.post(
        f"/account/export/transfer-codes/{row.id}/revoke", data={"csrf_token": token}
    )
    assert refused.status_code == 404
    (still,) = rows(app, TransferCode)
    assert still.revoked_at is None


# The download ---------------------------------------------------------------------------


def test_a_code_downloads_the_owners_export_once(
    app: Flask, client: FlaskClient, sign_in: Any, write_file: Any
) -> None:
    write_file("alice", "Documents/notes.md", b"# Notes\n" * 20)
    write_file("zoe", "Documents/secret.md", b"Zoe's own\n")
    code = create_code(sign_in(client, "alice"))

    # Another panel: no cookie, no CSRF token, the code in the Authorization header.
    response = fetch(app, code, environ_base={"REMOTE_ADDR": "192.0.2.7"}, headers_en=True)
    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    assert "Set-Cookie" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"
    archive = zip_of(response)
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["account"] == "alice"
    paths = {f["path"] for f in manifest["files"]}
    assert "services/cloud/Documents/notes.md" in paths
    assert not any("secret" in p for p in paths)
    for entry in manifest["files"]:
        assert hashlib.sha256(archive.read(entry["path"])).hexdigest() == entry["sha256"]
    # The archive is in the owner's language (French), not the caller's (English).
    assert archive.read("README.txt").decode().startswith("Vos données chez")

    (row,) = rows(app, TransferCode)
    assert row.used_at is not None and row.used_from == "192.0.2.7"
    transferred = [e for e in audit_actions(app) if e.action == "export.transferred"]
    assert len(transferred) == 1
    assert transferred[0].details_dict["address"] == "192.0.2.7"
    assert transferred[0].account_id == row.account_id and transferred[0].actor_id is None

    # Used: answered exactly like a code nobody ever created.
    assert_refused(fetch(app, code))
    assert_refused(fetch(app, "AAAA-BBBB-CCCC-DDDD-EEEE-FFFF-GGGG-HHHH"))
    assert_refused(fetch(app, None))
    assert len([e for e in audit_actions(app) if e.action == "export.transferred"]) == 1


def test_the_code_may_come_in_the_body_with_any_spacing_and_case(
    app: Flask, client: FlaskClient, sign_in: Any
) -> None:
    code = create_code(sign_in(client, "alice"))
    typed = " " + code.lower().replace("-", " ") + " "
    response = app.test_client().post(TRANSFER, data={"code": typed})
    assert response.status_code == 200 and zip_of(response).testzip() is None


def test_expired_revoked_and_wrong_codes_answer_like_unknown_ones(
    app: Flask, client: FlaskClient, sign_in: Any
) -> None:
    sign_in(client, "alice")
    expired, revoked, kept = create_code(client), create_code(client), create_code(client)
    with app.app_context():
        from app.db import get_session

        db = get_session()
        db.execute(
            update(TransferCode)
            .where(TransferCode.code_hash == code_hash(expired))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        db.execute(
            update(TransferCode)
            .where(TransferCode.code_hash == code_hash(revoked))
            .values(revoked_at=utcnow())
        )
        db.commit()
    unknown = fetch(app, "not-a-code")
    assert_refused(unknown)
    for code in (expired, revoked, kept[:-1] + ("A" if kept[-1] != "A" else "B")):
        answer = fetch(app, code)
        assert_refused(answer)
        assert answer.headers.get("Content-Length") == unknown.headers.get("Content-Length")
    # A form post, a GET, a JSON body: the same (or no route for GET).
    assert_refused(app.test_client().post(TRANSFER, data={"code": "nothing"}))
    assert app.test_client().get(TRANSFER).status_code == 405
    (kept_row,) = rows(app, TransferCode, TransferCode.code_hash == code_hash(kept))
    assert kept_row.used_at is None
    assert fetch(app, kept).status_code == 200


def test_the_account_page_lists_a_code_until_it_expires_or_is_used(
    app: Flask, client: FlaskClient, sign_in: Any
) -> None:
    sign_in(client, "alice")
    code = create_code(client)
    assert TEXTS["fr"]["listed"] in client.get("/").get_data(as_text=True)
    with app.app_context():
        from app.db import get_session

        db = get_session()
        db.execute(
            update(TransferCode)
            .where(TransferCode.code_hash == code_hash(code))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        db.commit()
    assert TEXTS["fr"]["listed"] not in client.get("/").get_data(as_text=True)
    used = create_code(client)
    assert fetch(app, used).status_code == 200
    assert TEXTS["fr"]["listed"] not in client.get("/").get_data(as_text=True)


def test_a_session_is_neither_needed_nor_used(
    app: Flask, client: FlaskClient, sign_in: Any
) -> None:
    code = create_code(sign_in(client, "alice"))
    # Zoe signed in, posting without a code (her session cookie, her CSRF token): refused.
    zoe = sign_in(app.test_client(), "zoe")
    assert_refused(zoe.post(TRANSFER, data={"csrf_token": csrf_token(zoe, "/")}))
    # With Alice's code, Zoe's cookie changes nothing: Alice's archive, nobody signed in.
    response = zoe.post(TRANSFER, headers={"Authorization": f"Bearer {code}"})
    assert response.status_code == 200
    assert json.loads(zip_of(response).read("manifest.json"))["account"] == "alice"
    assert "Set-Cookie" not in response.headers
    # The code never signs in: a visitor who used it is still a visitor.
    visitor = app.test_client()
    code2 = create_code(client)
    assert visitor.post(TRANSFER, headers={"Authorization": f"Bearer {code2}"}).status_code == 200
    home = visitor.get("/account/export")
    assert home.status_code == 302 and "/login" in home.headers["Location"]
    assert visitor.get_cookie("session") is None


def test_the_download_is_rate_limited_per_address(
    make_app: Any, hoster_file: Any, sign_in: Any
) -> None:
    app = make_app(HOSTER_FILE=str(hoster_file()), TRANSFER_LIMIT="3 per hour")
    client = sign_in(app.test_client(), "alice")
    code = create_code(client)
    for _attempt in range(3):
        assert_refused(fetch(app, "guess", environ_base={"REMOTE_ADDR": "198.51.100.1"}))
    blocked = fetch(app, code, environ_base={"REMOTE_ADDR": "198.51.100.1"})
    assert blocked.status_code == 429
    # The blocked attempt did not use the code up; another address is not blocked.
    assert fetch(app, code, environ_base={"REMOTE_ADDR": "198.51.100.2"}).status_code == 200


def test_codes_are_in_the_export_and_go_with_the_account(
    app: Flask, client: FlaskClient, sign_in: Any, download: Any
) -> None:
    sign_in(client, "alice")
    code = create_code(client)
    assert fetch(app, code, environ_base={"REMOTE_ADDR": "203.0.113.5"}).status_code == 200
    create_code(client)
    archive = download(client)
    listed = json.loads(archive.zip.read("panel/transfer-codes/transfer-codes.json"))
    assert [c["used_from"] for c in listed] == ["203.0.113.5", None]
    assert code not in archive.text("panel/transfer-codes/transfer-codes.json")
    with app.app_context():
        from app.accounts.models import Account
        from app.db import get_session

        db = get_session()
        alice = db.scalars(select(Account).where(Account.uid == "alice")).one()
        TransferCodesSection().delete(db, alice)
        db.commit()
    assert rows(app, TransferCode) == []


# In a browser ----------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_code_page_is_accessible_and_copies_the_code(
    live_server: Any, browser_page: Any, axe: Any, language: str
) -> None:
    from helpers import assert_accessible

    texts = TEXTS[language]
    page = browser_page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(live_server.url + "/login")
    page.fill("#login", "alice")
    page.fill("#password", "demo")
    page.click("main button[type=submit]")
    page.wait_for_url(live_server.url + "/")
    if language == "en":
        page.click("a.lang-button[hreflang=en]")
    page.goto(live_server.url + "/account/export")
    page.get_by_role("button", name=texts["create"]).click()
    page.wait_for_url(live_server.url + "/account/export/transfer-codes")
    assert page.get_attribute("html", "lang") == language
    code = page.input_value("#transfer-code")
    assert CODE_RE.search(f'value="{code}"')
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert_accessible(axe, page)
    page.click("button[data-copy=transfer-code]")
    page.wait_for_function("document.querySelector('.copy-status').textContent !== ''")
    assert page.evaluate("navigator.clipboard.readText()") == code

    page.goto(live_server.url + "/")
    assert texts["listed"] in page.inner_text("main")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert_accessible(axe, page)
    page.get_by_role("button", name=texts["revoke"]).click()
    page.wait_for_url(live_server.url + "/")
    assert texts["revoked"] in page.inner_text("main")
    assert texts["listed"] not in page.inner_text("main")


def test_of_simultaneous_downloads_with_one_code_one_only_gets_the_archive(
    app: Flask, live_server: Any, client: FlaskClient, sign_in: Any
) -> None:
    import threading
    import urllib.error
    import urllib.request

    code = create_code(sign_in(client, "alice"))
    statuses: list[int] = []
    start = threading.Barrier(5)

    def attempt() -> None:
        request = urllib.request.Request(  # noqa: S310 - the test's own http:// server
            live_server.url + TRANSFER, method="POST", headers={"Authorization": f"Bearer {code}"}
        )
        start.wait()
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - idem
                response.read()
                statuses.append(response.status)
        except urllib.error.HTTPError as refused:
            statuses.append(refused.code)

    threads = [threading.Thread(target=attempt) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    assert sorted(statuses) == [200, 404, 404, 404, 404]
    transferred = [e for e in audit_actions(app) if e.action == "export.transferred"]
    assert len(transferred) == 1
