"""Sign-in flows against a real OpenLDAP slapd."""

from __future__ import annotations

import html
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update

import ldap_server as L
from app.accounts.models import Account
from app.db import session_scope, utcnow
from helpers import csrf_token, do_login


@pytest.mark.ldap
def test_directory_person_signs_in(ldap_client):
    response = do_login(ldap_client, "alice", L.PASSWORD)
    assert response.status_code == 302
    page = ldap_client.get("/").get_data(as_text=True)
    assert "Alice Martin" in page and "alice@example.org" in page


@pytest.mark.ldap
def test_person_with_escaped_comma_and_no_mail_signs_in(ldap_app):
    client = ldap_app.test_client()
    assert do_login(client, "jsmith", L.PASSWORD).status_code == 302
    assert "Smith, John" in client.get("/").get_data(as_text=True)
    client = ldap_app.test_client()
    assert do_login(client, "nomail", L.PASSWORD).status_code == 302
    assert "Aucune adresse électronique" in client.get("/").get_data(as_text=True)


@pytest.mark.ldap
@pytest.mark.parametrize("login", ["*", "alice*", "*)(uid=*))(|(uid=*", "alice)(|(objectClass=*)"])
def test_injection_logins_are_refused(ldap_client, login):
    response = do_login(ldap_client, login, L.PASSWORD)
    assert response.status_code == 422
    assert ldap_client.get("/account/activity").status_code == 302


@pytest.mark.ldap
def test_empty_password_does_not_sign_in_against_slapd(ldap_client):
    assert do_login(ldap_client, "alice", "").status_code == 422
    assert ldap_client.get("/account/activity").status_code == 302


@pytest.mark.ldap
@pytest.mark.parametrize(
    ("uid", "group", "membership"),
    [
        ("staffnames", "cn=staff", "member"),
        ("staffunique", "cn=unique-staff", "uniqueMember"),
        ("staffposix", "cn=posix-staff", "memberUid"),
        ("staffmemberof", "cn=memberof-staff", "memberOf"),
    ],
)
def test_staff_in_each_group_layout_reaches_staff_area(make_app, slapd, uid, group, membership):
    app = make_app(
        **slapd.settings(LDAP_STAFF_GROUP=f"{group},{L.GROUPS}", LDAP_STAFF_MEMBERSHIP=membership)
    )
    client = app.test_client()
    do_login(client, uid, L.PASSWORD)
    assert client.get("/staff/").status_code == 200
    other = app.test_client()
    do_login(other, "alice", L.PASSWORD)
    assert other.get("/staff/").status_code == 403


def _age_directory_check(app, uid: str, seconds: int) -> None:
    with session_scope(app) as session:
        session.execute(
            update(Account)
            .where(Account.uid == uid)
            .values(last_directory_check_at=utcnow() - timedelta(seconds=seconds))
        )


@pytest.mark.ldap
def test_staff_right_revoked_in_directory_takes_effect_after_recheck(make_app, slapd):
    dn = slapd.add_person("tempstaff")
    group = f"cn=staff,{L.GROUPS}"
    slapd.add_member(group, "member", dn)
    try:
        app = make_app(**slapd.settings(DIRECTORY_RECHECK_SECONDS=300))
        client = app.test_client()
        do_login(client, "tempstaff", L.PASSWORD)
        assert client.get("/staff/").status_code == 200
        copied_cookie = client.get_cookie("panel_session").value
        slapd.remove_member(group, "member", dn)
        assert client.get("/staff/").status_code == 200  # within the interval
        _age_directory_check(app, "tempstaff", 301)
        # Losing staff rights ends the session: sign in again, as a hosted user.
        signed_out = client.get("/staff/")
        assert signed_out.status_code == 302 and "/login" in signed_out.headers["Location"]
        thief = app.test_client()
        thief.set_cookie("panel_session", copied_cookie)
        assert thief.get("/account/activity").status_code == 302
        do_login(client, "tempstaff", L.PASSWORD)
        assert client.get("/staff/").status_code == 403
        with session_scope(app) as session:
            account = session.scalar(select(Account).where(Account.uid == "tempstaff"))
            assert account is not None and not account.is_staff
    finally:
        slapd.delete_entry(dn)


@pytest.mark.ldap
def test_person_deleted_from_directory_loses_access(make_app, slapd):
    dn = slapd.add_person("leaving")
    app = make_app(**slapd.settings())
    client = app.test_client()
    do_login(client, "leaving", L.PASSWORD)
    assert client.get("/account/activity").status_code == 200
    slapd.delete_entry(dn)
    _age_directory_check(app, "leaving", 301)
    response = client.get("/account/activity")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert "plus actif dans l'annuaire" in html.unescape(
        client.get("/login").get_data(as_text=True)
    )
    assert client.get("/account/activity").status_code == 302


@pytest.mark.ldap
def test_directory_down_gives_503_within_timeout_and_public_pages_stay_up(make_app):
    server = L.start_slapd()
    try:
        app = make_app(**server.settings(LDAP_TIMEOUT=2))
        client = app.test_client()
        assert do_login(client, "alice", L.PASSWORD).status_code == 302
        server.stop()
        # Logged-in users keep browsing until their recheck is due.
        assert client.get("/").status_code == 200
        _age_directory_check(app, "alice", 301)
        started = time.monotonic()
        response = client.get("/")
        assert response.status_code == 503
        assert time.monotonic() - started < 5
        assert "annuaire des comptes est injoignable" in response.get_data(as_text=True)
        assert app.test_client().get("/healthz").status_code == 503
        assert app.test_client().get("/healthz").json["checks"]["directory"] == "unavailable"
        # The login form still renders; signing in answers 503, not a crash.
        fresh = app.test_client()
        assert fresh.get("/login").status_code == 200
        token = csrf_token(fresh)
        answer = fresh.post("/login", data={"login": "bob", "password": "x", "csrf_token": token})
        assert answer.status_code == 503
        server.start()
        assert app.test_client().get("/healthz").status_code == 200
        assert do_login(app.test_client(), "bob", L.PASSWORD).status_code == 302
    finally:
        L.cleanup(server)


def test_login_page_links_to_the_password_reset_portal(make_app):
    client = make_app(PASSWORD_RESET_URL="https://sso.example.org/reset").test_client()
    page = html.unescape(client.get("/login").get_data(as_text=True))
    assert '<a href="https://sso.example.org/reset">Mot de passe oublié\u202f?</a>' in page
    assert "Mot de passe oublié" not in html.unescape(
        make_app().test_client().get("/login").get_data(as_text=True)
    )


def test_account_page_links_to_the_hosters_account_settings(make_app):
    client = make_app(ACCOUNT_SETTINGS_URL="https://sso.example.org/me").test_client()
    assert do_login(client, "alice", "demo").status_code == 302
    page = client.get("/").get_data(as_text=True)
    assert 'href="https://sso.example.org/me"' in page


def test_a_reset_address_that_is_not_a_web_address_is_refused(make_app):
    from config import ConfigError

    with pytest.raises(ConfigError, match="PANEL_PASSWORD_RESET_URL"):
        make_app(PASSWORD_RESET_URL="javascript:alert(1)")
