"""/account/sessions (the person's own sessions) and the staff's "end all sessions"."""

from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, logout_user

from app.accounts.models import Account
from app.db import get_session, utcnow
from app.security import gate_exempt, rotate_session, safe_next, staff_required
from app.sessions import bp, services, session_store
from app.sessions.interface import current_session_key


# Reachable while new terms wait for acceptance: ending a stranger's session cannot wait.
@bp.route("/account/sessions")
@gate_exempt
def index() -> str:
    return render_template(
        "sessions/index.html",
        sessions=services.list_sessions(session_store(), current_user._get_current_object()),
        current_key=current_session_key(session),
        now=utcnow(),
    )


@bp.route("/account/sessions/others", methods=["POST"])
@gate_exempt
def end_others() -> Response:
    db = get_session()
    ended = services.end_other_sessions(
        db,
        session_store(),
        current_user._get_current_object(),
        current_key=current_session_key(session),
    )
    flash(
        ngettext(
            "%(num)s other session was signed out.",
            "%(num)s other sessions were signed out.",
            ended,
        ),
        "success",
    )
    return redirect(url_for("sessions.index"))  # type: ignore[return-value]


@bp.route("/account/sessions/all", methods=["POST"])
@gate_exempt
def end_all() -> Response:
    db = get_session()
    account = current_user._get_current_object()
    services.end_all_sessions(db, session_store(), account, actor=account, reason="everywhere")
    logout_user()
    rotate_session()
    flash(_("You are signed out everywhere, including here."), "success")
    return redirect(url_for("accounts.login"))  # type: ignore[return-value]


@bp.route("/staff/accounts/<int:account_id>/sessions/end", methods=["POST"])
@staff_required
def staff_end_all(account_id: int) -> Response:
    db = get_session()
    account = db.get(Account, account_id)
    if account is None:
        abort(404)
    ended = services.end_all_sessions(
        db, session_store(), account, actor=current_user._get_current_object(), reason="staff"
    )
    flash(
        ngettext(
            "%(num)s session of this account was ended.",
            "%(num)s sessions of this account were ended.",
            ended,
        ),
        "success",
    )
    return redirect(safe_next(request.form.get("next"), "staff.home"))  # type: ignore[return-value]
