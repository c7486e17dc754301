"""Server-side sessions: a copied cookie dies with its session; sign out elsewhere."""

from __future__ import annotations

import io
import json
import os
import re
import zipfile

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from app.audit import AuditEvent
from app.sessions.devices import describe
from helpers import csrf_token, do_login, missing_tool

FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
REDIS = os.environ.get("PANEL_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")

# `/` is the public home for visitors: a private page shows whether a session still works.
PRIVATE = "/account/activity"


def copy_of(client: FlaskClient, app) -> FlaskClient:
    """Another browser holding a copy of the client's session cookie."""
    thief = app.test_client()
    thief.set_cookie("panel_session", client.get_cookie("panel_session").value)
    return thief


def sign_in_with(app, login: str, user_agent: str = FIREFOX_LINUX) -> FlaskClient:
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = user_agent
    assert do_login(client, login, "demo").status_code == 302
    return client


def test_a_copied_cookie_replayed_after_sign_out_is_refused(app):
    alice = sign_in_with(app, "alice")
    thief = copy_of(alice, app)
    assert thief.get("/account/export").status_code == 200  # the copy works while signed in
    alice.post("/logout", data={"csrf_token": csrf_token(alice, "/")})
    for path in ("/account/export", "/account/activity", "/support/new"):
        response = thief.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path
    # `/` is the public home: the copy sees what any visitor sees, not Alice's account.
    home = thief.get("/").get_data(as_text=True)
    assert "Se déconnecter" not in home and "Alice" not in home
    assert thief.post("/account/export", data={}).status_code in (302, 400)


def test_the_cookie_holds_only_a_random_value_and_changes_at_sign_in(app):
    client = app.test_client()
    client.get("/login")
    before = client.get_cookie("panel_session").value
    assert do_login(client, "alice", "demo").status_code == 302
    after = client.get_cookie("panel_session").value
    assert after != before
    assert "." not in after and len(after) < 64  # no signed payload, just an id
    old = app.test_client()
    old.set_cookie("panel_session", before)
    assert old.get(PRIVATE).status_code == 302


def test_sessions_page_lists_browsers_in_words_and_marks_this_one(app):
    sign_in_with(app, "alice", SAFARI_IPHONE)
    alice = sign_in_with(app, "alice")
    page = alice.get("/account/sessions").get_data(as_text=True)
    assert "Firefox sur Linux" in page and "Safari sur iPhone" in page
    assert page.count("Ce navigateur") == 1
    assert "Mozilla/5.0" not in page


def test_sign_out_of_the_other_sessions_keeps_this_one(app, db_session):
    phone = sign_in_with(app, "alice", SAFARI_IPHONE)
    laptop = sign_in_with(app, "alice")
    response = laptop.post(
        "/account/sessions/others", data={"csrf_token": csrf_token(laptop, "/account/sessions")}
    )
    assert response.status_code == 302
    assert phone.get(PRIVATE).status_code == 302
    assert laptop.get(PRIVATE).status_code == 200
    page = laptop.get("/account/sessions").get_data(as_text=True)
    assert "Safari sur iPhone" not in page
    actions = db_session.scalars(select(AuditEvent.action)).all()
    assert "sessions.ended_others" in actions
    assert "Déconnecté de toutes les autres sessions" in laptop.get("/account/activity").get_data(
        as_text=True
    )


def test_sign_out_everywhere_ends_this_session_too(app):
    phone = sign_in_with(app, "alice", SAFARI_IPHONE)
    laptop = sign_in_with(app, "alice")
    copy = copy_of(laptop, app)
    laptop.post("/account/sessions/all", data={"csrf_token": csrf_token(laptop, "/")})
    for client in (phone, laptop, copy):
        assert client.get(PRIVATE).status_code == 302
    assert sign_in_with(app, "alice").get(PRIVATE).status_code == 200
    bob = sign_in_with(app, "bob")
    assert bob.get(PRIVATE).status_code == 200  # nobody else was signed out


def test_staff_end_every_session_of_an_account_after_confirming(app, db_session):
    zoe = sign_in_with(app, "zoe")
    zoe.get(PRIVATE)
    staff = sign_in_with(app, "camille")
    account_id = db_session.scalar(
        select(AuditEvent.account_id).where(AuditEvent.action == "login.succeeded")
    )
    page = staff.get(f"/staff/accounts/{account_id}/sessions?next=/staff/")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Firefox sur Linux" in text and "1 session ouverte" in text
    token = csrf_token(staff, f"/staff/accounts/{account_id}/sessions")
    # One click is not enough: without the box ticked, nothing ends.
    unconfirmed = staff.post(
        f"/staff/accounts/{account_id}/sessions/end",
        data={"csrf_token": token, "next": "/staff/"},
    )
    assert unconfirmed.status_code == 422
    assert "Cochez la case pour confirmer." in unconfirmed.get_data(as_text=True)
    assert zoe.get(PRIVATE).status_code == 200
    response = staff.post(
        f"/staff/accounts/{account_id}/sessions/end",
        data={"csrf_token": token, "next": "/staff/", "confirm": "y"},
    )
    assert response.status_code == 302
    assert response.headers["Location"].startswith(f"/staff/accounts/{account_id}/sessions")
    assert "ce compte partout" not in staff.get(response.headers["Location"]).get_data(
        as_text=True
    )  # nothing left to end
    assert zoe.get(PRIVATE).status_code == 302
    event = db_session.scalar(
        select(AuditEvent).where(AuditEvent.action == "sessions.ended_by_staff")
    )
    assert event is not None and event.account_id == account_id
    # Hosted users cannot do it, nor see the list.
    other = sign_in_with(app, "bob")
    assert other.get(f"/staff/accounts/{account_id}/sessions").status_code == 403
    forbidden = other.post(
        f"/staff/accounts/{account_id}/sessions/end",
        data={"csrf_token": csrf_token(other, "/"), "confirm": "y"},
    )
    assert forbidden.status_code == 403


def test_export_lists_open_sessions_in_words(app):
    alice = sign_in_with(app, "alice")
    response = alice.post(
        "/account/export", data={"csrf_token": csrf_token(alice, "/account/export")}
    )
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(response.get_data()))
    [name] = [n for n in archive.namelist() if n.endswith("sessions.json")]
    [entry] = json.loads(archive.read(name))
    assert entry["browser"] == "Firefox" and entry["system"] == "Linux"
    assert "Mozilla" not in archive.read(name).decode()


@pytest.mark.parametrize(
    ("user_agent", "expected"),
    [
        (FIREFOX_LINUX, ("Firefox", "Linux")),
        (SAFARI_IPHONE, ("Safari", "iPhone")),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
            ("Edge", "Windows"),
        ),
        (
            "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0.0.0 Mobile Safari/537.36",
            ("Chrome", "Android"),
        ),
        ("", ("", "")),
    ],
)
def test_browser_and_system_in_words(user_agent, expected):
    assert describe(user_agent) == expected


def redis_reachable() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture
def redis_app(make_app):
    if not redis_reachable():
        missing_tool("Redis is not running on 127.0.0.1:6379: apt-get install redis-server")
    import redis

    redis.Redis.from_url(REDIS).flushdb()
    return make_app(SESSION_STORE=REDIS)


def test_redis_store_ends_copies_of_the_session_too(redis_app):
    alice = sign_in_with(redis_app, "alice")
    phone = sign_in_with(redis_app, "alice", SAFARI_IPHONE)
    thief = copy_of(alice, redis_app)
    assert thief.get(PRIVATE).status_code == 200
    page = alice.get("/account/sessions").get_data(as_text=True)
    assert "Safari sur iPhone" in page and "Firefox sur Linux" in page
    alice.post("/logout", data={"csrf_token": csrf_token(alice, "/")})
    assert thief.get(PRIVATE).status_code == 302
    assert phone.get(PRIVATE).status_code == 200
    phone.post("/account/sessions/all", data={"csrf_token": csrf_token(phone, "/")})
    assert phone.get(PRIVATE).status_code == 302


def test_unreachable_session_store_answers_503_not_signed_out(make_app):
    import ldap_server

    app = make_app(SESSION_STORE=f"redis://127.0.0.1:{ldap_server.free_port()}/0")
    client = app.test_client()
    client.set_cookie("panel_session", "x" * 43)
    response = client.get("/")
    assert response.status_code == 503
    assert "Les connexions ne peuvent pas être vérifiées" in response.get_data(as_text=True)


def test_staff_ticket_page_links_to_the_requesters_sessions_without_a_one_click_end(app):
    zoe = sign_in_with(app, "zoe")
    token = csrf_token(zoe, "/support/new?service=cloud")
    created = zoe.post(
        "/support/new",
        data={
            "csrf_token": token,
            "subject": "Compte piraté ?",
            "service": "cloud",
            "category": "account",
            "body": "Je vois des connexions que je ne reconnais pas.",
        },
    )
    assert created.status_code == 302
    staff = sign_in_with(app, "camille")
    text = staff.get("/staff/tickets/1").get_data(as_text=True)
    assert "/sessions/end" not in text  # no button that signs the person out at once
    link = re.search(r'href="(/staff/accounts/\d+/sessions\?next=[^"]+)"', text).group(1)
    sessions_page = staff.get(link.replace("&amp;", "&"))
    assert "Déconnecter ce compte partout" in sessions_page.get_data(as_text=True)
    action = re.search(
        r'action="(/staff/accounts/\d+/sessions/end)', sessions_page.get_data(as_text=True)
    ).group(1)
    done = staff.post(
        action,
        data={
            "csrf_token": csrf_token(staff, "/staff/"),
            "next": "/staff/tickets/1",
            "confirm": "y",
        },
    )
    assert "next=/staff/tickets/1" in done.headers["Location"].replace("%2F", "/")
    assert zoe.get(PRIVATE).status_code == 302


def test_deleting_the_account_ends_its_sessions(app):
    from app.accounts.models import Account
    from app.db import session_scope
    from app.sessions.models import SessionRecord

    alice = sign_in_with(app, "alice")
    copy = copy_of(alice, app)
    signed_in = select(SessionRecord).where(SessionRecord.account_id.is_not(None))
    with session_scope(app) as db:
        assert len(db.scalars(signed_in).all()) == 1
        db.delete(db.scalar(select(Account).where(Account.uid == "alice")))
    with session_scope(app) as db:
        assert db.scalars(signed_in).all() == []  # nothing left to replay
    for client in (alice, copy):
        assert client.get("/account/activity").status_code == 302


def test_a_session_ends_after_its_lifetime_whatever_the_cookie_says(app):
    from datetime import timedelta

    from sqlalchemy import update

    from app.db import session_scope, utcnow
    from app.sessions.models import SessionRecord

    alice = sign_in_with(app, "alice")
    assert alice.get(PRIVATE).status_code == 200
    with session_scope(app) as db:
        db.execute(update(SessionRecord).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert alice.get(PRIVATE).status_code == 302


def test_a_visitors_session_is_short_and_a_signed_in_one_lasts_the_lifetime(app, db_session):
    from datetime import timedelta

    from app.db import utcnow
    from app.sessions.models import SessionRecord

    visitor = app.test_client()
    visitor.get("/login")
    [row] = db_session.scalars(select(SessionRecord)).all()
    assert row.account_id is None and row.expires_at <= utcnow() + timedelta(hours=2)
    sign_in_with(app, "alice")
    db_session.expire_all()
    [signed_in] = db_session.scalars(
        select(SessionRecord).where(SessionRecord.account_id.is_not(None))
    ).all()
    assert signed_in.expires_at > utcnow() + timedelta(hours=11)


def test_sign_out_that_cannot_reach_the_store_says_so(app, monkeypatch):
    from app.sessions.store import SessionStoreUnavailable

    alice = sign_in_with(app, "alice")
    token = csrf_token(alice, "/")
    store = app.extensions["panel_session_store"]

    def unreachable(key):
        raise SessionStoreUnavailable("ConnectionError")

    monkeypatch.setattr(store, "delete", unreachable)
    response = alice.post("/logout", data={"csrf_token": token})
    assert response.status_code == 503
    monkeypatch.undo()
    assert alice.get(PRIVATE).status_code == 200  # still signed in: nothing pretended otherwise
    page = alice.get("/account/activity").get_data(as_text=True)
    assert "Déconnexion" not in page
