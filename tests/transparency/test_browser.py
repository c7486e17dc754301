"""Every hosting and transparency page in Chromium, French and English, checked with axe-core."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from helpers import assert_accessible, refuse_other_hosts

pytestmark = pytest.mark.browser

HEADINGS = {
    "fr": {
        "/hosting": "Qui héberge vos données",
        "/services": "Services",
        "/charter": "Auto-évaluation de la charte",
        "/transparency": "Registre de transparence",
        "/stats": "Statistiques d'utilisation",
        "/staff/transparency": "Registre de transparence",
        "/staff/transparency/requests/new": "Inscrire une demande",
        "/staff/transparency/canary": "Publier une déclaration de canari",
    },
    "en": {
        "/hosting": "Who hosts your data",
        "/services": "Services",
        "/charter": "Charter self-assessment",
        "/transparency": "Transparency register",
        "/stats": "Usage statistics",
        "/staff/transparency": "Transparency register",
        "/staff/transparency/requests/new": "Record a request",
        "/staff/transparency/canary": "Publish a canary statement",
    },
}
PUBLIC = ("/hosting", "/services", "/charter", "/transparency", "/stats")


@pytest.fixture
def page_in(chromium: Any) -> Iterator[Callable[[str], Any]]:
    """A page in a fresh browser context with that locale; requests to other hosts fail."""
    contexts: list[Any] = []
    refused: list[list[str]] = []

    def open_page(language: str) -> Any:
        context = chromium.new_context(locale={"fr": "fr-FR", "en": "en-GB"}[language])
        refused.append(refuse_other_hosts(context))
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()
    external = [url for urls in refused for url in urls]
    assert not external, f"pages asked other hosts: {external}"


def check(page: Any, axe: Any, url: str, heading: str) -> None:
    response = page.goto(url)
    assert response is not None and response.status == 200, url
    assert heading in page.locator("h1").inner_text(), url
    assert_accessible(axe, page)


@pytest.mark.one_engine
@pytest.mark.parametrize("language", ["fr", "en"])
def test_every_page_is_accessible(
    language: str,
    live_server: Any,
    page_in: Callable[[str], Any],
    axe: Any,
    make_request: Callable[..., Any],
    make_canary: Callable[..., Any],
    signed_text: str,
    today: date,
) -> None:
    item = make_request()
    make_request(response="pending", answered_on=None, response_summary=None)
    make_canary(signed_text=signed_text, signing_key="ABCD 1234 EF56 7890")
    headings = HEADINGS[language]
    page = page_in(language)
    base = live_server.url
    for path in PUBLIC:
        check(page, axe, base + path, headings[path])
    assert page.locator("html").get_attribute("lang") == language

    # The canary's instructions are behind a disclosure widget that works without JavaScript.
    page.goto(base + "/transparency")
    page.locator("main details summary").click()
    assert "gpg --verify canary.txt" in page.locator("main details").inner_text()

    page.goto(base + "/login")
    page.fill("#login", "camille")
    page.fill("#password", "demo")
    page.click("form.stack button[type=submit]")
    page.locator(f"a.lang-button[hreflang={language}]").click()
    for path in (
        "/staff/transparency",
        "/staff/transparency/requests/new",
        "/staff/transparency/canary",
    ):
        check(page, axe, base + path, headings[path])
    check(
        page,
        axe,
        f"{base}/staff/transparency/requests/{item.id}",
        {"fr": "Modifier la demande", "en": "Edit request"}[language],
    )

    # A form sent with mistakes: the errors are announced and tied to their fields.
    page.goto(base + "/staff/transparency/requests/new")
    page.fill("#legal_basis", "")
    page.select_option("#response", "complied")
    page.click("form.narrow-form button[type=submit]")
    expect(page.locator(".error-summary")).to_be_visible()
    assert page.locator("#legal_basis").get_attribute("aria-invalid") == "true"
    assert_accessible(axe, page)

    # Publishing a stale-proof canary through the form shows it on the public page.
    page.goto(base + "/staff/transparency/canary")
    page.fill("#statement", "Nothing to report.")
    page.fill("#next_update_by", (today + timedelta(days=30)).isoformat())
    page.click("form.narrow-form button[type=submit]")
    page.goto(base + "/transparency")
    assert "Nothing to report." in page.locator("main").inner_text()
