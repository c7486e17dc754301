"""The export pages in a real browser: accessibility in French and English, the download."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from helpers import assert_accessible


def sign_in(page: Any, url: str, uid: str) -> None:
    page.goto(url + "/login")
    page.fill("#login", uid)
    page.fill("#password", "demo")
    page.click("main button[type=submit]")
    page.wait_for_url(url + "/")


@pytest.mark.browser
def test_export_pages_are_accessible_in_french_and_english_and_download_works(
    live_server: Any,
    browser_page: Any,
    chromium: Any,
    axe: Any,
    write_file: Any,
    tmp_path: Path,
) -> None:
    write_file("alice", "Documents/lettre.odt", b"PK fake odt")
    page = browser_page
    sign_in(page, live_server.url, "alice")
    for language, heading in (
        ("fr", "Ce que vous détenez sur moi"),
        ("en", "What we hold about me"),
    ):
        if language == "en":
            page.click("a.lang-button[hreflang=en]")
        page.goto(live_server.url + "/account/data")
        assert page.get_attribute("html", "lang") == language
        assert page.inner_text("h1") == heading
        assert_accessible(axe, page)
        page.goto(live_server.url + "/account/export")
        assert "services/cloud/" in page.inner_text("main")
        assert_accessible(axe, page)

    with page.expect_download() as started:
        page.click("main form button[type=submit]")
    download = started.value
    assert download.suggested_filename.startswith("chatons-du-demo-alice-")
    assert download.suggested_filename.endswith(".zip")
    with zipfile.ZipFile(download.path()) as archive:
        assert archive.testzip() is None
        assert "services/cloud/Documents/lettre.odt" in archive.namelist()
        assert archive.read("README.txt").decode().startswith("Your data at")
    assert "Your download has started" in page.inner_text(".export-download-status")

    # The guide, opened from the extracted archive as the person would: readable on a
    # phone, accessible, and its links open files that are there.
    with zipfile.ZipFile(download.path()) as archive:
        archive.extractall(tmp_path / "export")
    readme = (tmp_path / "export" / "README.html").as_uri()
    context = chromium.new_context(viewport={"width": 390, "height": 800})
    try:
        local = context.new_page()
        local.goto(readme)
        assert local.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert_accessible(axe, local)
        for href in local.eval_on_selector_all("main a", "links => links.map(a => a.href)"):
            if not href.endswith("ERRORS.txt"):
                assert Path(unquote(href.removeprefix("file://"))).exists(), href
    finally:
        context.close()
