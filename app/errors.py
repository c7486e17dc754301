"""Translated error pages; no stack trace ever reaches a user."""

from __future__ import annotations

import logging
import math
import time
from datetime import UTC, datetime, timedelta

from flask import Flask, Response, g, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import format_timedelta, gettext
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from werkzeug.exceptions import HTTPException

from app.dates import human_time
from app.directory import DirectoryMisconfigured, DirectoryUnavailable
from app.extensions import limiter, login_manager

log = logging.getLogger(__name__)

CSRF_EXPIRED = _l("The form expired or was sent from elsewhere. Reload the page and send it again.")

MESSAGES = {
    400: (_l("Bad request"), _l("The request could not be understood. Go back and try again.")),
    403: (_l("Not allowed"), _l("Your account does not have access to this page.")),
    404: (_l("Page not found"), _l("This page does not exist, or it is not yours to see.")),
    405: (_l("Method not allowed"), _l("This page cannot be used that way.")),
    413: (
        _l("Too large"),
        _l("What you sent is larger than the panel accepts. Send something smaller."),
    ),
    415: (
        _l("Unsupported format"),
        _l("The panel only accepts what its own forms send. Use the form on the page."),
    ),
    422: (_l("Invalid input"), _l("Some of what you sent is not valid.")),
    429: (_l("Too many attempts"), _l("You tried too many times in a short while.")),
    500: (
        _l("Something went wrong"),
        _l("An unexpected error happened on our side. It has been logged; try again later."),
    ),
    503: (
        _l("Temporarily unavailable"),
        _l("The panel cannot do this right now. Try again in a few minutes."),
    ),
}


FALLBACK = (
    '<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>{code}</title></head>'
    '<body><main><h1>{code}</h1><p lang="fr">Service momentanément indisponible.</p>'
    '<p lang="en">Service temporarily unavailable.</p></main></body></html>'
)


def render_error(code: int, detail: str | None = None) -> tuple[str, int]:
    title, message = MESSAGES.get(code, MESSAGES[500])
    try:
        page = render_template(
            "errors/error.html", code=code, title=title, message=message, detail=detail
        )
    except Exception:  # the layout itself failed (database gone mid-render): plain page
        log.exception("error page could not be rendered")
        page = FALLBACK.format(code=code)
    return page, code


def retry_after() -> str:
    """When the limit that stopped this request lets the person try again, in their words."""
    limit = limiter.current_limit
    # Sign-in throttling keeps its own counts (failures only) and leaves its reset time here;
    # it is what stopped the request when set (the limiter's own limit was not reached).
    reset_at = g.get("panel_retry_at") or (limit.reset_at if limit is not None else None)
    if reset_at is None or reset_at <= time.time():
        return gettext("Wait a few minutes, then try again.")
    # Whole minutes, rounded up: "in 3 minutes" must not come back refused at 2 min 40.
    wait = timedelta(minutes=math.ceil((reset_at - time.time()) / 60))
    return gettext(
        "You can try again in %(wait)s, at %(time)s.",
        wait=format_timedelta(wait, threshold=1),
        time=human_time(datetime.fromtimestamp(reset_at, UTC)),
    )


def _rollback() -> None:
    session = g.get("db_session")
    if session is not None:
        try:
            session.rollback()
        except SQLAlchemyError:
            log.warning("rollback failed after an error")


def register(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(_exc: CSRFError) -> tuple[str, int]:
        return render_error(400, str(CSRF_EXPIRED))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> ResponseReturnValue:
        code = exc.code or 500
        if code in (301, 302, 303, 307, 308):
            return exc.get_response()
        allow = exc.get_response().headers.get("Allow") if code == 405 else None
        if allow:
            body, status = render_error(code)
            response = Response(body, status)
            response.headers["Allow"] = allow
            return response
        if code == 429:
            return render_error(429, retry_after())
        return render_error(code if code in MESSAGES else 400 if code < 500 else 500)

    @app.errorhandler(DirectoryUnavailable)
    def directory_down(exc: DirectoryUnavailable) -> tuple[str, int]:
        _rollback()
        if isinstance(exc, DirectoryMisconfigured):
            log.error("directory configuration problem on %s: %s", request.path, exc)
            return render_error(
                503,
                str(
                    _l(
                        "Signing in is not possible: the panel's connection to the account "
                        "directory is misconfigured. The hoster has to correct it."
                    )
                ),
            )
        log.error("directory unavailable on %s: %s", request.path, exc)
        return render_error(
            503, str(_l("The account directory cannot be reached, so signing in is not possible."))
        )

    @app.errorhandler(OperationalError)
    def database_down(exc: OperationalError) -> tuple[str, int]:
        g.panel_degraded = True
        # Render the page as a visitor: the signed-in account's attributes would need the
        # database again. The session cookie is untouched, so nobody is signed out.
        g._login_user = login_manager.anonymous_user()
        _rollback()
        log.error("database unavailable on %s: %s", request.path, type(exc).__name__)
        return render_error(503, str(_l("The database cannot be reached.")))

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> tuple[str, int]:
        _rollback()
        log.exception("unhandled error on %s", request.path)
        return render_error(500)
