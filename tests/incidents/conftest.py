"""Fixtures of the incident journal tests: a journal writer and an SQL statement counter."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event

from app.db import session_scope, utcnow
from app.incidents import operations

KNOWN = ("mail", "cloud", "pad")


class Journal:
    """Writes to the journal the way the CLI does, each call in its own committed session."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def open(
        self,
        title: str = "Mail is down",
        services_: tuple[str, ...] = ("mail",),
        impact: str = "major",
        *,
        visibility: str = "public",
        started_at: datetime | None = None,
        body: str | None = None,
        now: datetime | None = None,
    ) -> int:
        with session_scope(self.app) as session:
            incident = operations.open_incident(
                session,
                title=title,
                services=list(services_),
                impact=impact,
                visibility=visibility,
                started_at=started_at,
                body=body,
                known_services=KNOWN,
                actor=operations.CLI,
                now=now,
            )
            return incident.id

    def maintenance(
        self,
        title: str = "Server upgrade",
        services_: tuple[str, ...] = ("pad",),
        *,
        start: datetime | None = None,
        hours: float = 2,
        visibility: str = "public",
        now: datetime | None = None,
    ) -> int:
        start = start or utcnow() + timedelta(days=1)
        with session_scope(self.app) as session:
            incident = operations.schedule_maintenance(
                session,
                title=title,
                services=list(services_),
                window_start=start,
                window_end=start + timedelta(hours=hours),
                visibility=visibility,
                known_services=KNOWN,
                actor=operations.CLI,
                now=now,
            )
            return incident.id

    def update(self, incident_id: int, body: str = "Still looking.", **kw: Any) -> int:
        with session_scope(self.app) as session:
            return operations.post_update(
                session, incident_id, body=body, actor=operations.CLI, **kw
            ).id

    def resolve(self, incident_id: int, body: str | None = None, **kw: Any) -> int:
        with session_scope(self.app) as session:
            return operations.resolve_incident(
                session, incident_id, body=body, actor=operations.CLI, **kw
            ).id


@pytest.fixture
def journal(app: Flask) -> Journal:
    return Journal(app)


class QueryCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_queries(app: Flask) -> Callable[[], Any]:
    """A context manager counting the SQL statements the app sends while it is open."""
    from contextlib import contextmanager

    engine = app.extensions["panel_db"].engine

    @contextmanager
    def counting() -> Iterator[QueryCounter]:
        counter = QueryCounter()

        def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            counter.statements.append(statement)

        event.listen(engine, "before_cursor_execute", record)
        try:
            yield counter
        finally:
            event.remove(engine, "before_cursor_execute", record)

    return counting


@pytest.fixture
def english(client: Any) -> Any:
    """Read the pages in English (signed-in demo users prefer French; the choice survives login)."""
    with client.session_transaction() as session:
        session["lang"] = "en"
    return client


@pytest.fixture
def staff_client(english: Any, login_as: Callable[..., Any]) -> Any:
    return login_as("camille")


@pytest.fixture
def journal_for() -> Callable[[Flask], Journal]:
    """A journal writer for an app built with other settings (make_app)."""
    return Journal
