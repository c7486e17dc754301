"""The deletion pages in Chromium, in French and English, checked with axe-core."""

from __future__ import annotations

import pytest
from conftest import LiveServer
from deletion.deletion_support import FolderConnector
from playwright.sync_api import expect

from app.connectors.base import register_connector
from helpers import assert_accessible

pytestmark = pytest.mark.browser


@pytest.fixture
def deletion_server(make_app, tmp_path):
    app = make_app(DELETION_GRACE_DAYS=0)
    root = tmp_path / "files"
    root.mkdir()
    connector = FolderConnector("cloud", root)
    connector.fail_with = "storage server offline"
    register_connector(app, connector)
    server = LiveServer(app)
    yield server
    server.stop()


def sign_in(page, server, login: str) -> None:
    page.goto(server.url + "/login")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "demo")
    page.click("form:not(.language-switcher) button[type=submit]")
    page.wait_for_url(server.url + "/")


def switch_to(page, language: str) -> None:
    label = {"fr": "Français", "en": "English"}[language]
    page.click(f".language-switcher a[hreflang={language}]")
    page.wait_for_selector(f'html[lang="{language}"]')
    assert page.locator(".language-switcher a[aria-current=true]").inner_text() == label


@pytest.mark.one_engine
def test_user_deletion_pages_are_accessible_in_both_languages(deletion_server, browser_page, axe):
    page = browser_page
    sign_in(page, deletion_server, "alice")
    page.goto(deletion_server.url + "/account/deletion")
    assert page.locator("h1").inner_text() == "Supprimer mon compte"
    assert_accessible(axe, page)
    # A wrong confirmation: the error sits next to the field and in the summary.
    page.fill("input[name=confirm_login]", "bob")
    page.click("button.danger")
    expect(page.locator(".error-summary")).to_be_visible()
    assert_accessible(axe, page)
    page.goto(deletion_server.url + "/account/deletion")
    switch_to(page, "en")
    assert page.locator("h1").inner_text() == "Delete my account"
    assert_accessible(axe, page)
    page.fill("input[name=confirm_login]", "alice")
    page.click("button.danger")
    expect(page.locator(".deletion-timeline")).to_be_visible()
    assert "Cancel my deletion request" in page.content()
    assert_accessible(axe, page)
    switch_to(page, "fr")
    assert "Chronologie" in page.content()
    assert_accessible(axe, page)
    page.click("text=Annuler ma demande de suppression")
    assert "Votre demande de suppression est annulée" in page.content()


@pytest.mark.one_engine
def test_staff_deletion_pages_are_accessible_in_both_languages(
    deletion_server, browser_page, axe, chromium
):
    user = chromium.new_context()
    user_page = user.new_page()
    sign_in(user_page, deletion_server, "zoe")
    user_page.goto(deletion_server.url + "/account/deletion")
    user_page.fill("input[name=confirm_login]", "zoe")
    user_page.click("button.danger")
    user.close()

    page = browser_page
    sign_in(page, deletion_server, "camille")
    page.goto(deletion_server.url + "/staff/deletions")
    assert_accessible(axe, page)
    page.click("text=N° 1")
    assert_accessible(axe, page)  # approve and refuse forms
    page.click("text=Approuver et lancer les étapes automatiques")
    # The cloud step failed (retry button, and "done by hand" folded away), mail and pad
    # wait for staff (forms).
    assert "storage server offline" in page.content()
    assert page.locator("textarea:visible").count() == 2
    page.click("text=Fait à la main à la place")
    assert page.locator("textarea:visible").count() == 3
    assert_accessible(axe, page)
    switch_to(page, "en")
    assert "Retry" in page.content() and "Mark done" in page.content()
    assert_accessible(axe, page)
    page.goto(deletion_server.url + "/staff/deletions")
    assert_accessible(axe, page)
    page.goto(deletion_server.url + "/staff/deletions?show=completed")
    assert_accessible(axe, page)
