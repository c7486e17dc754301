"""The closing notice and the federation pages in Chromium: phone and desktop, axe, Nu."""

from __future__ import annotations

import json
import os
import shutil
import subprocess  # nosec B404: runs the checker the test suite ships with
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import LiveServer, missing_tool
from federation_server import Federation, serve_federation
from flask import Flask
from test_phone import DESKTOP, PHONE, check, sign_in
from test_valid_html import vnu_jar

from helpers import assert_accessible

pytestmark = pytest.mark.browser

# Where to look at the pages by eye (PANEL_SCREENSHOTS=/some/folder), off by default.
SHOTS = os.environ.get("PANEL_SCREENSHOTS")


@pytest.fixture
def test_federation(tmp_path: Path) -> Iterator[Federation]:
    yield from serve_federation(tmp_path / "federation")


@pytest.fixture
def closing_server(
    app_with_profile: Callable[..., Flask],
    demo_data: dict[str, Any],
    tmp_path: Path,
    test_federation: Federation,
) -> Iterator[LiveServer]:
    cloud = next(s for s in demo_data["services"] if s["slug"] == "cloud")
    cloud["closing"] = {
        "date": date.today() + timedelta(days=40),
        "message": {
            "fr": "Le cloud ferme faute de bénévoles pour le maintenir.",
            "en": "The cloud closes: we lack volunteers to maintain it.",
        },
    }
    app = app_with_profile(
        demo_data,
        FEDERATION_URL=test_federation.url,
        FEDERATION_CACHE_FILE=str(tmp_path / "federation.json"),
    )
    result = app.test_cli_runner().invoke(args=["chatonsinfos", "federation"])
    assert result.exit_code == 0, result.output
    server = LiveServer(app)
    yield server
    server.stop()


PAGES = {
    None: ["/", "/closing", "/services"],
    "alice": ["/", "/closing", "/account/export"],
    "camille": ["/staff/federation"],
}


@pytest.mark.parametrize("language", ["fr", "en"])
def test_closing_and_federation_pages_fit_phones_and_pass_axe_and_nu(
    closing_server: LiveServer, chromium: Any, axe: Any, language: str, tmp_path: Path
) -> None:
    problems: list[str] = []
    html: dict[str, str] = {}
    for login, urls in PAGES.items():
        context = chromium.new_context(
            viewport=PHONE, locale=language, extra_http_headers={"Accept-Language": language}
        )
        page = context.new_page()
        try:
            page.goto(f"{closing_server.url}/language/{language}")
            if login is not None:
                problems += sign_in(page, closing_server.url, login)
            for url in urls:
                response = page.goto(f"{closing_server.url}{url}")
                assert response is not None and response.status == 200, url
                label = f"{language} {login or 'visitor'} {url}"
                problems += check(page, label)
                for viewport in (PHONE, DESKTOP):
                    page.set_viewport_size(viewport)
                    assert_accessible(axe, page)
                    if SHOTS:
                        name = f"{label.replace('/', '_').replace(' ', '-')}-{viewport['width']}"
                        page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)
                html[label] = response.text()
                if url != "/staff/federation":
                    assert page.locator(".closing-notice").count() == 1, label
        finally:
            context.close()
    assert not problems, "\n".join(problems)
    assert "Alpha Cloud" in html[f"{language} visitor /closing"]
    _valid_html(html, tmp_path)


def _valid_html(pages: dict[str, str], folder: Path) -> None:
    java = shutil.which("java")
    if java is None:
        missing_tool("java is not installed: apt-get install default-jre-headless")
    names = {}
    for number, (label, text) in enumerate(sorted(pages.items())):
        path = folder / f"page{number:02d}.html"
        path.write_text(text, encoding="utf-8")
        names[path.name] = label
    result = subprocess.run(  # nosec B603: fixed arguments
        [java, "-jar", str(vnu_jar()), "--errors-only", "--format", "json"]
        + [str(folder / name) for name in names],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    messages = json.loads(result.stderr or result.stdout or '{"messages": []}')["messages"]
    errors = [
        f"{names.get(m.get('url', '').rsplit('/', 1)[-1])}: {m['message']}"
        for m in messages
        if m.get("type") == "error"
    ]
    assert not errors, "\n".join(errors)
