"""Shared fixtures: app per test on SQLite (or PostgreSQL), real slapd, SMTP, browser."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jinja2
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session
from werkzeug.routing import Rule

import ldap_server
import work_units
from app import create_app
from app.cli import upgrade_database
from app.connectors import registry as connector_registry
from app.db import Base
from helpers import (
    csrf_token,
    do_login,
    missing_tool,
    profile_without_local_servers,
    refuse_other_hosts,
)


def _worker_database(url: str | None) -> str | None:
    """Under pytest-xdist, each worker empties and refills tables of a database of its own
    (the given one's name + the worker's, created here and dropped at the end)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not url or not worker:
        return url
    if os.environ.get("PANEL_TEST_WORKER_DATABASE_URL"):
        # This module imported a second time (`from conftest import …`): created already.
        return os.environ["PANEL_TEST_WORKER_DATABASE_URL"]
    base = make_url(url)
    name = f"{base.database}_{worker}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    own = base.set(database=name).render_as_string(hide_password=False)
    # Tests that read the variable (migrations make databases next to it) use it too.
    os.environ["PANEL_TEST_DATABASE_URL"] = own
    os.environ["PANEL_TEST_WORKER_DATABASE_URL"] = own
    os.environ["PANEL_TEST_SHARED_DATABASE_URL"] = url
    return own


# `make test` runs the suite twice: PANEL_TEST_ENGINE=sqlite keeps the first pass on SQLite
# even though PANEL_TEST_DATABASE_URL is set (migration tests still use it beside SQLite).
SHARED_PG_URL = (
    None
    if os.environ.get("PANEL_TEST_ENGINE") == "sqlite"
    else os.environ.get("PANEL_TEST_SHARED_DATABASE_URL")
    or os.environ.get("PANEL_TEST_DATABASE_URL")
)
PG_URL = _worker_database(SHARED_PG_URL)


def pytest_sessionfinish(session: pytest.Session) -> None:
    if PG_URL and PG_URL != SHARED_PG_URL:
        admin = create_engine(str(SHARED_PG_URL), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(
                text(f'DROP DATABASE IF EXISTS "{make_url(PG_URL).database}" WITH (FORCE)')
            )
        admin.dispose()


# Debian's Chromium headless shell (package chromium-headless-shell) is Chromium's engine
# without the browser around it: the same layout, scripts and axe-core findings for a third
# less CPU (the phone walk: 26 s instead of 39 s, browser and test together), and the browser
# tests are most of the suite's CPU. PANEL_TEST_CHROMIUM=/usr/bin/chromium runs them in the
# full browser.
HEADLESS_SHELL = "/usr/lib/chromium/chromium-headless-shell"
CHROMIUM = os.environ.get("PANEL_TEST_CHROMIUM") or (
    HEADLESS_SHELL if os.path.exists(HEADLESS_SHELL) else "/usr/bin/chromium"
)
# Real directories in every layout a CHATON runs (Debian OpenLDAP, YunoHost, LLDAP, 389 DS).
pytest_plugins = ["ldap_fixtures"]


# The fixtures that start a real directory server (here and in ldap_fixtures.py).
DIRECTORY_FIXTURES = frozenset(
    {"slapd", "debian_slapd", "yunohost_slapd", "lldap_slapd", "ds389", "directory_server"}
)


# `make test`'s second pass, on PostgreSQL, sets this: it then runs only the tests that take
# the pass's database (`database_url`, through `app`, `client`, `make_app`…). The others give
# the same answer on both passes, so running them twice proves nothing twice: they touch no
# database, a SQLite file of their own, or PostgreSQL in both passes already (the migration
# testers, the HTTPS deployment). Nor does it run the tests marked `one_engine`: they take the
# database, but what they assert is the browser's reading of pages whose HTML the pass checks
# otherwise: the phone and axe-core walk (every page it opens, the Nu checker's walk renders
# from the pass's database, in both languages and for every role), and each feature's
# accessibility walk in Chromium (axe-core on its pages in the states a person meets; the
# requests behind those states, and the pages' content, are the feature's view tests, which
# this pass runs). Unset, as by a developer's `pytest`, everything runs.
ENGINE_PASS_ONLY = os.environ.get("PANEL_TEST_ENGINE_PASS_ONLY") == "true"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test that starts a directory says so with the `ldap` marker (`-m "not ldap"`
    must leave no slapd behind); one that does not, fails the collection by name."""
    if ENGINE_PASS_ONLY and PG_URL:
        takes = [
            item
            for item in items
            if "database_url" in getattr(item, "fixturenames", ())
            and item.get_closest_marker("one_engine") is None
        ]
        if len(takes) < len(items):
            kept = set(takes)
            config.hook.pytest_deselected(items=[item for item in items if item not in kept])
            items[:] = takes
    unmarked = [
        item.nodeid
        for item in items
        if DIRECTORY_FIXTURES & set(getattr(item, "fixturenames", ()))
        and item.get_closest_marker("ldap") is None
    ]
    if unmarked:
        raise pytest.UsageError(
            "these tests start a directory without @pytest.mark.ldap: " + ", ".join(unmarked)
        )


# pytest-xdist ----------------------------------------------------------------------------

# `--dist loadfile` hands whole files to workers in the order they were collected, and a
# worker takes its next file while it still runs two tests of the last one. A file of a few
# tests that take minutes, handed out late, would then finish alone while the other workers
# wait, or hold a file queued behind it: every unit goes out longest first, by the seconds it
# took in CI (tests/durations.json, refreshed with tests/work_units.py), so the last ones are
# short. A unit is a file, or a file's tests for one parameter value (SPLIT_BY_PARAMETER in
# tests/work_units.py).


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class LongestFirst(LoadFileScheduling):
        ordered = False

        def _split_scope(self, nodeid: str) -> str:
            return work_units.work_unit(nodeid)

        def _assign_work_unit(self, node: Any) -> None:
            if not self.ordered:
                self.ordered = True
                engine = "postgresql" if PG_URL else "sqlite"
                for unit in reversed(work_units.longest_first(list(self.workqueue), engine)):
                    self.workqueue.move_to_end(unit, last=False)
            super()._assign_work_unit(node)

    return LongestFirst(config, log)


# Database --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Migrate once; each test gets a copy (SQLite) or emptied tables (PostgreSQL)."""
    if PG_URL:
        engine = create_engine(PG_URL)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        upgrade_database(PG_URL)
        return PG_URL
    path = tmp_path_factory.mktemp("db") / "template.sqlite3"
    upgrade_database(f"sqlite:///{path}")
    return str(path)


# One connection per test process empties the database before each test.
_emptying: dict[str, Engine] = {}


# The tables a test wrote to, and the sequences it drew from. A table has pages on disk only
# once a row went into it (even one rolled back), and TRUNCATE gives it a new, empty file.
_WRITTEN = text(
    "SELECT c.relname FROM pg_class c"
    " WHERE c.relnamespace = 'public'::regnamespace AND c.relname = ANY(:tables)"
    " AND pg_relation_size(c.oid) > 0"
)
_RESTART_SEQUENCES = text(
    "SELECT setval(format('%I.%I', schemaname, sequencename)::regclass, start_value, false)"
    " FROM pg_sequences WHERE schemaname = 'public' AND last_value IS NOT NULL"
)


def _empty_postgres_tables(url: str) -> None:
    """TRUNCATE the tables the last test wrote to and restart the sequences, over a
    connection kept for the test process (a new engine and connection for each test cost
    more than the statements).

    The database is then as after a TRUNCATE of every table, which took 60-250 ms even on
    empty tables (each gets a new file); most tests write to a few. DELETE in one round trip
    was tried: it leaves the tables' pages with free space, so rows come back in another order
    than they were written, and a test reading rows without ORDER BY failed in CI."""
    engine = _emptying.get(url)
    if engine is None:
        engine = _emptying[url] = create_engine(url, pool_pre_ping=True)
    tables = [t.name for t in Base.metadata.sorted_tables]
    with engine.begin() as conn:
        written = conn.scalars(_WRITTEN, {"tables": tables}).all()
        if written:
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in written) + " CASCADE"))
        conn.execute(_RESTART_SEQUENCES)


@pytest.fixture
def database_url(database_template: str, tmp_path: Path) -> Iterator[str]:
    if PG_URL:
        _empty_postgres_tables(PG_URL)
        yield PG_URL
        return
    target = tmp_path / "panel.sqlite3"
    shutil.copyfile(database_template, target)
    yield f"sqlite:///{target}"


# Application -----------------------------------------------------------------------------

# Each test builds its own app. Two parts of that were the same work every time, and are
# done once per test process instead (the panel builds one app per process, so this is only
# the suite's concern; tests/test_urls.py checks that each app still builds its own URLs):
# - Werkzeug compiles two URL builders per rule from a syntax tree (about 18 ms of the 53 ms
#   an app took). A builder is given its rule when called and depends only on the rule's
#   text, domain and defaults, so one per such key serves every app.
# - The installed connector plugins are read from the package metadata (entry points). A test
#   that fakes plugins still replaces `registry.entry_points` with its own.
_url_builders: dict[tuple[Any, ...], Callable[..., Any]] = {}
_compile_url_builder = Rule._compile_builder


def _shared_url_builder(rule: Rule, append_unknown: bool = True) -> Callable[..., Any]:
    defaults = repr(sorted((rule.defaults or {}).items()))
    key = (rule.rule, rule.subdomain, rule.host, tuple(rule._trace), defaults, append_unknown)
    builder = _url_builders.get(key)
    if builder is None:
        builder = _url_builders[key] = _compile_url_builder(rule, append_unknown)
    return builder


Rule._compile_builder = _shared_url_builder  # type: ignore[method-assign]
_installed_plugins = tuple(
    connector_registry.entry_points(group=connector_registry.ENTRY_POINT_GROUP)
)
connector_registry.entry_points = lambda group: (  # type: ignore[assignment]
    _installed_plugins if group == connector_registry.ENTRY_POINT_GROUP else ()
)


@pytest.fixture(scope="session")
def feature_profile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo profile without its connectors to servers on this machine (see helpers)."""
    path = tmp_path_factory.mktemp("profile") / "hoster.toml"
    path.write_text(profile_without_local_servers(), encoding="utf-8")
    return path


class SharedTemplateCode(jinja2.BytecodeCache):
    """Compiled templates shared by the apps one test process builds.

    Each test builds its own app, hence its own Jinja environment, and compiling the same
    templates again in each was half the CPU of a short test (about 150 ms for a sign-in and
    three pages). Every app comes from `create_app` with the same Jinja settings, so the code
    is the same; Jinja checks each template's source against its checksum before using it.
    """

    def __init__(self) -> None:
        self.code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        code = self.code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self.code[bucket.key] = bucket.bytecode_to_string()


TEMPLATE_CODE = SharedTemplateCode()


@pytest.fixture
def make_app(database_url: str, feature_profile: Path, tmp_path: Path) -> Callable[..., Flask]:
    """Build an app with test settings; keyword arguments override any setting."""

    def build(**overrides: Any) -> Flask:
        config: dict[str, Any] = {
            "TESTING": True,
            # Mail without SMTP_URL is kept as .eml files: in the test's folder, not instance/.
            "MAIL_DIR": str(tmp_path / "mail"),
            "HOSTER_FILE": str(feature_profile),
            "SECRET_KEY": "test-secret",
            "DATABASE_URL": database_url,
            "RATELIMIT_STORAGE_URL": "memory://",
            # The test client's address: absolute links in mail and feeds use it.
            "BASE_URL": "http://localhost",
        }
        config.update(overrides)
        app = create_app(config)
        app.jinja_env.bytecode_cache = TEMPLATE_CODE
        return app

    return build


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    """The panel in demo mode (in-memory demo directory) on the test database."""
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def db_session(app: Flask) -> Iterator[Session]:
    sessions = app.extensions["panel_db"].sessions
    session = sessions()
    yield session
    session.close()


@pytest.fixture
def login_as(client: FlaskClient) -> Callable[..., FlaskClient]:
    """Sign the test client in through the real form (demo directory by default)."""

    def sign_in(login: str, password: str = "demo") -> FlaskClient:
        response = do_login(client, login, password)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return client

    return sign_in


@pytest.fixture
def post_form(client: FlaskClient) -> Callable[..., Any]:
    """POST to a page with the CSRF token taken from a page the user can see."""

    def post(
        path: str, data: dict[str, Any] | None = None, *, token_from: str = "/", **kw: Any
    ) -> Any:
        token = csrf_token(client, token_from)
        return client.post(path, data={**(data or {}), "csrf_token": token}, **kw)

    return post


# LDAP ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def slapd() -> Iterator[ldap_server.Slapd]:
    if not ldap_server.slapd_available():
        missing_tool("slapd is not installed: apt-get install slapd ldap-utils")
    server = ldap_server.start_slapd()
    yield server
    ldap_server.cleanup(server)


@pytest.fixture
def ldap_app(make_app: Callable[..., Flask], slapd: ldap_server.Slapd) -> Flask:
    """The panel against the real slapd."""
    return make_app(**slapd.settings())


@pytest.fixture
def ldap_client(ldap_app: Flask) -> FlaskClient:
    return ldap_app.test_client()


# SMTP ------------------------------------------------------------------------------------


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []
        # The bytes as they came over SMTP, for checks that must see what a client reads.
        self.raw: list[bytes] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        from email import message_from_bytes
        from email.policy import default

        message = message_from_bytes(envelope.content, policy=default)
        with self.lock:
            self.messages.append(message)
            self.raw.append(bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[Any]:
    """A real SMTP server on loopback; `.messages` holds what it received, `.url` to use."""
    from aiosmtpd.controller import Controller

    mailbox = Mailbox()
    port = ldap_server.free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    mailbox.url = f"smtp://127.0.0.1:{port}"  # type: ignore[attr-defined]
    mailbox.controller = controller  # type: ignore[attr-defined]
    yield mailbox
    controller.stop()
    # Every mail any test makes the panel send is read as a mail client reads it.
    from mail_checks import problems

    wrong = {p for raw in mailbox.raw for p in problems(raw)}
    assert not wrong, f"mail a client would read wrong: {sorted(wrong)}"


# Browser ---------------------------------------------------------------------------------


class LiveServer:
    def __init__(self, app: Flask) -> None:
        from werkzeug.serving import make_server

        self.port = ldap_server.free_port()
        self.server = make_server("127.0.0.1", self.port, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.port}"
        # Links in mail and feeds lead to this server, as they would to the real address.
        app.config["BASE_URL"] = self.url

    def stop(self) -> None:
        self.server.shutdown()


@pytest.fixture
def live_server(app: Flask) -> Iterator[LiveServer]:
    server = LiveServer(app)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        missing_tool(f"{CHROMIUM} is not installed: apt-get install chromium-headless-shell")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
                # What the full browser sends on its own; the headless shell sends no
                # Accept-Language unless told (a context's `locale` still overrides it).
                "--accept-lang=en-US,en",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def browser_page(chromium: Any) -> Iterator[Any]:
    """A fresh browser context (no cookies) with a page; blocks any non-loopback request."""
    context = chromium.new_context()
    external = refuse_other_hosts(context)
    page = context.new_page()
    page.external_requests = external
    yield page
    context.close()
    assert not external, f"pages asked other hosts: {external}"


@pytest.fixture(scope="session")
def axe() -> Any:
    from axe_playwright_python.base import AxeResults
    from axe_playwright_python.sync_playwright import DEFAULT_OPTIONS, Axe

    class InjectOnce(Axe):
        """axe-core sends its 570 kB script into the page on every run (about 57 ms, a third
        of a run on the panel's pages): here only when the page does not have it yet, from an
        earlier run on the same page or a context's `add_init_script(axe.axe_script)`."""

        def run(self, page: Any, context: Any = None, options: Any = DEFAULT_OPTIONS) -> Any:
            if not page.evaluate("typeof window.axe === 'object'"):
                page.evaluate(self.axe_script)
            script = f"axe.run({self._format_script_args(context=context, options=options)})"
            return AxeResults(page.evaluate(script))

    return InjectOnce()
