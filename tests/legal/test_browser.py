"""Chromium + axe-core on the public pages, the acceptance gate and the publish page, fr and en."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from helpers import assert_accessible, refuse_other_hosts

pytestmark = pytest.mark.browser

LOCALES = {"fr": "fr-FR", "en": "en-GB"}
ACCEPT_BUTTON = {"fr": "J'accepte", "en": "I accept"}


@pytest.fixture(params=["fr", "en"])
def language(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def page(chromium: Any, language: str) -> Iterator[Any]:
    """A fresh context speaking `language`; any request to another host fails the test."""
    context = chromium.new_context(locale=LOCALES[language])
    external = refuse_other_hosts(context)
    yield context.new_page()
    context.close()
    assert not external, f"pages asked other hosts: {external}"


def sign_in(page: Any, base: str, login: str, language: str) -> None:
    """Choose the language with the header buttons first: it outlives the sign-in, and
    wins over the language of the directory entry (the demo people prefer French)."""
    page.goto(f"{base}/login")
    page.click(f"a.lang-button[hreflang={language}]")
    page.wait_for_url(f"{base}/login")
    page.fill("#login", login)
    page.fill("#password", "demo")
    page.click("form.stack button[type=submit]")


@pytest.mark.one_engine
def test_public_pages_and_the_gate_are_accessible(page, live_server, axe, publish, language):
    base = live_server.url
    long_text = "\n\n".join(
        f"## Article {n}\n\nNous gardons vos données {n} mois. " + "Texte. " * 20
        for n in range(1, 6)
    )
    publish(fr=long_text, en=long_text.replace("Nous gardons vos données", "We keep data"))
    publish(fr=long_text.replace("3 mois", "trois mois"), summary="Précision.")
    publish("privacy", fr="## Données\n\nClause en français seulement.\n")

    for path in ("/legal/terms", "/legal/terms/history"):
        page.goto(base + path)
        assert page.locator("html").get_attribute("lang") == language
        assert_accessible(axe, page)
    page.goto(f"{base}/legal/terms/diff?from=1&to=2")
    assert page.locator(".diff ins").first.inner_text() == "trois"
    marker = page.evaluate(
        "getComputedStyle(document.querySelector('.diff ins'), '::before').content"
    )
    assert "+" in marker  # the change reads without colour
    assert_accessible(axe, page)

    sign_in(page, base, "alice", language)
    page.wait_for_url("**/legal/accept**")
    assert page.locator(".legal-text").count() == 2  # first time: both full texts
    assert_accessible(axe, page)
    page.get_by_role("button", name=ACCEPT_BUTTON[language]).click()
    page.wait_for_url(f"{base}/")
    expect(page.locator("#legal-overview-title")).to_be_visible()
    assert_accessible(axe, page)

    publish(fr=long_text.replace("5 mois", "cinq mois"), summary="Autre précision.")
    page.goto(f"{base}/")
    page.wait_for_url("**/legal/accept**")
    assert page.locator(".diff del").count() >= 1
    assert_accessible(axe, page)


@pytest.mark.one_engine
def test_the_staff_publish_page_and_its_preview_are_accessible(
    page, live_server, axe, publish, language
):
    base = live_server.url
    publish(fr="## Objet\n\nPremière version du texte.\n")
    sign_in(page, base, "camille", language)
    page.wait_for_url("**/legal/accept**")
    page.get_by_role("button", name=ACCEPT_BUTTON[language]).click()
    page.wait_for_url(f"{base}/")
    page.goto(f"{base}/staff/legal")
    assert_accessible(axe, page)
    page.goto(f"{base}/staff/legal/terms/publish")
    assert_accessible(axe, page)
    page.fill("#summary_fr", "Deuxième version.")
    page.fill("#body_fr", "## Objet\n\nDeuxième version du texte.\n")
    page.click("button[value=preview]")
    assert page.locator(".legal-preview .diff ins").first.inner_text() == "Deuxième"
    assert_accessible(axe, page)
    page.click("button[value=review]")
    assert page.locator(".legal-review .diff ins").first.inner_text() == "Deuxième"
    assert page.locator(".legal-review-count").inner_text().startswith("1 ")
    assert_accessible(axe, page)
    page.click(".legal-review button[value=publish]")
    page.wait_for_url("**/legal/terms/2")
    assert page.locator("h1").inner_text() in (
        "Conditions générales d'utilisation",
        "Terms of service",
    )
