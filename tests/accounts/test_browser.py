"""The visitors' home and support page in Chromium, French and English, phone and desktop."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from helpers import assert_accessible

pytestmark = pytest.mark.browser

WIDTHS = (390, 1280)


@pytest.mark.parametrize("language", ["fr", "en"])
def test_a_visitor_finds_the_team_without_an_account(live_server, chromium, axe, language):
    context = chromium.new_context(
        locale=language, extra_http_headers={"Accept-Language": language}
    )
    page = context.new_page()
    base = live_server.url
    try:
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(f"{base}/")
            assert page.locator("html").get_attribute("lang") == language
            assert page.locator("h1").inner_text() == "Chatons du Demo"
            status = page.locator(".status-line").inner_text()
            assert status in (
                "Tous les services fonctionnent normalement.",
                "All services operate normally.",
            )
            expect(page.locator('a[href="mailto:contact@demo.chatons.org"]')).to_be_visible()
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            assert_accessible(axe, page)

            page.goto(f"{base}/support")
            assert page.locator("#password").count() == 0
            expect(page.locator('a[href="mailto:contact@demo.chatons.org"]')).to_be_visible()
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            assert_accessible(axe, page)
    finally:
        context.close()


def test_an_english_reader_gets_the_hoster_s_texts_in_english(live_server, chromium):
    context = chromium.new_context(locale="en", extra_http_headers={"Accept-Language": "en"})
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/hosting")
        main = page.locator("main").inner_text()
        assert "Our two volunteer administrators" in main
        assert "Nos deux administrateurs" not in main
        assert "HOSTEDSERVER" not in main
    finally:
        context.close()


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_account_page_says_what_waits_and_cancels_a_deletion(
    app, live_server, chromium, axe, language
):
    from deletion.deletion_support import open_request

    context = chromium.new_context(
        locale=language, extra_http_headers={"Accept-Language": language}
    )
    page = context.new_page()
    base = live_server.url
    try:
        page.goto(f"{base}/login")
        page.click(f"a.lang-button[hreflang={language}]")
        page.fill("#login", "alice")
        page.fill("#password", "demo")
        page.click("button[type=submit].primary")
        page.wait_for_load_state()
        assert page.locator("#waiting-title").count() == 0  # nothing waits: nothing shown
        open_request(app, "alice")
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(f"{base}/")
            expect(page.locator("#waiting-title")).to_be_visible()
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            assert_accessible(axe, page)
        cancel = "Annuler ma demande de suppression" if language == "fr" else "Cancel my deletion"
        page.click(f"button:has-text('{cancel}')")
        page.wait_for_load_state()
        page.goto(f"{base}/")
        assert page.locator("#waiting-title").count() == 0
    finally:
        context.close()
