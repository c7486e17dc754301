"""/account/sessions (the person's own sessions) and the staff's view of an account's
sessions, where they end them all after confirming."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, logout_user

from app.accounts.models import Account
from app.db import get_or_404, get_session, utcnow
from app.security import gate_exempt, rotate_session, safe_next, staff_required
from app.sessions import bp, services, session_store
from app.sessions.forms import StaffEndAllForm
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
def end_others() -> ResponseReturnValue:
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
    return redirect(url_for("sessions.index"))


@bp.route("/account/sessions/all", methods=["POST"])
@gate_exempt
def end_all() -> ResponseReturnValue:
    db = get_session()
    account = current_user._get_current_object()
    services.end_all_sessions(db, session_store(), account, actor=account, reason="everywhere")
    logout_user()
    rotate_session()
    flash(_("You are signed out everywhere, including here."), "success")
    return redirect(url_for("accounts.login"))


def _staff_sessions_page(account: Account, form: StaffEndAllForm, status: int = 200) -> Any:
    return (
        render_template(
            "sessions/staff.html",
            account=account,
            sessions=services.list_sessions(session_store(), account),
            form=form,
            back=safe_next(request.values.get("next"), "staff.home"),
            now=utcnow(),
        ),
        status,
    )


@bp.route("/staff/accounts/<int:account_id>/sessions")
@staff_required
def staff_sessions(account_id: int) -> Any:
    """An account's open sessions, and the confirmed way to end them all."""
    return _staff_sessions_page(get_or_404(Account, account_id), StaffEndAllForm())


@bp.route("/staff/accounts/<int:account_id>/sessions/end", methods=["POST"])
@staff_required
def staff_end_all(account_id: int) -> Any:
    account = get_or_404(Account, account_id)
    form = StaffEndAllForm()
    if not form.validate_on_submit():
        return _staff_sessions_page(account, form, status=422)
    db = get_session()
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
    return redirect(
        url_for("sessions.staff_sessions", account_id=account.id, next=request.form.get("next"))
    )
