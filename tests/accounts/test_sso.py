"""Opt-in SSO header mode behind a trusted reverse proxy."""

from __future__ import annotations

import time

SSO = {"REMOTE_USER_HEADER": "Remote-User", "REMOTE_USER_PROXIES": ["127.0.0.1"]}


def test_header_from_trusted_proxy_signs_in_as_that_person(make_app):
    client = make_app(**SSO).test_client()
    page = client.get("/", headers={"Remote-User": "zoe"})
    assert page.status_code == 200
    assert "Zoé Lefèvre-Nguyễn" in page.get_data(as_text=True)


def test_staff_from_the_group_as_usual(make_app):
    client = make_app(**SSO).test_client()
    assert client.get("/staff/", headers={"Remote-User": "camille"}).status_code == 200
    other = make_app(**SSO).test_client()
    assert other.get("/staff/", headers={"Remote-User": "alice"}).status_code == 403


def test_header_from_an_untrusted_address_is_ignored(make_app):
    client = make_app(**SSO).test_client()
    response = client.get(
        "/account/activity",
        headers={"Remote-User": "camille"},
        environ_base={"REMOTE_ADDR": "203.0.113.9"},
    )
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_header_is_ignored_when_the_mode_is_off(make_app):
    client = make_app().test_client()
    assert client.get("/account/activity", headers={"Remote-User": "camille"}).status_code == 302


def test_unknown_person_in_header_stays_anonymous(make_app):
    client = make_app(**SSO).test_client()
    assert client.get("/account/activity", headers={"Remote-User": "nobody"}).status_code == 302


def test_forwarded_for_cannot_fake_the_trusted_peer(make_app):
    app = make_app(**SSO, TRUSTED_PROXIES=1)
    response = app.test_client().get(
        "/account/activity",
        headers={"Remote-User": "camille", "X-Forwarded-For": "127.0.0.1"},
        environ_base={"REMOTE_ADDR": "203.0.113.9"},
    )
    assert response.status_code == 302


def test_reauth_goes_to_the_sso_portal_when_configured(make_app):
    app = make_app(
        **SSO,
        SSO_REAUTH_URL="https://sso.example.org/reauth?url={next}",
        REMOTE_USER_AUTH_TIME_HEADER="Auth-Time",
    )
    client = app.test_client()
    headers = {"Remote-User": "alice"}
    with client.session_transaction() as session:
        session.clear()
    response = client.get("/account/confirm?next=/account/activity", headers=headers)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("https://sso.example.org/reauth?url=http")
    # Back from the portal with a fresh auth time: re-authentication counts.
    client.get("/", headers={**headers, "Auth-Time": str(int(time.time()))})
    with client.session_transaction() as session:
        assert "reauth_at" in session


def test_prefix_from_proxy_is_used_in_links_and_redirects(make_app):
    app = make_app(TRUSTED_PROXIES=1)
    client = app.test_client()
    response = client.get("/account/activity", headers={"X-Forwarded-Prefix": "/panel"})
    assert response.headers["Location"] == "/panel/login?next=/panel/account/activity"
    page = client.get("/login", headers={"X-Forwarded-Prefix": "/panel"}).get_data(as_text=True)
    assert 'href="/panel/static/panel.css' in page and 'action="/panel/login"' in page


def test_header_in_another_case_is_the_same_person_signed_in_once(make_app, db_session):
    from sqlalchemy import func, select

    from app.audit import AuditEvent

    app = make_app(**SSO, REMOTE_USER_AUTH_TIME_HEADER="Auth-Time")
    client = app.test_client()
    headers = {"Remote-User": "Alice"}
    assert client.get("/", headers=headers).status_code == 200
    cookie = client.get_cookie("panel_session").value
    # Back from the portal with a fresh authentication: it must stick for the export.
    client.get("/", headers={**headers, "Auth-Time": str(int(time.time()))})
    for _ in range(3):
        assert client.get("/account/activity", headers=headers).status_code == 200
    assert client.get_cookie("panel_session").value == cookie  # the same session throughout
    assert client.get("/account/export", headers=headers).status_code == 200
    sign_ins = db_session.scalar(select(func.count()).where(AuditEvent.action == "login.succeeded"))
    assert sign_ins == 1


def test_sso_reauth_url_carries_the_prefix_once(make_app):
    app = make_app(
        **SSO,
        BASE_URL="https://example.org/panel",
        SSO_REAUTH_URL="https://sso.example.org/reauth?url={next}",
    )
    client = app.test_client()
    headers = {"Remote-User": "alice"}
    response = client.get(
        "/account/confirm?next=/panel/account/export",
        headers=headers,
        base_url="http://localhost/panel",
    )
    assert response.status_code == 302
    assert response.headers["Location"] == (
        "https://sso.example.org/reauth?url=https%3A%2F%2Fexample.org%2Fpanel%2Faccount%2Fexport"
    )


def test_behind_a_unix_socket_the_proxy_header_signs_in(make_app):
    """gunicorn on a unix socket leaves REMOTE_ADDR empty; nginx still sets the header."""
    app = make_app(REMOTE_USER_HEADER="Remote-User", TRUSTED_PROXIES=1)
    client = app.test_client()
    page = client.get(
        "/",
        headers={"Remote-User": "zoe", "X-Forwarded-For": "203.0.113.9"},
        environ_base={"REMOTE_ADDR": ""},
    )
    assert page.status_code == 200
    assert "Zoé Lefèvre-Nguyễn" in page.get_data(as_text=True)


def test_a_unix_socket_is_not_trusted_when_the_list_leaves_it_out(make_app):
    app = make_app(**SSO, TRUSTED_PROXIES=1)
    response = app.test_client().get(
        "/account/activity",
        headers={"Remote-User": "camille", "X-Forwarded-For": "127.0.0.1"},
        environ_base={"REMOTE_ADDR": ""},
    )
    assert response.status_code == 302
