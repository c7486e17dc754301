"""Database engine, per-request session and the declarative base shared by every model."""

from __future__ import annotations

import logging
import re
import select
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from flask import Flask, abort, current_app, g, has_request_context, request
from sqlalchemy import CursorResult, DateTime, Engine, MetaData, Result, create_engine, event
from sqlalchemy.exc import DisconnectionError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.sql import Executable
from sqlalchemy.types import TypeDecorator

log = logging.getLogger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime, also on SQLite which forgets the zone."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Database:
    engine: Engine
    sessions: sessionmaker[Session]


# A pooled connection is checked with a ping before use only when it sat idle this long:
# pinging on every checkout (pool_pre_ping) cost each request a round trip to the server.
# One used a moment ago is pinged only when its socket has something to read: an idle
# PostgreSQL connection receives nothing unless the server closed it (a restart sends
# "terminating connection" and hangs up), which a poll of the socket sees without a round
# trip. Otherwise a worker that served no request during a short outage would answer 503
# once after it, on a connection the server had already closed, after other workers were
# serving again. A server that dies between the check and the query still costs that one
# request a 503, and the pool then drops every connection to it.
PING_AFTER_IDLE_SECONDS = 5.0
_IDLE_SINCE = "panel_idle_since"


def _socket_has_news(dbapi_connection: Any) -> bool:
    """True when the connection's socket is readable or hung up (not for an unknown driver)."""
    fileno = getattr(dbapi_connection, "fileno", None)
    if fileno is None:
        return False
    try:
        descriptor = fileno()
    except Exception:  # closed already: the ping says so
        return True
    poller = select.poll()
    poller.register(descriptor, select.POLLIN | select.POLLPRI)
    return bool(poller.poll(0))  # hang-ups and errors are always reported


def _ping_idle_connections(engine: Engine) -> None:
    @event.listens_for(engine, "checkin")
    def _idle_from_now(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_IDLE_SINCE)
        if since is None:
            return  # new
        if time.monotonic() - since < PING_AFTER_IDLE_SECONDS and not _socket_has_news(
            dbapi_connection
        ):
            return  # in use a moment ago, and the server has not hung up since
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            # The pool discards this connection and checks out a fresh one.
            raise DisconnectionError(str(exc)) from exc


# Reads outside a transaction, BEGIN at the first write (PostgreSQL) ------------------------
#
# Most requests only read (the account page, the ticket list, the public pages), and at READ
# COMMITTED every statement takes its own snapshot whether or not a transaction holds it: a
# BEGIN before the first read and a COMMIT after the last one are two round trips (and two
# commands the database server runs on the same cores) that change nothing the request sees.
# A connection is therefore handed out in autocommit mode, and the first statement that may
# write or lock (anything but a plain SELECT: INSERT, UPDATE, DELETE, SELECT ... FOR UPDATE,
# a SAVEPOINT, DDL) turns autocommit off first, so that the driver sends BEGIN before it:
# every write of the request is still in one transaction, committed or rolled back as one,
# and a COMMIT or ROLLBACK with no transaction open sends nothing (psycopg).
_PLAIN_READ = re.compile(r"\s*SELECT\b", re.IGNORECASE)
_LOCKS_OR_WRITES = re.compile(
    r"\bFOR\s+(?:UPDATE|SHARE|NO\s+KEY\s+UPDATE|KEY\s+SHARE)\b|\bnextval\s*\(|\bpg_advisory|"
    r"\bset_config\s*\(",
    re.IGNORECASE,
)


def _is_plain_read(statement: str) -> bool:
    return bool(_PLAIN_READ.match(statement)) and not _LOCKS_OR_WRITES.search(statement)


def _begin_at_first_write(engine: Engine) -> None:
    @event.listens_for(engine, "checkout")
    def _reads_without_transaction(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        dbapi_connection.autocommit = True

    @event.listens_for(engine, "before_cursor_execute")
    def _begin_before_writing(
        conn: Any, cursor: Any, statement: str, _params: Any, context: Any, _many: bool
    ) -> None:
        dbapi_connection = conn.connection.dbapi_connection
        if not dbapi_connection.autocommit:
            return
        # A server-side cursor (streamed results) lives only inside a transaction.
        streamed = context is not None and context.execution_options.get("stream_results")
        if streamed or not _is_plain_read(statement):
            dbapi_connection.autocommit = False


def make_engine(url: str) -> Engine:
    kwargs: dict[str, Any] = {}
    if url.startswith("postgresql"):
        # Fail fast (503) when the server is down instead of hanging a worker.
        kwargs["connect_args"] = {"connect_timeout": 5}
    engine = create_engine(url, **kwargs)
    if engine.dialect.name != "sqlite":
        _ping_idle_connections(engine)
    if engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg":
        _begin_at_first_write(engine)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=5000")
            # WAL: readers never wait for a writer, and NORMAL syncs once per checkpoint
            # instead of every commit (a sign-in went from 58 to 27 ms); a crash of the
            # process loses nothing, only a power cut can lose the last commits.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

    return engine


def init_app(app: Flask) -> None:
    engine = make_engine(app.config["DATABASE_URL"])
    app.extensions["panel_db"] = Database(
        engine=engine, sessions=sessionmaker(engine, expire_on_commit=False)
    )

    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        session: Session | None = g.pop("db_session", None)
        if session is not None:
            try:
                session.close()
            except SQLAlchemyError:
                # The server went away mid-request; the pool discards the dead connection.
                log.warning("could not close a database session cleanly")


# One request, one transaction ----------------------------------------------------------
#
# Like Indico's RH.process: the view and the hooks around it work in the request's session
# (get_session()); the session store reads and writes the session record there too. When
# the response is ready and the session saved, the request commits once; an exception or an
# error answer (status 400 and above: a form sent back with its errors is 422) rolls back
# everything the view wrote first, so only the session's own bookkeeping is kept. Mail
# queued by the view rides in that transaction and leaves after the commit. Views do not
# commit; see PanelFlask (app/urls.py) for where these are called.

# Set on the WSGI environ of a request the app dispatches (not on a bare
# test_request_context, or Flask's session_transaction, which no one commits).
_DISPATCHED = "panel.one_transaction"
_FAILED = "panel_request_failed"
_AFTER_COMMIT = "panel_after_commit"


_COMMIT_ERROR = "panel_commit_error"
_ANSWERS_ERROR = "panel_answers_error"


def request_failed() -> None:
    """An exception reached Flask's handlers: whatever the page says, nothing is kept."""
    setattr(g, _FAILED, True)


def discard_changes() -> None:
    """A service refused (a domain error) after writing part of its change, or after a
    failed flush: forget what the request wrote, now, so that the page rendered next shows
    what is stored; and keep nothing the view writes after this (Django's set_rollback,
    pyramid_tm's doom). Only the session's own bookkeeping is committed at the end."""
    setattr(g, _FAILED, True)
    g.pop(_AFTER_COMMIT, None)
    session: Session | None = g.get("db_session")
    if session is not None:
        session.rollback()


def abort_commit(error: Exception) -> None:
    """Work done after the view (saving the session) failed in the request's transaction:
    the request must not commit, and answers with `error`'s page instead."""
    if in_request_transaction() and not g.get(_ANSWERS_ERROR):
        setattr(g, _COMMIT_ERROR, error)


def in_request_transaction() -> bool:
    """Whether the app is dispatching a request, which it will commit or roll back."""
    return has_request_context() and bool(request.environ.get(_DISPATCHED))


def request_session() -> Session | None:
    """The request's session, for stores that share its transaction; None outside one."""
    return get_session() if in_request_transaction() else None


def after_commit(work: Callable[[], None]) -> None:
    """Run `work` once the request's transaction is committed (never after a rollback).

    For what another transaction must see: a task handed to the worker, mail to send.
    Outside a request (CLI, worker) the caller commits itself, so `work` runs at once.
    """
    if not in_request_transaction():
        work()
        return
    pending: list[Callable[[], None]] = g.setdefault(_AFTER_COMMIT, [])
    if work not in pending:
        pending.append(work)


def roll_back_failed_request(status: int) -> None:
    """Before the session is saved: drop the view's writes if the request failed."""
    failed = bool(g.get(_FAILED)) or status >= 400
    if failed:
        g.pop(_AFTER_COMMIT, None)
        # An error page is on its way already: a failure before this point is part of it,
        # and one while saving the session after it is no reason for another page.
        g.pop(_COMMIT_ERROR, None)
        setattr(g, _ANSWERS_ERROR, True)
        session: Session | None = g.get("db_session")
        if session is not None:
            try:
                session.rollback()
            except SQLAlchemyError:
                # The server went away; the pool drops the connection, the error page stays.
                log.warning("could not roll back a failed request")


def commit_request() -> None:
    """After the session is saved: commit the request's one transaction, then run what
    waited for it. A failure here propagates (the caller turns it into an error page)."""
    g.pop(_FAILED, None)
    answers_error = g.pop(_ANSWERS_ERROR, False)
    session: Session | None = g.get("db_session")
    error: Exception | None = g.pop(_COMMIT_ERROR, None)
    if error is not None:
        g.pop(_AFTER_COMMIT, None)
        if session is not None:
            session.rollback()
        raise error
    if session is not None:
        try:
            session.commit()
        except SQLAlchemyError:
            g.pop(_AFTER_COMMIT, None)
            session.rollback()
            if not answers_error:
                raise
            # Only the session's bookkeeping was to be kept; the error page stands.
            log.warning("the session of an error page could not be saved")
        except BaseException:
            g.pop(_AFTER_COMMIT, None)
            session.rollback()
            raise
    for work in g.pop(_AFTER_COMMIT, []):
        try:
            work()
        except Exception:  # the change is committed: a hand-off failing must not hide it
            log.exception("work after the request's commit failed")


class OneTransactionPerRequest(Flask):
    """The Flask side of the request's transaction (mixed into PanelFlask).

    `finalize_request` is where Flask turns the view's answer into the response, runs the
    after-request hooks and saves the session: the rollback of a failed request goes just
    before, the commit just after. A commit that fails becomes an error page through the
    usual handlers (503 when the database is down), with the session saved afresh.
    """

    def wsgi_app(self, environ: dict[str, Any], start_response: Any) -> Any:
        environ[_DISPATCHED] = True
        return super().wsgi_app(environ, start_response)

    def handle_user_exception(self, e: Exception) -> Any:
        request_failed()
        return super().handle_user_exception(e)

    def finalize_request(self, rv: Any, from_error_handler: bool = False) -> Any:
        response = self.make_response(rv)
        roll_back_failed_request(response.status_code)
        response = super().finalize_request(response, from_error_handler)
        try:
            commit_request()
        except Exception as exc:
            if from_error_handler:
                log.exception("the error page's session could not be saved")
                return response
            return self.finalize_request(self.handle_user_exception(exc), from_error_handler=True)
        return response


def database() -> Database:
    db: Database = current_app.extensions["panel_db"]
    return db


def get_session() -> Session:
    """The session of the current request (or CLI command), opened on first use."""
    if "db_session" not in g:
        g.db_session = database().sessions()
    session: Session = g.db_session
    return session


@contextmanager
def session_scope(app: Flask) -> Iterator[Session]:
    """A session outside a request (CLI, tests, scripts); commits on success."""
    db: Database = app.extensions["panel_db"]
    session = db.sessions()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# Ids are INTEGER columns (32-bit signed on PostgreSQL): a larger number names no row, and
# must be "not found" before it reaches (and overflows) a query.
DB_INTEGER_MAX = 2**31 - 1


def core_rows(
    session: Session, statement: Executable, parameters: dict[str, Any] | None = None
) -> Result[Any]:
    """Run a Core statement (columns, not ORM entities) on the session's connection, in its
    transaction: the ORM's own execute adds about 60 µs of Python per statement that such
    rows need none of. Pending ORM changes are flushed first, as autoflush would."""
    if session.autoflush and (session.new or session.dirty or session.deleted):
        session.flush()
    return session.connection().execute(statement, parameters)


def rows_changed(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE touched (a guarded update tells who won a race).

    `Session.execute` types its answer as a plain `Result`; for these statements it is a
    `CursorResult`, the one that counts rows.
    """
    return int(cast("CursorResult[Any]", result).rowcount or 0)


def parse_id(text: str | None) -> int | None:
    """The id written in `text` (ASCII digits within the column's range), else None."""
    if not text or not (text.isascii() and text.isdigit()) or len(text) > 10:
        return None
    value = int(text)
    return value if 0 < value <= DB_INTEGER_MAX else None


M = TypeVar("M", bound=Base)


def get_or_404(model: type[M], ident: int) -> M:
    """The row of `model` with this id (an `<int:…>` of the URL) in the request's session;
    404 when there is none."""
    found = get_session().get(model, ident)
    if found is None:
        abort(404)
    return found
