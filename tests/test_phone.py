"""Every page fits a 390 px and a 320 px phone, and a 1280 px screen, without sideways scrolling."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from playwright.sync_api import expect
from site_pages import LOGINS, ROLES, page_urls, seed

from helpers import AXE_OPTIONS, assert_accessible

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
SMALL_PHONE = {"width": 320, "height": 640}
DESKTOP = {"width": 1280, "height": 900}
# Pages whose tables turn into cards on a phone: axe-core checks that layout too.
STACKED = {
    "/transparency",
    "/legal/terms/history",
    "/account/data",
    "/staff/incidents",
    "/staff/imports",
}

# The page's width, and the deepest elements that stick out on the right, to name the culprit.
OVERFLOW = """() => {
  const width = window.innerWidth;
  const scroll = document.documentElement.scrollWidth;
  const culprits = [];
  if (scroll <= width) return {scroll, width, culprits};
  const clipped = (el) => {
    for (let up = el.parentElement; up; up = up.parentElement) {
      if (getComputedStyle(up).overflowX !== 'visible') return true;
    }
    return false;
  };
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.width && box.right > width + 1 && !clipped(el)) {
      const inside = [...el.querySelectorAll('*')].some(
        (child) => child.getBoundingClientRect().right > width + 1);
      if (!inside) {
        const name = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
          + (el.className && typeof el.className === 'string'
             ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
        culprits.push(`${name} (right edge ${Math.round(box.right)} px)`);
      }
    }
  }
  return {scroll, width, culprits: culprits.slice(0, 5)};
}"""


def sign_in(page: Any, base: str, login: str) -> list[str]:
    """Sign in with the form; the acceptance gate comes first (checked, then accepted)."""
    page.goto(f"{base}/login")
    page.fill("#login", login)
    page.fill("#password", "demo")
    page.click("button[type=submit].primary")
    page.wait_for_load_state()
    problems = []
    if "/legal/accept" in page.url:
        problems += check(page, "/legal/accept (pending)")
        page.click("form[action$='/legal/accept'] button[type=submit]")
        page.wait_for_load_state()
    return problems


def check(page: Any, label: str, axe: Any = None, violations: list[str] | None = None) -> list[str]:
    """Overflow at each width; with `axe`, its findings at 1280 px go to `violations`."""
    problems = []
    for viewport in (PHONE, SMALL_PHONE, DESKTOP):
        page.set_viewport_size(viewport)
        found = page.evaluate(OVERFLOW)
        if found["scroll"] > found["width"]:
            problems.append(
                f"{label} at {viewport['width']} px is {found['scroll']} px wide: "
                + ", ".join(found["culprits"])
            )
    if axe is not None and violations is not None:
        # The page's own scripts do not depend on the width: laid out again at 1280 px, it
        # is the page a desktop browser opens.
        results = axe.run(page, options=AXE_OPTIONS)
        if results.violations_count:
            violations.append(f"{label}:\n{results.generate_report()}")
    page.set_viewport_size(PHONE)
    return problems


def every_page(
    app: Any,
    live_server: Any,
    chromium: Any,
    language: str,
    viewport: dict[str, int],
    sign_in_problems: list[str],
    axe: Any,
) -> Iterator[tuple[str, str, Any]]:
    """Open every route-walker page of every role in one language: (role, url, page).
    axe-core checks each of them, so it comes with every page instead of after it."""
    seeded = seed(app)
    base = live_server.url
    for role in ROLES:
        context = chromium.new_context(
            viewport=viewport, locale=language, extra_http_headers={"Accept-Language": language}
        )
        context.add_init_script(axe.axe_script)
        page = context.new_page()
        try:
            page.goto(f"{base}/language/{language}")
            login = LOGINS[role]
            if login is not None:
                sign_in_problems += sign_in(page, base, login)
                page.set_viewport_size(viewport)
            for url in page_urls(app, seeded, role):
                page.goto(f"{base}{url}")
                yield role, url, page
        finally:
            context.close()


@dataclass
class Walk:
    """What one walk over every page of every role in one language found."""

    visited: int = 0
    wrong_language: list[str] = field(default_factory=list)
    # Pages wider than a 390 px or 320 px phone or a 1280 px screen (sign-in gate included).
    too_wide: list[str] = field(default_factory=list)
    # axe-core (WCAG 2.1 A and AA) at 1280 px on every page, and at 390 px on STACKED ones.
    desktop_violations: list[str] = field(default_factory=list)
    phone_violations: list[str] = field(default_factory=list)


# One walk per language serves both page-wide tests below: opening 70-odd pages for four roles
# is most of their cost, so each page is opened once and measured at every width, then checked
# by axe-core. Each test still asserts on its own part; run alone, a test walks by itself.
WALKS: dict[str, Walk] = {}


def walk(app: Any, live_server: Any, chromium: Any, axe: Any, language: str) -> Walk:
    if language in WALKS:
        return WALKS[language]
    found = Walk()
    pages = every_page(app, live_server, chromium, language, PHONE, found.too_wide, axe)
    for role, url, page in pages:
        if page.locator("html").get_attribute("lang") != language:
            found.wrong_language.append(f"{role} {url}")
        found.too_wide += check(page, f"{role} {url}", axe, found.desktop_violations)
        if url in STACKED and role != "visitor":
            results = axe.run(page, options=AXE_OPTIONS)
            if results.violations_count:
                found.phone_violations.append(f"{role} {url}:\n{results.generate_report()}")
        found.visited += 1
    WALKS[language] = found
    return found


@pytest.mark.one_engine
@pytest.mark.parametrize("language", ["fr", "en"])
def test_every_page_fits_a_phone_without_sideways_scrolling(
    app, live_server, chromium, axe, language
):
    found = walk(app, live_server, chromium, axe, language)
    assert found.visited > 60, found.visited
    assert not found.wrong_language, found.wrong_language
    problems = found.too_wide
    assert not problems, f"{len(problems)} pages scroll sideways:\n" + "\n".join(problems)
    stacked = found.phone_violations
    assert not stacked, "tables as cards, at 390 px:\n" + "\n".join(stacked)


def test_the_header_navigation_folds_away_on_a_phone_without_javascript(live_server, chromium):
    context = chromium.new_context(viewport=PHONE, java_script_enabled=False, locale="fr")
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/hosting")
        nav = page.locator("nav.site-nav")
        services = nav.get_by_role("link", name="Services")
        expect(services).to_be_hidden()
        header = page.locator("header.site-header").bounding_box()
        assert header is not None and header["height"] < 120, header
        nav.locator("summary").click()
        expect(services).to_be_visible()
        services.click()
        page.wait_for_url("**/services")

        # The layout follows the new width a moment later: expect() waits for it.
        page.set_viewport_size(DESKTOP)
        nav = page.locator("nav.site-nav")
        expect(nav.locator("summary")).to_be_hidden()
        expect(nav.get_by_role("link", name="Incidents")).to_be_visible()
    finally:
        context.close()


@pytest.mark.one_engine
@pytest.mark.parametrize("language", ["fr", "en"])
def test_every_page_has_no_accessibility_violations(app, live_server, chromium, axe, language):
    """axe-core (WCAG 2.1 A and AA) on every page of every role, at desktop width."""
    found = walk(app, live_server, chromium, axe, language)
    assert found.visited > 60, found.visited
    problems = found.desktop_violations
    assert not problems, f"{len(problems)} pages with violations:\n" + "\n".join(problems)


@pytest.mark.parametrize("language", ["fr", "en"])
def test_a_visitor_writes_to_the_team_from_the_home_page_on_a_phone(
    app, live_server, chromium, axe, language
):
    app.config["SUPPORT_CONTACT_FORM"] = True
    context = chromium.new_context(
        viewport=PHONE, locale=language, extra_http_headers={"Accept-Language": language}
    )
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/language/{language}")
        page.goto(f"{live_server.url}/")
        problems = check(page, "/ (link to the contact form)")
        page.click("a[href$='/support/contact']")
        page.wait_for_load_state()
        problems += check(page, "/support/contact")
        # The honeypot field is out of sight (robots fill it in, people never see it).
        box = page.locator("#contact-website").bounding_box()
        assert box is not None and box["x"] + box["width"] <= 0, box
        page.fill("#contact-email", "not an address")
        page.fill("#contact-subject", "Can I join?")
        page.fill("#contact-body", "I would like an account for my association.")
        page.click("form.contact-form button[type=submit]")
        page.wait_for_load_state()
        # The error summary comes first, and the message is still there.
        expect(page.locator(".error-summary")).to_be_visible()
        assert page.input_value("#contact-body").startswith("I would like")
        problems += check(page, "/support/contact (bad address)")
        assert_accessible(axe, page)
        page.fill("#contact-email", "zoe@example.net")
        page.click("form.contact-form button[type=submit]")
        page.wait_for_load_state()
        assert page.url.endswith("/support/contact/sent#main")
        assert "zoe@example.net" in page.locator("main").inner_text()
        problems += check(page, "/support/contact/sent")
        assert_accessible(axe, page)
    finally:
        context.close()
    assert not problems, "\n".join(problems)
