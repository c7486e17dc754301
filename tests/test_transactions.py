"""One request, one transaction: what a request keeps, and what it costs the database."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask, abort, flash, redirect
from sqlalchemy import event, func, select

from app.accounts.models import Account
from app.audit import AuditEvent, record
from app.db import discard_changes, get_session
from app.mail import OutgoingMail, queue_mail
from app.security import public_endpoint, rotate_session
from helpers import do_login, missing_tool


@contextmanager
def database_use(app: Flask) -> Iterator[dict[str, int]]:
    """Count the connections checked out of the pool and the transactions begun."""
    engine = app.extensions["panel_db"].engine
    seen = {"connections": 0, "transactions": 0}

    def checkout(*_args: Any) -> None:
        seen["connections"] += 1

    def begin(*_args: Any) -> None:
        seen["transactions"] += 1

    event.listen(engine, "checkout", checkout)
    event.listen(engine, "begin", begin)
    try:
        yield seen
    finally:
        event.remove(engine, "checkout", checkout)
        event.remove(engine, "begin", begin)


@pytest.mark.parametrize("path", ["/", "/account/activity", "/account/sessions"])
def test_a_signed_in_page_uses_one_connection_and_one_transaction(app, login_as, path):
    client = login_as("alice")
    assert client.get(path).status_code == 200  # the welcome flash is read and forgotten
    with database_use(app) as seen:
        response = client.get(path)
    assert response.status_code == 200
    # The session record, the account and the page's own queries: one connection, one
    # transaction (the session store used to run its own BEGIN/SELECT/COMMIT before it).
    assert seen == {"connections": 1, "transactions": 1}


def test_the_account_comes_with_the_session_in_one_statement(app, login_as):
    client = login_as("alice")
    assert client.get("/account/activity").status_code == 200
    engine = app.extensions["panel_db"].engine
    tables: list[str] = []

    def statement(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        found = re.search(r"\bFROM\s+(\w+)", sql)
        tables.append(found.group(1) if found else sql)

    event.listen(engine, "before_cursor_execute", statement)
    try:
        assert client.get("/account/activity").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", statement)
    # No statement of its own for the account: it came joined to the session's row.
    assert tables[0] == "sessions"
    assert "account" not in tables


def test_a_pooled_connection_is_checked_after_a_pause_and_replaced_if_dead(tmp_path, monkeypatch):
    from sqlalchemy import create_engine, text

    from app import db as panel_db

    engine = create_engine(f"sqlite:///{tmp_path / 'ping.sqlite3'}")
    panel_db._ping_idle_connections(engine)
    pings: list[Any] = []
    real_ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda c: pings.append(c) or real_ping(c))
    with engine.connect() as conn:
        first = conn.connection.dbapi_connection
    with engine.connect() as conn:  # used a moment ago: no round trip to check it
        assert conn.connection.dbapi_connection is first
    assert pings == []
    first.close()  # the server dropped it while it sat in the pool
    later = panel_db.time.monotonic() + panel_db.PING_AFTER_IDLE_SECONDS + 1
    monkeypatch.setattr(panel_db.time, "monotonic", lambda: later)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1
        assert conn.connection.dbapi_connection is not first
    assert pings == [first]
    engine.dispose()


def panel_engine() -> tuple[str, Any]:
    """The panel's own engine (make_engine) on the shared PostgreSQL, checked reachable."""
    from sqlalchemy import text

    from app import db as panel_db

    url = os.environ.get(
        "PANEL_TEST_SHARED_DATABASE_URL",
        os.environ.get(
            "PANEL_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    try:
        engine = panel_db.make_engine(url)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        missing_tool(f"PostgreSQL on 127.0.0.1:5432 (user postgres) is needed: {exc}")
    return url, engine


@pytest.mark.postgres
def test_a_connection_the_server_closed_a_moment_ago_is_replaced_before_use(monkeypatch):
    """PostgreSQL restarted while a worker sat idle for less than the ping's pause: the
    connection it used a moment ago is dead, and its next request must not be the one
    that finds out (it would answer 503 after the other workers serve again)."""
    import psycopg
    from sqlalchemy import text

    from app import db as panel_db

    url, engine = panel_engine()
    with engine.connect() as conn:
        first = conn.connection.dbapi_connection
        backend = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    pings: list[Any] = []
    real_ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda c: pings.append(c) or real_ping(c))
    with engine.connect() as conn:  # alive, used a moment ago: no round trip to check it
        assert conn.connection.dbapi_connection is first
    assert pings == []
    # What a restart does to each connection: the server ends it and hangs up.
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (backend,))
    deadline = panel_db.time.monotonic() + 10
    while not panel_db._socket_has_news(first):  # the hang-up reaches this side
        assert panel_db.time.monotonic() < deadline, "the server's hang-up never arrived"
        panel_db.time.sleep(0.01)
    with engine.connect() as conn:  # well within the pause: no error, a fresh connection
        assert conn.execute(text("SELECT 1")).scalar() == 1
        assert conn.connection.dbapi_connection is not first
    assert pings == [first]
    engine.dispose()


@pytest.mark.postgres
def test_reads_hold_no_transaction_and_writes_and_locks_are_kept_in_one(monkeypatch):
    """A request that only reads sends no BEGIN and no COMMIT; the first write or lock opens
    the transaction, and a rollback then forgets every write since, as before."""
    import psycopg
    from sqlalchemy import text

    from app import db as panel_db

    _url, engine = panel_engine()
    idle = psycopg.pq.TransactionStatus.IDLE
    with engine.connect() as conn:
        dbapi = conn.connection.dbapi_connection
        assert conn.execute(text("SELECT 2")).scalar() == 2
        assert dbapi.info.transaction_status == idle  # nothing open, nothing held
        conn.execute(text("CREATE TEMPORARY TABLE panel_probe (n integer)"))
        conn.execute(text("INSERT INTO panel_probe VALUES (1)"))
        assert dbapi.info.transaction_status != idle
        assert conn.execute(text("SELECT count(*) FROM panel_probe")).scalar() == 1
        conn.rollback()
        # The table and its row went with the rollback: the writes were one transaction.
        assert conn.execute(text("SELECT to_regclass('pg_temp.panel_probe')")).scalar() is None
    with engine.connect() as conn:
        dbapi = conn.connection.dbapi_connection
        conn.execute(text("SELECT pg_advisory_xact_lock(7422)"))
        assert dbapi.info.transaction_status != idle  # a lock lives until the commit
        conn.commit()
    assert not panel_db._is_plain_read("  select 1 from t for  no key update")
    assert not panel_db._is_plain_read("WITH x AS (DELETE FROM t RETURNING id) SELECT * FROM x")
    assert panel_db._is_plain_read("SELECT sessions.id FROM sessions WHERE sessions.id = $1")
    engine.dispose()


def _events(app: Flask, action: str) -> int:
    with app.app_context():
        return int(
            get_session().scalar(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
            )
            or 0
        )


@pytest.fixture
def wired(make_app: Callable[..., Flask], smtp: Any) -> Flask:
    """The panel with a few views that write, then answer in each of the ways views do."""
    app = make_app(SMTP_URL=smtp.url)

    def write(action: str) -> None:
        record(get_session(), action)
        queue_mail(
            get_session(),
            to="alice@demo.chatons.org",
            template="deletion_cancelled",
            purpose=action,
            request=SimpleNamespace(id=7, subject_name="Alice", subject_uid="alice"),
        )

    @public_endpoint
    def redirected() -> Any:
        write("test.redirected")
        return redirect("/login")

    @public_endpoint
    def form_sent_back() -> Any:
        write("test.form_sent_back")
        return "the form again, with its errors", 422

    @public_endpoint
    def failed() -> Any:
        write("test.failed")
        raise RuntimeError("a bug")

    @public_endpoint
    def not_found() -> Any:
        write("test.not_found")
        abort(404)

    @public_endpoint
    def refused() -> Any:
        write("test.refused")
        # A service refused after writing part of its change; the view says why.
        discard_changes()
        seen = get_session().scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "test.refused")
        )
        flash(f"refused, {seen} written", "error")
        return redirect("/login")

    @public_endpoint
    def commit_fails() -> Any:
        get_session().add_all(
            [Account(uid="twin", dn="uid=twin", display_name=name) for name in ("A", "B")]
        )
        return redirect("/login")

    @public_endpoint
    def rotated_then_failed() -> Any:
        rotate_session()  # as sign-out does: the old cookie value must open nothing
        raise RuntimeError("a bug after the rotation")

    for view in (
        redirected,
        form_sent_back,
        failed,
        not_found,
        refused,
        commit_fails,
        rotated_then_failed,
    ):
        app.add_url_rule(f"/test/{view.__name__}", view.__name__, view)
    return app


def test_a_request_that_answers_normally_commits_and_its_mail_leaves(wired, smtp):
    response = wired.test_client().get("/test/redirected")
    assert response.status_code == 302
    assert _events(wired, "test.redirected") == 1
    assert [m["To"] for m in smtp.messages] == ["alice@demo.chatons.org"]
    with wired.app_context():
        assert get_session().scalars(select(OutgoingMail)).all() == []  # sent, then forgotten


@pytest.mark.parametrize(
    ("path", "status"),
    [("form_sent_back", 422), ("failed", 500), ("not_found", 404)],
)
def test_a_form_sent_back_an_error_or_an_exception_keeps_nothing_and_mails_nobody(
    wired, smtp, path, status
):
    response = wired.test_client().get(f"/test/{path}")
    assert response.status_code == status
    assert _events(wired, f"test.{path}") == 0
    assert smtp.messages == []
    with wired.app_context():
        assert get_session().scalars(select(OutgoingMail)).all() == []


def test_a_refused_change_is_forgotten_at_once_and_its_message_still_reaches_the_person(
    wired, smtp
):
    client = wired.test_client()
    response = client.get("/test/refused")
    assert response.status_code == 302
    assert _events(wired, "test.refused") == 0
    assert smtp.messages == []
    # The session (its flash) is kept although the change was not.
    page = client.get("/login")
    assert "refused, 0 written" in page.get_data(as_text=True)


def test_a_commit_that_fails_answers_an_error_page_not_the_view_s_success(wired):
    response = wired.test_client().get("/test/commit_fails")
    assert response.status_code == 500
    with wired.app_context():
        assert get_session().scalars(select(Account).where(Account.uid == "twin")).all() == []


def test_a_session_ended_by_a_request_that_then_failed_stays_ended(wired):
    client = wired.test_client()
    assert do_login(client, "alice", "demo").status_code == 302
    old = client.get_cookie("panel_session")
    assert old is not None
    assert client.get("/test/rotated_then_failed").status_code == 500
    # The failed request's rollback brought the old record back; saving the session ended
    # it again: a copy of the old cookie signs nobody in.
    thief = wired.test_client()
    thief.set_cookie("panel_session", old.value)
    assert thief.get("/account/activity").status_code == 302
