"""Subscribing, confirming, managing and unsubscribing in Chromium, checked by axe-core."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from helpers import assert_accessible

pytestmark = pytest.mark.browser


def local(link: str, base: str) -> str:
    return re.sub(r"^http://127\.0\.0\.1:5000", base, link)


@pytest.mark.parametrize("language", ["fr", "en"])
def test_a_visitor_subscribes_and_leaves_in_the_browser(
    app: Any, live_server: Any, chromium: Any, axe: Any, smtp: Any, language: str
) -> None:
    app.config["SMTP_URL"] = smtp.url
    # A reader in the hoster's time zone (elsewhere, static/timezone.js keeps the zone in
    # a cookie so that times are shown in it).
    context = chromium.new_context(
        locale=language,
        extra_http_headers={"Accept-Language": language},
        timezone_id="Europe/Paris",
    )
    page = context.new_page()
    base = live_server.url
    try:
        page.goto(f"{base}/incidents?service=mail")
        assert context.cookies() == []
        page.click(".journal-subscribe button")
        assert_accessible(axe, page)
        assert page.locator("input[name=services][value=mail]").is_checked()
        page.click("button[type=submit].primary")  # no address
        expect(page.locator(".error-summary")).to_be_visible()
        assert_accessible(axe, page)
        page.fill("input[name=email]", "lea@example.org")
        page.click("button[type=submit].primary")
        assert_accessible(axe, page)

        [mail] = smtp.messages
        confirm = re.search(r"http://\S+/confirm/\S+", mail.get_content())
        assert confirm
        page.goto(local(confirm.group(0), base))
        assert_accessible(axe, page)
        page.click("button[type=submit]")
        assert page.locator("input[name=services][value=mail]").is_checked()
        assert_accessible(axe, page)
        page.click("button.danger")
        assert page.locator("h1").inner_text() in ("Vous êtes désabonné·e", "You are unsubscribed")
        assert_accessible(axe, page)
    finally:
        context.close()
