"""Signing in through a real OpenID provider in Chromium: sign-in, re-authentication, sign-out
at the provider, and every refusal leaving the person signed out with a clear page."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from flask import Flask
from playwright.sync_api import expect
from sqlalchemy import select

import ldap_server
import oidc_server
from app.accounts.models import Account
from app.audit import AuditEvent
from app.oidc.client import OpenIDProvider
from app.sessions.models import SessionRecord
from helpers import assert_accessible

pytestmark = [pytest.mark.browser, pytest.mark.ldap]

BOTH = pytest.mark.parametrize("provider_setup", ["rs256", "es256"], indirect=True)
START = "a[href*='/login/oidc/start']"


def sign_in(page: Any, panel: str, login: str, password: str = ldap_server.PASSWORD) -> Any:
    """From the panel's login page, through the provider's form, back to the panel."""
    page.goto(f"{panel}/login")
    page.click(START)
    return fill_provider_form(page, login, password)


def fill_provider_form(page: Any, login: str, password: str = ldap_server.PASSWORD) -> Any:
    page.fill("#login", login)
    page.fill("#password", password)
    with page.expect_response(lambda r: "/login/oidc/callback" in r.url) as callback:
        page.click("button[type=submit]")
    page.wait_for_load_state()
    return callback.value


def events(app: Flask, action: str) -> list[AuditEvent]:
    with app.extensions["panel_db"].sessions() as db:
        return list(db.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def sessions_of(app: Flask, uid: str) -> list[SessionRecord]:
    with app.extensions["panel_db"].sessions() as db:
        account = db.scalar(select(Account).where(Account.uid == uid))
        if account is None:
            return []
        return list(db.scalars(select(SessionRecord).where(SessionRecord.account_id == account.id)))


def assert_signed_out(page: Any, panel: str) -> None:
    page.goto(f"{panel}/account/activity")
    assert "/login" in page.url, page.url


@BOTH
def test_a_person_signs_in_at_the_provider_and_lands_on_her_account(
    app: Flask,
    oidc: oidc_server.Provider,
    live_server: Any,
    browser_page: Any,
    axe: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    page, panel = browser_page, live_server.url
    userinfo_calls: list[str] = []
    read_userinfo = OpenIDProvider._userinfo

    def counted(self: OpenIDProvider, *args: Any) -> Any:
        userinfo_calls.append(args[1])
        return read_userinfo(self, *args)

    monkeypatch.setattr(OpenIDProvider, "_userinfo", counted)
    page.goto(f"{panel}/login")
    # With a provider, the panel's own password form is off by default.
    assert page.locator("#password").count() == 0
    response = sign_in(page, panel, "staffnames")
    assert response.status == 302
    assert page.url == f"{panel}/"
    assert page.locator("h1").count() == 1
    assert "Staff staffnames" in page.content()
    # Staff rights come from the directory's group, not from the provider.
    assert page.goto(f"{panel}/staff").status == 200
    page.goto(f"{panel}/account/sessions")
    assert page.get_by_text("Test SSO").count() == 1
    assert_accessible(axe, page)
    (signed_in,) = events(app, "login.succeeded")
    assert json.loads(signed_in.details) == {"method": "oidc", "provider": "Test SSO"}
    (record,) = sessions_of(app, "staffnames")
    assert record.oidc_sub == "opaque-staffnames-4f1c"
    assert record.oidc_sid
    # The login claim came from the ID token (rs256) or, lacking there, from userinfo (es256).
    assert len(userinfo_calls) == (0 if oidc.setup.claims_in_id_token else 1)


def test_a_person_without_staff_rights_gets_none_from_the_provider(
    app: Flask, oidc: oidc_server.Provider, live_server: Any, browser_page: Any
) -> None:
    page, panel = browser_page, live_server.url
    sign_in(page, panel, "alice")
    assert page.url == f"{panel}/"
    assert page.goto(f"{panel}/staff").status == 403


def test_someone_the_directory_does_not_know_gets_a_clear_page(
    app: Flask, oidc: oidc_server.Provider, live_server: Any, browser_page: Any, axe: Any
) -> None:
    page, panel = browser_page, live_server.url
    response = sign_in(page, panel, "stranger")
    assert response.status == 403
    assert "not a hosted account here" in page.content()
    assert_accessible(axe, page)
    assert_signed_out(page, panel)
    (refused,) = events(app, "oidc.refused")
    assert json.loads(refused.details)["reason"] == "not a hosted account"
    assert refused.login == "stranger"


@pytest.mark.parametrize("provider_setup", ["es256"], indirect=True)
def test_she_confirms_at_the_provider_before_her_export(
    app: Flask, oidc: oidc_server.Provider, live_server: Any, browser_page: Any
) -> None:
    page, panel = browser_page, live_server.url
    sign_in(page, panel, "alice")
    # The sign-in at the provider counts as recent: the export needs nothing more.
    page.goto(f"{panel}/account/export")
    with page.expect_download() as download:
        page.click("form.export-download button[type=submit]")
    assert download.value.suggested_filename.endswith(".zip")

    # Later on, the provider is asked again (max_age=0) and its auth_time is checked.
    app.config["REAUTH_SECONDS"] = 0
    page.goto(f"{panel}/account/export")
    page.click("form.export-download button[type=submit]")
    page.wait_for_selector("#password")
    assert page.url.startswith(oidc.origin), page.url
    app.config["REAUTH_SECONDS"] = 600
    fill_provider_form(page, "alice")
    assert page.url == f"{panel}/account/export"
    with page.expect_download() as download:
        page.click("form.export-download button[type=submit]")
    assert download.value.suggested_filename.endswith(".zip")
    assert len(events(app, "oidc.reauth_succeeded")) == 1

    # A provider that does not ask again (an old auth_time) is refused, not skipped.
    app.config["REAUTH_SECONDS"] = 0
    oidc.mischief("stale-auth-time")
    page.goto(f"{panel}/account/export")
    page.click("form.export-download button[type=submit]")
    page.wait_for_selector("#password")
    app.config["REAUTH_SECONDS"] = 600
    response = fill_provider_form(page, "alice")
    assert response.status == 403
    # In her language (French: the directory gives alice none, the hoster's default).
    assert "ne vous a pas redemandé votre mot de passe" in page.content()
    assert len(events(app, "oidc.reauth_succeeded")) == 1
    (refused,) = events(app, "oidc.reauth_refused")
    assert "auth_time" in json.loads(refused.details)["reason"]


@BOTH
def test_signing_out_at_the_provider_ends_her_panel_session(
    app: Flask,
    oidc: oidc_server.Provider,
    live_server: Any,
    browser_page: Any,
    logout_posts: list[bytes],
) -> None:
    page, panel = browser_page, live_server.url
    sign_in(page, panel, "alice")
    assert len(sessions_of(app, "alice")) == 1
    page.goto(f"{oidc.issuer}/session/end")
    page.click("button[value=yes]")
    asked_at = time.monotonic()
    deadline = asked_at + 10
    while sessions_of(app, "alice") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sessions_of(app, "alice") == []
    print(f"back-channel logout: session gone {time.monotonic() - asked_at:.3f} s after the click")
    assert len(logout_posts) == 1
    assert_signed_out(page, panel)
    (ended,) = events(app, "oidc.backchannel_logout")
    assert json.loads(ended.details)["count"] == 1

    # The same logout token again is refused: its jti was already acted on.
    replay = requests.post(
        f"{panel}/login/oidc/backchannel-logout",
        data=logout_posts[0],
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert replay.status_code == 400
    assert replay.json()["error_description"] == "token already used"
    assert [json.loads(e.details)["reason"] for e in events(app, "oidc.refused")] == [
        "logout token replayed"
    ]


def test_signing_out_of_the_panel_ends_the_provider_session_too(
    app: Flask, oidc: oidc_server.Provider, live_server: Any, browser_page: Any
) -> None:
    page, panel = browser_page, live_server.url
    sign_in(page, panel, "alice")
    page.click("form[action$='/logout'] button[type=submit]")
    # RP-initiated logout: the provider asks, with the panel's id_token_hint, then comes back.
    page.wait_for_selector("button[value=yes]")
    assert page.url.startswith(f"{oidc.issuer}/session/end")
    page.click("button[value=yes]")
    page.wait_for_url(f"{panel}/")
    assert sessions_of(app, "alice") == []
    # The provider forgot her too: signing in again asks for the password.
    page.goto(f"{panel}/login")
    page.click(START)
    page.wait_for_selector("#password")


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("tamper", "signature"),
        ("expired", "expired"),
        ("audience", "claim aud"),
        ("wrong-issuer", "claim iss"),
        ("none", "signature"),
        ("hs256", "signature"),
    ],
)
def test_an_untrustworthy_id_token_leaves_her_signed_out(
    app: Flask,
    oidc: oidc_server.Provider,
    live_server: Any,
    browser_page: Any,
    mode: str,
    reason: str,
) -> None:
    page, panel = browser_page, live_server.url
    oidc.mischief(mode)
    response = sign_in(page, panel, "alice")
    assert response.status == 400
    assert "could not be trusted" in page.content()
    assert_signed_out(page, panel)
    assert sessions_of(app, "alice") == []
    (refused,) = events(app, "oidc.refused")
    assert json.loads(refused.details)["reason"].startswith(reason)
    assert events(app, "login.succeeded") == []


def test_a_replayed_authorization_code_is_refused(
    app: Flask, oidc: oidc_server.Provider, live_server: Any, browser_page: Any
) -> None:
    page, panel = browser_page, live_server.url
    seen: list[str] = []
    page.on("request", lambda request: seen.append(request.url))
    sign_in(page, panel, "alice")
    (callback,) = [url for url in seen if "/login/oidc/callback" in url]
    first_code = parse_qs(urlsplit(callback).query)["code"][0]
    # Someone who captured that code tries it again, in a sign-in of their own (their own
    # browser session and state): the provider refuses a code used once.
    page.context.clear_cookies()
    page.goto(f"{panel}/login")
    page.click(START)
    page.wait_for_selector("#password")
    (authorization,) = [url for url in seen if "state=" in url and "/auth?" in url][-1:]
    state = parse_qs(urlsplit(authorization).query)["state"][0]
    answer = urlencode({"code": first_code, "state": state, "iss": oidc.issuer})
    response = page.goto(f"{panel}/login/oidc/callback?{answer}")
    assert response.status == 400
    assert "could not be trusted" in page.content()
    assert_signed_out(page, panel)
    (refused,) = events(app, "oidc.refused")
    assert json.loads(refused.details)["reason"] == "code refused (invalid_grant)"
    # The same answer a second time finds no sign-in waiting for it (state used once).
    assert page.goto(f"{panel}/login/oidc/callback?{answer}").status == 400
    assert json.loads(events(app, "oidc.refused")[-1].details)["reason"] == (
        "unknown or used state"
    )


def test_a_key_rotation_at_the_provider_needs_no_restart(
    app: Flask, oidc: oidc_server.Provider, live_server: Any, chromium: Any
) -> None:
    panel = live_server.url
    context = chromium.new_context()
    sign_in(context.new_page(), panel, "alice")
    context.close()
    before = {key.kid for key in app.extensions["panel_oidc"].key_set().keys}
    oidc.restart()  # a new signing key, the old one gone
    context = chromium.new_context()
    page = context.new_page()
    sign_in(page, panel, "alice")
    assert page.url == f"{panel}/"
    after = {key.kid for key in app.extensions["panel_oidc"].key_set().keys}
    assert before.isdisjoint(after)
    context.close()
    assert len(events(app, "login.succeeded")) == 2


@pytest.mark.parametrize("password_login", [True])
def test_with_the_provider_stopped_the_password_form_is_still_offered(
    app: Flask, oidc: oidc_server.Provider, live_server: Any, browser_page: Any, axe: Any
) -> None:
    page, panel = browser_page, live_server.url
    oidc.stop()
    page.goto(f"{panel}/login")
    started = time.monotonic()
    with page.expect_navigation() as navigation:
        page.click(START)
    assert navigation.value.status == 503
    print(f"provider stopped: 503 page after {time.monotonic() - started:.3f} s")
    assert "does not answer right now" in page.content()
    assert_accessible(axe, page)
    page.click("a[href$='/login']")
    page.fill("#login", "alice")
    page.fill("#password", ldap_server.PASSWORD)
    page.click("form[action$='/login'] button[type=submit]")
    page.wait_for_url(f"{panel}/")
    assert page.get_by_text("Alice Martin").count() >= 1


@pytest.mark.parametrize("password_login", [True, False])
@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_login_page_offers_the_provider_on_a_phone_and_a_desktop(
    app: Flask,
    oidc: oidc_server.Provider,
    live_server: Any,
    chromium: Any,
    axe: Any,
    password_login: bool,
    language: str,
) -> None:
    context = chromium.new_context(
        locale=language, extra_http_headers={"Accept-Language": language}
    )
    page = context.new_page()
    try:
        for width in (390, 1280):
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(f"{live_server.url}/login")
            expect(page.locator(START)).to_be_visible()
            assert page.locator("#password").count() == (1 if password_login else 0)
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            assert_accessible(axe, page)
    finally:
        context.close()
