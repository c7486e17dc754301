"""Server-side sessions: the store, the Flask session interface, and /account/sessions."""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, session
from flask_babel import lazy_gettext as _l

import config as panel_config
from app.db import request_session
from app.sessions.store import (
    DatabaseSessionStore,
    RedisSessionStore,
    SessionStore,
    SessionStoreUnavailable,
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


def _fail_closed_without_store() -> None:
    """A cookie came but its session could not be read: answer 503, never 'signed out'."""
    failure = getattr(session, "store_failure", None)
    if failure is not None:
        raise failure


def init_app(app: Flask) -> None:
    from app import audit, errors
    from app.connectors.base import register_panel_section
    from app.sessions import views  # noqa: F401 - routes
    from app.sessions.interface import PanelSessionInterface
    from app.sessions.section import SessionsSection

    app.config.setdefault("SESSION_STORE", "database")
    store = make_store(app)
    app.extensions["panel_session_store"] = store
    app.session_interface = PanelSessionInterface(store)
    app.before_request_funcs.setdefault(None, []).insert(0, _fail_closed_without_store)

    @app.errorhandler(SessionStoreUnavailable)
    def session_store_down(_exc: SessionStoreUnavailable) -> tuple[str, int]:
        return errors.render_error(
            503, str(_l("Sign-ins cannot be checked right now. Try again in a few minutes."))
        )

    app.register_blueprint(bp)
    register_panel_section(app, SessionsSection())
    audit.register_labels(
        {
            "sessions.ended_others": _l("Signed out of all other sessions"),
            "sessions.ended_all": _l("Signed out everywhere"),
            "sessions.ended_by_staff": _l("All sessions ended by staff"),
        }
    )
