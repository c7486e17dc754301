"""Every support page in Chromium, French and English, checked with axe-core."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from support.ticket_helpers import PNG

from app.db import session_scope
from app.support.models import CannedReply
from helpers import assert_accessible

pytestmark = pytest.mark.browser


def sign_in(page, base: str, uid: str, language: str) -> None:
    page.goto(f"{base}/login")
    if language == "en":
        page.click("a.lang-button[hreflang=en]")
    page.fill("#login", uid)
    page.fill("#password", "demo")
    page.click("form.stack button[type=submit]")
    page.wait_for_url(f"{base}/")


def check(page, axe, url: str, language: str, heading: str | None = None) -> None:
    page.goto(url)
    assert page.get_attribute("html", "lang") == language
    if heading:
        assert heading in page.inner_text("h1")
    assert_accessible(axe, page)


@pytest.mark.one_engine
@pytest.mark.parametrize("language", ["fr", "en"])
def test_every_support_page_is_accessible(
    app, live_server, browser_page, axe, make_ticket, staff_reply, tmp_path, language
):
    app.extensions["panel_ongoing_incidents"] = lambda session, service: (
        [(3, "Synchronisation lente", "/incidents/3")] if service == "cloud" else []
    )
    existing = make_ticket(files=[("capture.png", PNG)])
    staff_reply(existing, "Internal: check quota", internal=True)
    staff_reply(existing, "Could you send the error message?")
    with session_scope(app) as session:
        session.add(CannedReply(title="Reset", body="Use the reset link."))
    base = live_server.url
    page = browser_page
    english = language == "en"

    sign_in(page, base, "alice", language)
    check(page, axe, f"{base}/support", language, "Support")
    check(page, axe, f"{base}/support/new", language)
    page.check("#service-cloud")
    page.click("main button[type=submit]")
    assert "/support/new?service=cloud" in page.url
    assert "Synchronisation lente" in page.inner_text("main")
    assert_accessible(axe, page)

    # Bad input first: errors beside the fields must be accessible too.
    page.click("main form[enctype] button[type=submit]")
    expect(page.locator("#subject-error")).to_be_visible()
    assert_accessible(axe, page)

    page.fill("#subject", "Photos missing" if english else "Photos manquantes")
    page.select_option("#category", "problem")
    page.fill("#body", "Since yesterday." if english else "Depuis hier.")
    shot = tmp_path / "shot.png"
    shot.write_bytes(PNG)
    page.set_input_files("#attachments", str(shot))
    page.click("main form[enctype] button[type=submit]")
    page.wait_for_selector(".flash-success")
    assert "shot.png" in page.inner_text("main")
    assert_accessible(axe, page)
    page.goto(f"{base}/support/{existing}")  # same template as above: no second axe run
    assert "Could you send the error message?" in page.inner_text("main")
    assert "Internal: check quota" not in page.inner_text("main")

    page.click("form.inline-form button")  # sign out
    sign_in(page, base, "camille", language)
    check(page, axe, f"{base}/staff/tickets?q=quota&state=all", language)
    assert "Photos" not in page.inner_text("main")
    check(page, axe, f"{base}/staff/tickets/{existing}", language)
    assert "Internal: check quota" in page.inner_text("main")
    check(page, axe, f"{base}/staff/tickets/replies", language)
    check(page, axe, f"{base}/staff/tickets/replies/1", language)


def test_a_saved_reply_goes_in_at_the_cursor_with_javascript_and_without_it(
    app, live_server, chromium, browser_page, make_ticket
):
    ticket = make_ticket("bob")
    with session_scope(app) as session:
        session.add(CannedReply(title="Reset", body="Bonjour {name}.", body_en="Hello {name}."))
    base = live_server.url
    page = browser_page
    sign_in(page, base, "camille", "fr")
    page.goto(f"{base}/staff/tickets/{ticket}")
    page.fill("#body", "Start. End.")
    page.focus("#body")
    page.evaluate("document.getElementById('body').setSelectionRange(7, 7)")
    page.select_option("#saved_reply", label="Reset (en anglais)")
    page.click("button[value=insert]")
    assert page.input_value("#body") == "Start. Hello Bob Smith.End."
    assert page.url.endswith(f"/staff/tickets/{ticket}")  # no reload, nothing sent
    assert "Rien n'est envoyé" in page.inner_text("#saved-reply-status")
    page.evaluate("document.getElementById('body').setSelectionRange(999, 999)")
    page.select_option("#saved_reply", label="Reset (en anglais)")
    page.click("button[value=insert]")  # at the end: after a blank line
    assert page.input_value("#body") == "Start. Hello Bob Smith.End.\n\nHello Bob Smith."

    context = chromium.new_context(java_script_enabled=False)
    try:
        plain = context.new_page()
        sign_in(plain, base, "camille", "fr")
        plain.goto(f"{base}/staff/tickets/{ticket}")
        plain.fill("#body", "Mon brouillon.")
        plain.select_option("#saved_reply", label="Reset (en anglais)")
        plain.click("button[value=insert]")
        assert plain.input_value("#body") == "Mon brouillon.\n\nHello Bob Smith."
        assert "Rien n'a été envoyé" in plain.inner_text("main")
    finally:
        context.close()
