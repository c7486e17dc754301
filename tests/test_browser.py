"""Real Chromium + axe-core on the foundation pages, in French and in English."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from helpers import assert_accessible, refuse_other_hosts

pytestmark = pytest.mark.browser


def sign_in(page, base: str, login: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#login", login)
    page.fill("#password", "demo")
    page.click("button[type=submit].primary")
    page.wait_for_load_state()


@pytest.mark.one_engine
@pytest.mark.parametrize("language", ["fr", "en"])
def test_foundation_pages_have_no_accessibility_violations(live_server, chromium, axe, language):
    context = chromium.new_context(
        locale=language, extra_http_headers={"Accept-Language": language}
    )
    external = refuse_other_hosts(context)
    page = context.new_page()
    base = live_server.url
    try:
        page.goto(f"{base}/login")
        # The explicit choice wins over the account's directory language after sign-in.
        page.click(f"a.lang-button[hreflang={language}]")
        assert page.locator("html").get_attribute("lang") == language
        assert_accessible(axe, page)

        # A failed login shows the error summary, also accessible.
        page.fill("#login", "alice")
        page.fill("#password", "wrong")
        page.click("button[type=submit].primary")
        expect(page.locator(".error-summary")).to_be_visible()
        assert_accessible(axe, page)

        page.goto(f"{base}/no-such-page")
        assert_accessible(axe, page)

        sign_in(page, base, "camille")
        assert page.url == f"{base}/"
        assert page.locator("h1").inner_text() in ("Mon compte", "My account")
        assert_accessible(axe, page)
        for path in ("/staff/", "/account/activity", "/account/confirm", "/account/sessions"):
            page.goto(f"{base}{path}")
            assert_accessible(axe, page)
        page.click("text=" + ("Se déconnecter" if language == "fr" else "Sign out"))
        sign_in(page, base, "alice")
        page.goto(f"{base}/staff/")
        assert page.locator("h1").inner_text() in ("Accès refusé", "Not allowed")
        assert_accessible(axe, page)
    finally:
        context.close()
    assert not external, external


def test_language_switcher_works_without_javascript(live_server, chromium):
    context = chromium.new_context(
        java_script_enabled=False, locale="fr-FR", extra_http_headers={"Accept-Language": "fr"}
    )
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/login")
        assert page.locator("h1").inner_text() == "Se connecter"
        page.click("a.lang-button[hreflang=en]")
        assert page.locator("h1").inner_text() == "Sign in"
        assert page.locator("html").get_attribute("lang") == "en"
    finally:
        context.close()


def test_the_browser_tests_see_a_page_that_asks_another_host(live_server, chromium):
    """The browser tests' guard: a request to another host is refused and named, the
    panel's own requests go through."""
    context = chromium.new_context()
    external = refuse_other_hosts(context)
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/login")
        assert page.locator("h1").inner_text() in ("Se connecter", "Sign in")
        assert external == []
        # The panel's pages may not load from other hosts (its CSP): a blank page may.
        blank = context.new_page()
        blank.set_content('<img src="http://192.0.2.7/tracker.png" alt="">')
        blank.wait_for_load_state()
    finally:
        context.close()
    assert external == ["http://192.0.2.7/tracker.png"]
