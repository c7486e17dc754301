"""OpenID settings, the password form switch, `flask doctor`, and back-channel logout over both
session stores (keys made here; the provider itself runs in test_browser.py)."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import select

import config as panel_config
import ldap_server
from app.accounts.models import Account
from app.audit import AuditEvent
from app.db import utcnow
from app.oidc.client import LOGOUT_EVENT
from app.sessions.store import StoredSession
from helpers import csrf_token

KEY = RSAKey.generate_key(2048, parameters={"kid": "k-1"})
REDIS = "redis://127.0.0.1:6379/12"


def provider_settings(**more):
    # Nothing listens on port 9: the provider is never reached unless a test seeds it.
    return {"OIDC_ISSUER": "http://127.0.0.1:9/realms/x", "OIDC_CLIENT_ID": "panel", **more}


def test_an_issuer_without_a_client_id_stops_the_start(make_app):
    with pytest.raises(panel_config.ConfigError, match="PANEL_OIDC_CLIENT_ID"):
        make_app(OIDC_ISSUER="https://sso.example.org")


def test_an_unreadable_client_secret_file_stops_the_start(make_app, tmp_path):
    with pytest.raises(panel_config.ConfigError, match="does not exist"):
        make_app(**provider_settings(OIDC_CLIENT_SECRET_FILE=str(tmp_path / "missing")))


def test_with_a_provider_the_password_form_is_off_and_its_post_refused(make_app):
    client = make_app(**provider_settings()).test_client()
    page = client.get("/login").get_data(as_text=True)
    assert 'id="password"' not in page
    assert "/login/oidc/start" in page
    # (The page has no form, hence no CSRF token to send: the check is switched off here.)
    client = make_app(**provider_settings(WTF_CSRF_ENABLED=False)).test_client()
    answer = client.post("/login", data={"login": "alice", "password": "demo"})
    assert answer.status_code == 404


def test_the_password_form_can_stay_beside_the_provider(make_app):
    client = make_app(**provider_settings(PASSWORD_LOGIN=True)).test_client()
    page = client.get("/login").get_data(as_text=True)
    assert 'id="password"' in page and "/login/oidc/start" in page


def test_an_unreachable_provider_answers_a_translated_503_quickly(make_app):
    client = make_app(**provider_settings(PASSWORD_LOGIN=True)).test_client()
    started = time.monotonic()
    answer = client.get("/login/oidc/start", headers={"Accept-Language": "fr"})
    assert answer.status_code == 503
    assert time.monotonic() - started < 10
    page = answer.get_data(as_text=True)
    assert "ne répond pas pour le moment" in page
    assert 'href="/login"' in page


def test_a_provider_that_hangs_answers_503_after_the_timeout(make_app):
    """A provider that accepts the connection and never answers (overloaded, half down)."""
    import socket

    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(8)
    try:
        port = hung.getsockname()[1]
        app = make_app(
            OIDC_ISSUER=f"http://127.0.0.1:{port}", OIDC_CLIENT_ID="panel", OIDC_TIMEOUT=1
        )
        answer = app.test_client().get("/login/oidc/start")
        assert answer.status_code == 503
    finally:
        hung.close()


def test_doctor_prints_the_addresses_the_provider_needs(make_app):
    app = make_app(**provider_settings(BASE_URL="https://panel.example.org"))
    output = app.test_cli_runner().invoke(args=["doctor"]).output
    assert "redirect URI: https://panel.example.org/login/oidc/callback" in output
    assert (
        "back-channel logout URI: https://panel.example.org/login/oidc/backchannel-logout" in output
    )
    assert "post-logout redirect URI: https://panel.example.org/" in output
    assert "PROBLEM  openid connect: unreachable" in output


# Back-channel logout ------------------------------------------------------------------


def redis_reachable() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture(params=["database", "redis"])
def logout_app(request, make_app):
    store = "database"
    if request.param == "redis":
        if not redis_reachable():
            pytest.skip("no Redis on 127.0.0.1:6379")
        import redis

        redis.Redis.from_url(REDIS).flushdb()
        store = REDIS
    app = make_app(**provider_settings(SESSION_STORE=store))
    provider = app.extensions["panel_oidc"]
    provider._metadata = {"issuer": provider.settings.issuer, "jwks_uri": "http://127.0.0.1:9/"}
    provider._metadata_at = time.monotonic()
    provider._keys = KeySet([RSAKey.import_key(KEY.as_dict(private=False))])
    provider._keys_at = time.monotonic()
    return app


def open_session(app, uid: str, key: str, *, sid: str | None, sub: str | None) -> int:
    with app.extensions["panel_db"].sessions() as db:
        account = db.scalar(select(Account).where(Account.uid == uid))
        if account is None:
            account = Account(uid=uid, dn=f"uid={uid}", display_name=uid, created_at=utcnow())
            db.add(account)
            db.commit()
        account_id = account.id
    now = utcnow()
    app.extensions["panel_session_store"].save(
        StoredSession(
            key=key,
            account_id=account_id,
            data="{}",
            browser="Firefox",
            system="Linux",
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(hours=1),
            oidc_sid=sid,
            oidc_sub=sub,
        ),
        create=True,
    )
    return account_id


def logout_token(**changes) -> str:
    claims = {
        "iss": "http://127.0.0.1:9/realms/x",
        "aud": "panel",
        "iat": int(time.time()),
        "jti": "jti-1",
        "sub": "sub-alice",
        "sid": "sid-phone",
        "events": {LOGOUT_EVENT: {}},
        **changes,
    }
    return jwt.encode({"alg": "RS256", "kid": "k-1"}, {k: v for k, v in claims.items() if v}, KEY)


def open_keys(app, account_id: int) -> set[str]:
    return {s.key for s in app.extensions["panel_session_store"].for_account(account_id)}


def test_back_channel_logout_ends_the_session_of_that_sid_only_once(logout_app):
    alice = open_session(logout_app, "alice", "a" * 64, sid="sid-phone", sub="sub-alice")
    open_session(logout_app, "alice", "b" * 64, sid="sid-laptop", sub="sub-alice")
    open_session(logout_app, "alice", "c" * 64, sid=None, sub=None)  # a password sign-in
    client = logout_app.test_client()
    url = "/login/oidc/backchannel-logout"
    # No CSRF token: the signed logout token is the authority.
    answer = client.post(url, data={"logout_token": logout_token()})
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    assert open_keys(logout_app, alice) == {"b" * 64, "c" * 64}
    replayed = client.post(url, data={"logout_token": logout_token()})
    assert replayed.status_code == 400
    assert replayed.get_json()["error_description"] == "token already used"
    # Without a sid, every session of that subject ends (not the password sign-in).
    answer = client.post(url, data={"logout_token": logout_token(jti="jti-2", sid=None)})
    assert answer.status_code == 200
    assert open_keys(logout_app, alice) == {"c" * 64}
    with logout_app.extensions["panel_db"].sessions() as db:
        actions = [
            (e.action, json.loads(e.details).get("reason"), e.account_id)
            for e in db.scalars(select(AuditEvent).order_by(AuditEvent.id))
        ]
    assert actions == [
        ("oidc.backchannel_logout", None, alice),
        ("oidc.refused", "logout token replayed", None),
        ("oidc.backchannel_logout", None, alice),
    ]


def test_a_forged_logout_token_ends_nothing(logout_app):
    alice = open_session(logout_app, "alice", "a" * 64, sid="sid-phone", sub="sub-alice")
    forged = RSAKey.generate_key(2048, parameters={"kid": "k-1"})
    token = jwt.encode(
        {"alg": "RS256", "kid": "k-1"},
        {
            "iss": "http://127.0.0.1:9/realms/x",
            "aud": "panel",
            "iat": int(time.time()),
            "jti": "x",
            "sid": "sid-phone",
            "events": {LOGOUT_EVENT: {}},
        },
        forged,
    )
    client = logout_app.test_client()
    answer = client.post("/login/oidc/backchannel-logout", data={"logout_token": token})
    assert answer.status_code == 400
    assert client.post("/login/oidc/backchannel-logout", data={"logout_token": "a.b"}).status_code
    assert open_keys(logout_app, alice) == {"a" * 64}


@pytest.mark.ldap
def test_the_sessions_page_says_which_sessions_came_through_the_provider(make_app, slapd):
    app = make_app(**slapd.settings(), **provider_settings(PASSWORD_LOGIN=True))
    client = app.test_client()
    token = csrf_token(client)
    client.post(
        "/login", data={"login": "alice", "password": ldap_server.PASSWORD, "csrf_token": token}
    )
    with app.extensions["panel_db"].sessions() as db:
        alice = db.scalar(select(Account).where(Account.uid == "alice"))
        assert alice is not None
    store = app.extensions["panel_session_store"]
    (mine,) = store.for_account(alice.id)
    assert mine.oidc_sub is None
    open_session(app, "alice", "d" * 64, sid="sid-1", sub="sub-alice")
    page = client.get("/account/sessions").get_data(as_text=True)
    assert page.count("Connecté·e avec 127.0.0.1") == 1


def _started(app) -> tuple[object, str]:
    """A sign-in started at a provider whose discovery document is already read."""
    provider = app.extensions["panel_oidc"]
    provider._metadata = {
        "issuer": provider.settings.issuer,
        "authorization_endpoint": "http://127.0.0.1:9/realms/x/auth",
        "token_endpoint": "http://127.0.0.1:9/realms/x/token",
        "jwks_uri": "http://127.0.0.1:9/realms/x/jwks",
    }
    provider._metadata_at = time.monotonic()
    client = app.test_client()
    answer = client.get("/login/oidc/start")
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert location.startswith("http://127.0.0.1:9/realms/x/auth?")
    assert "code_challenge_method=S256" in location and "nonce=" in location
    return client, location.split("state=")[1].split("&")[0]


def _refusals(app) -> list[str]:
    with app.extensions["panel_db"].sessions() as db:
        return [
            json.loads(e.details)["reason"]
            for e in db.scalars(select(AuditEvent).where(AuditEvent.action == "oidc.refused"))
        ]


def test_a_sign_in_cancelled_at_the_provider_says_so_and_is_audited(make_app):
    app = make_app(**provider_settings())
    client, state = _started(app)
    answer = client.get(f"/login/oidc/callback?state={state}&error=access_denied")
    assert answer.status_code == 403
    assert _refusals(app) == ["provider answered access_denied"]


def test_an_answer_naming_another_issuer_is_refused_before_the_code_is_used(make_app):
    """RFC 9207: the mix-up attack, where another provider's answer comes back here."""
    app = make_app(**provider_settings())
    client, state = _started(app)
    answer = client.get(
        f"/login/oidc/callback?state={state}&code=abc&iss=https%3A%2F%2Fevil.example.org"
    )
    assert answer.status_code == 400
    assert _refusals(app) == ["issuer in the answer differs"]
    # Used once: the same state is not waiting any more.
    assert client.get(f"/login/oidc/callback?state={state}&code=abc").status_code == 400
    assert _refusals(app)[-1] == "unknown or used state"
