"""Server-side sessions: the store, the Flask session interface, and /account/sessions."""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, session

import config as panel_config
from app.db import request_session
from app.sessions.store import (
    DatabaseSessionStore,
    RedisSessionStore,
    SessionStore,
)

bp = Blueprint("sessions", __name__)

REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def session_store() -> SessionStore:
    store: SessionStore = current_app.extensions["panel_session_store"]
    return store


def make_store(app: Flask) -> SessionStore:
    where = str(app.config["SESSION_STORE"] or "database")
    if where == "database":
        return DatabaseSessionStore(app.extensions["panel_db"].sessions, request_session)
    if where.startswith(REDIS_SCHEMES):
        return RedisSessionStore(where)
    raise panel_config.ConfigError(
        "PANEL_SESSION_STORE must be 'database' or a Redis URL such as redis://127.0.0.1:6379/1."
    )


def fail_closed_without_store() -> None:
    """A cookie came but its session could not be read: answer 503, never 'signed out'."""
    failure = getattr(session, "store_failure", None)
    if failure is not None:
        raise failure
