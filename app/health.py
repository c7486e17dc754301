"""/healthz for monitors: database and directory reachability, 200 or 503."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.db import database
from app.directory.checks import diagnose
from app.extensions import directory
from app.security import public_endpoint

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)


@bp.route("/healthz")
@public_endpoint
def healthz() -> tuple[Response, int]:
    checks = {"database": "ok", "directory": "ok"}
    try:
        with database().engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        log.warning("health: database unavailable: %s", type(exc).__name__)
        checks["database"] = "unavailable"
    # The real path (service bind, user filter, staff group), on pooled connections.
    # Schema remarks (an optional attribute the server lacks) are for `flask doctor`: they
    # do not stop anyone signing in, so they do not page the monitor.
    failed = [
        f
        for f in diagnose(directory()).findings
        if not f.ok
        and (f.step != "schema" or f.text.startswith(("unreachable", "configuration problem")))
    ]
    if failed:
        problems = "; ".join(f"{f.step}: {f.text}" for f in failed)
        log.warning("health: directory: %s", problems)
        unreachable = any(f.text.startswith("unreachable") for f in failed)
        checks["directory"] = "unavailable" if unreachable else "misconfigured"
    healthy = all(v == "ok" for v in checks.values())
    body = jsonify(status="ok" if healthy else "unavailable", checks=checks)
    body.headers["Cache-Control"] = "no-store"
    return body, 200 if healthy else 503
