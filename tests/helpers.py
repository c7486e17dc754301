"""Helpers the tests import: CSRF tokens, form login, accessibility assertion."""

from __future__ import annotations

import os
import re
import socket
import time
from typing import Any

import pytest
from flask.testing import FlaskClient

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing_tool(message: str) -> None:
    """The one way a test skips for want of a tool, a server or a free port: loudly on a
    laptop, and as a failure in CI, where nothing may pass unnoticed for want of it."""
    if IN_CI:
        pytest.fail(f"{message} (CI=true: installing it is .ci/run's job)", pytrace=False)
    pytest.skip(message)


SAMPLE_VALUES = {"int": "1", "string": "x", "path": "x", "default": "x"}


def concrete_url(rule: Any, samples: dict[str, str] = SAMPLE_VALUES) -> str:
    """A URL for a url_map rule, with sample values for its variables."""
    url = str(rule.rule)
    for converter, name in re.findall(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>", url):
        pattern = re.compile(r"<(?:\w+(?:\([^)]*\))?:)?" + re.escape(name) + ">")
        url = pattern.sub(samples.get(converter or "default", "1"), url)
    return url


CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    page = client.get(path).get_data(as_text=True)
    match = CSRF_RE.search(page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def do_login(client: FlaskClient, login: str, password: str, **extra: str) -> Any:
    token = csrf_token(client)
    return client.post(
        "/login", data={"login": login, "password": password, "csrf_token": token, **extra}
    )


# axe-core's WCAG 2.1 A and AA rules. Only violations are reported in full: without
# resultTypes, axe also lists every element that passed each rule, which the browser
# serialises and hands to Python on every run (the tests read the violations only).
AXE_OPTIONS = {
    "runOnly": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"],
    "resultTypes": ["violations"],
}


def assert_accessible(axe: Any, page: Any) -> None:
    results = axe.run(page, options=AXE_OPTIONS)
    assert results.violations_count == 0, results.generate_report()


def refuse_other_hosts(context: Any, *allowed: str) -> list[str]:
    """Make a browser context abort every request to another origin than `allowed` (the
    panel's, http://127.0.0.1 by default); the list it returns names them, for the test to
    assert empty. The pattern is handed to Playwright's driver, so the pages' own requests
    never come to Python: a handler called for every request cost a round trip each."""
    prefixes = (*(allowed or ("http://127.0.0.1",)), "data:", "about:")
    other = re.compile("^(?!" + "|".join(re.escape(prefix) for prefix in prefixes) + ")")
    refused: list[str] = []

    def refuse(route: Any) -> None:
        refused.append(route.request.url)
        route.abort()

    context.route(other, refuse)
    return refused


def wait_port(port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


# The demo profile reaches a Dovecot and a Radicale on this machine (its `mail` connector and
# its `calendars` service). Feature tests must not depend on whether one runs here, so they
# use the demo without those; tests/test_demo_profile.py runs the demo as it is.
_LOCAL_SERVICE = re.compile(r'\[\[services\]\]\nslug = "calendars"\n.*?(?=\[\[services\]\])', re.S)
_LOCAL_CONNECTOR = re.compile(r'\[services\.connector\]\ntype = "imap"\n(?:[^\n\[][^\n]*\n)*')


def profile_without_local_servers() -> str:
    """The demo profile's text without what needs servers on this machine."""
    from app.profile.loading import DEMO_FILE

    text = DEMO_FILE.read_text(encoding="utf-8")
    stripped = _LOCAL_CONNECTOR.sub("", _LOCAL_SERVICE.sub("", text), count=1)
    assert 'type = "imap"' not in stripped and 'slug = "calendars"' not in stripped
    return stripped


def english_connector_words() -> list[str]:
    """The English wording of every deletion outcome the connectors record (their msgids
    without the values): a page or a receipt in French must hold none of it."""
    from app.deletion.outcomes import connector_messages

    words = []
    for msgid in connector_messages():
        for chunk in re.split(r"%\(\w+\)[sd]", msgid):
            chunk = chunk.strip(" .,;:()`")
            if len(chunk.split()) >= 2 and len(chunk) >= 10:
                words.append(chunk)
    return words


def scratch_databases(tmp_path: Any, prefix: str) -> Any:
    """A fresh SQLite file, then (with PANEL_TEST_DATABASE_URL) a fresh PostgreSQL database
    dropped afterwards: for migration tests that run the chain on both."""
    import uuid

    from sqlalchemy import create_engine, make_url, text

    yield f"sqlite:///{tmp_path / f'{prefix}.sqlite3'}"
    pg = os.environ.get("PANEL_TEST_DATABASE_URL")
    if pg:
        name = f"panel_{prefix}_{uuid.uuid4().hex[:8]}"
        admin = create_engine(pg, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(pg).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
