"""Views of transfer codes: create and revoke (the person), and the one-time download that
another panel makes with a code (server to server, no session, no CSRF)."""

from __future__ import annotations

from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import Session

from app.accounts.attention import Attention
from app.accounts.models import Account
from app.connectors.base import export_connectors
from app.dates import human_datetime
from app.db import get_session
from app.export import bp, transfer
from app.export.views import archive_response
from app.extensions import csrf, limiter
from app.security import gate_exempt, public_endpoint, require_recent_auth, safe_next

# Every refusal of the download looks the same: unknown, wrong, expired, revoked or used.
REFUSED = "No export for this transfer code.\n"


@bp.route("/account/export/transfer-codes", methods=["GET", "POST"])
@gate_exempt
def create_transfer_code() -> ResponseReturnValue:
    if request.method == "GET":  # back from the password page: press the button again
        return redirect(url_for("export.export_page", _anchor="transfer-title"))
    needs_password = require_recent_auth()
    if needs_password is not None:
        return needs_password
    account = current_user._get_current_object()
    code, row = transfer.create_code(
        get_session(),
        account,
        hours=int(current_app.config["TRANSFER_CODE_HOURS"]),
        address=request.remote_addr,
    )
    # Rendered, not redirected: the code is on this page only, never in the session.
    return render_template(
        "export/transfer_code.html",
        code=code,
        row=row,
        panel_url=current_app.config["BASE_URL"],
    )


@bp.route("/account/export/transfer-codes/<int:code_id>/revoke", methods=["POST"])
@gate_exempt
def revoke_transfer_code(code_id: int) -> ResponseReturnValue:
    try:
        revoked = transfer.revoke_code(get_session(), current_user._get_current_object(), code_id)
    except transfer.CodeNotFound:
        abort(404)
    if revoked:
        flash(_("The transfer code is revoked: nobody can use it any more."), "success")
    else:
        flash(_("That transfer code could no longer be used anyway."), "info")
    target = request.args.get("next") or request.form.get("next")
    return redirect(safe_next(target, "export.export_page"))


def _transfer_limit() -> str:
    return str(current_app.config["TRANSFER_LIMIT"])


def _presented_code() -> str:
    """`Authorization: Bearer <code>` (preferred: never in an access log), else a `code`
    form field."""
    scheme, _sep, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return request.form.get("code", "")
    return ""


@bp.route("/account/export/transfer", methods=["POST"])
@public_endpoint  # a code is the authority, never a session
@csrf.exempt  # another panel's server posts here, not a browser's form
@limiter.limit(_transfer_limit, scope="export-transfer")
def transfer_download() -> ResponseReturnValue:
    """The export of the code's owner, once. The code is used up (and the transfer
    audited and committed) before the first byte; any session the request carries is
    ignored, none is opened, and nothing here signs anybody in."""
    db = get_session()
    account = transfer.consume_code(
        db,
        _presented_code(),
        address=request.remote_addr,
        client=request.headers.get("User-Agent"),
    )
    if account is None:
        db.rollback()
        return Response(REFUSED, status=404, mimetype="text/plain")
    db.commit()
    languages = current_app.config["LANGUAGES"]
    primary = (account.preferred_language or "").split("-")[0].split("_")[0].lower()
    language = primary if primary in languages else str(languages[0])
    return archive_response(account, export_connectors(current_app), language=language)


def codes_waiting(session: Session, account: Account) -> list[Attention]:
    """On the account page: every code that still works, with a button to revoke it."""
    return [
        Attention(
            message=_(
                "A transfer code created on %(created)s lets another panel download your "
                "data once, until %(expires)s.",
                created=human_datetime(code.created_at),
                expires=human_datetime(code.expires_at),
            ),
            action=(
                url_for(
                    "export.revoke_transfer_code",
                    code_id=code.id,
                    next=url_for("accounts.overview"),
                ),
                _("Revoke this code"),
            ),
        )
        for code in transfer.valid_codes(session, account.id)
    ]
