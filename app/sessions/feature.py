"""Start-up of server-side sessions: the store, the session interface, /account/sessions."""

from __future__ import annotations

from flask import Flask
from flask_babel import lazy_gettext as _l

from app import errors
from app.features import Feature
from app.sessions import bp, fail_closed_without_store, make_store, views  # noqa: F401
from app.sessions.interface import PanelSessionInterface
from app.sessions.section import SessionsSection
from app.sessions.store import SessionStoreUnavailable


def session_store_down(_exc: SessionStoreUnavailable) -> tuple[str, int]:
    return errors.render_error(
        503, str(_l("Sign-ins cannot be checked right now. Try again in a few minutes."))
    )


def _init(app: Flask) -> None:
    store = make_store(app)
    app.extensions["panel_session_store"] = store
    app.session_interface = PanelSessionInterface(store)
    app.before_request_funcs.setdefault(None, []).insert(0, fail_closed_without_store)
    app.register_error_handler(SessionStoreUnavailable, session_store_down)


FEATURE = Feature(
    name="sessions",
    settings={"SESSION_STORE": "database"},
    init=_init,
    blueprints=(bp,),
    panel_sections=lambda _app: (SessionsSection(),),
    audit_labels={
        "sessions.ended_others": _l("Signed out of all other sessions"),
        "sessions.ended_all": _l("Signed out everywhere"),
        "sessions.ended_by_staff": _l("All sessions ended by staff"),
    },
)
