"""/login/oidc/start, /login/oidc/callback and /login/oidc/backchannel-logout."""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import (
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from app.db import get_session
from app.extensions import directory
from app.oidc import bp, current_provider, redirect_uris, services
from app.oidc.client import OpenIDProvider, ProviderUnavailable, TokenRefused
from app.security import (
    gate_exempt,
    mark_reauthenticated,
    public_endpoint,
    rotate_session,
    safe_next,
)
from app.sessions import session_store

log = logging.getLogger(__name__)

# Sign-ins started and not finished yet, per browser session (several tabs): the oldest go.
MAX_PENDING_FLOWS = 3
# A sign-in left at the provider longer than this must be started again.
FLOW_SECONDS = 900


def _provider() -> OpenIDProvider:
    provider = current_provider()
    if provider is None:
        abort(404)
    return provider


def _provider_name() -> str:
    return str(current_app.config["OIDC_PROVIDER_NAME"])


def _callback_uri() -> str:
    return redirect_uris(current_app)["redirect URI"]


def _problem(title: str, message: str, status: int) -> tuple[str, int]:
    return (
        render_template(
            "oidc/problem.html",
            title=title,
            message=message,
            provider=_provider_name(),
            password_login=bool(current_app.config["PASSWORD_LOGIN"]),
        ),
        status,
    )


def _unavailable(exc: ProviderUnavailable) -> tuple[str, int]:
    log.warning("OpenID provider unavailable: %s", exc)
    return _problem(
        _("Sign-in service unavailable"),
        _(
            "%(provider)s, where you sign in, does not answer right now. "
            "Try again in a few minutes.",
            provider=_provider_name(),
        ),
        503,
    )


def _refused(reason: str) -> tuple[str, int]:
    """A sign-in that failed a check: nobody stays signed in through it."""
    db = get_session()
    account_id = current_user.id if current_user.is_authenticated else None
    services.record_refusal(db, reason, account_id=account_id)
    db.commit()
    if current_user.is_authenticated:
        logout_user()
    rotate_session()
    return _problem(
        _("Sign-in refused"),
        _(
            "The answer from %(provider)s could not be trusted, so you are not signed in. "
            "Start again; if this keeps happening, tell the hosting team.",
            provider=_provider_name(),
        ),
        400,
    )


@bp.route("/login/oidc/start")
@public_endpoint
@gate_exempt
def start() -> Any:
    """Send the browser to the provider: a sign-in, or (reauth=1) a fresh password there."""
    provider = _provider()
    reauth = request.args.get("reauth") == "1" and current_user.is_authenticated
    next_path = safe_next(request.args.get("next"))
    if current_user.is_authenticated and not reauth:
        return redirect(next_path)
    try:
        flow = provider.authorization_request(
            _callback_uri(), max_age=0 if reauth else None, ui_locales=str(get_locale() or "")
        )
    except ProviderUnavailable as exc:
        return _unavailable(exc)
    pending = dict(session.get("oidc_flows") or {})
    for state in sorted(pending, key=lambda s: pending[s].get("at", 0))[: -MAX_PENDING_FLOWS + 1]:
        pending.pop(state, None)
    # Kept on the server (the session store), never in the cookie; used once.
    pending[flow.state] = {
        "nonce": flow.nonce,
        "verifier": flow.code_verifier,
        "next": next_path,
        "reauth": reauth,
        "at": int(time.time()),
    }
    session["oidc_flows"] = pending
    return redirect(flow.url)


@bp.route("/login/oidc/callback")
@public_endpoint
@gate_exempt
def callback() -> Any:
    provider = _provider()
    pending = dict(session.get("oidc_flows") or {})
    state = request.args.get("state", "")
    flow = pending.pop(state, None) if state else None
    session["oidc_flows"] = pending
    if not flow or time.time() - flow.get("at", 0) > FLOW_SECONDS:
        return _refused("unknown or used state")
    issuer = request.args.get("iss")
    if issuer is not None and issuer != provider.settings.issuer:
        # RFC 9207: an answer from another provider (mix-up attack).
        return _refused("issuer in the answer differs")
    if request.args.get("error"):
        return _cancelled(str(request.args.get("error"))[:64])
    code = request.args.get("code", "")
    if not code:
        return _refused("no code")
    if flow["reauth"] and not current_user.is_authenticated:
        return _refused("re-authentication without a session")
    login_claim = str(current_app.config["OIDC_LOGIN_CLAIM"])
    try:
        signed_in = provider.finish_sign_in(
            code=code,
            redirect_uri=_callback_uri(),
            code_verifier=flow["verifier"],
            nonce=flow["nonce"],
            wanted_claim=login_claim,
            max_age=0 if flow["reauth"] else None,
        )
    except ProviderUnavailable as exc:
        return _unavailable(exc)
    except TokenRefused as exc:
        return _refused(exc.reason)
    if flow["reauth"]:
        return _finish_reauth(signed_in, flow, login_claim)
    return _finish_sign_in(signed_in, flow, login_claim)


def _cancelled(error: str) -> Any:
    """The person (or the provider) stopped at the provider: nothing is signed in."""
    db = get_session()
    services.record_refusal(
        db,
        f"provider answered {error}",
        account_id=current_user.id if current_user.is_authenticated else None,
    )
    db.commit()
    return _problem(
        _("Not signed in"),
        _(
            "%(provider)s did not confirm who you are (the sign-in was cancelled or refused "
            "there). You can start again.",
            provider=_provider_name(),
        ),
        403,
    )


def _remember(signed_in: Any) -> None:
    session["oidc"] = {"sub": signed_in.sub, "sid": signed_in.sid, "id_token": signed_in.id_token}


def _finish_sign_in(signed_in: Any, flow: dict[str, Any], login_claim: str) -> Any:
    db = get_session()
    try:
        account = services.sign_in_through_provider(
            db, directory(), signed_in, login_claim=login_claim, provider=_provider_name()
        )
    except services.NotAHostedAccount:
        db.commit()
        rotate_session()
        return _problem(
            _("No hosted account"),
            _(
                "Your account at %(provider)s is not a hosted account here, so it cannot "
                "open this panel. If you think it should, contact the hosting team.",
                provider=_provider_name(),
            ),
            403,
        )
    db.commit()
    rotate_session()
    login_user(account)
    # The provider just checked who she is: as recent as a typed password, from that moment.
    mark_reauthenticated(at=signed_in.auth_time)
    _remember(signed_in)
    flash(_("Welcome, %(name)s.", name=account.display_name), "success")
    return redirect(safe_next(flow.get("next")))


def _finish_reauth(signed_in: Any, flow: dict[str, Any], login_claim: str) -> Any:
    db = get_session()
    account = current_user._get_current_object()
    try:
        services.confirm_reauthentication(
            db,
            directory(),
            account,
            signed_in,
            login_claim=login_claim,
            asked_at=int(flow["at"]),
            leeway=int(current_app.config["OIDC_CLOCK_SKEW"]),
        )
    except services.NotTheSamePerson:
        db.commit()
        logout_user()
        rotate_session()
        return _problem(
            _("Someone else signed in"),
            _(
                "You confirmed at %(provider)s as another person, so you are signed out here. "
                "Sign in again with your own account.",
                provider=_provider_name(),
            ),
            403,
        )
    except services.ReauthNotHonoured:
        db.commit()
        return _problem(
            _("Your identity could not be confirmed"),
            _(
                "%(provider)s did not ask for your password again, so the panel cannot be sure "
                "it is you. This action stays refused; tell the hosting team that the sign-in "
                "service ignores requests to confirm the password (max_age).",
                provider=_provider_name(),
            ),
            403,
        )
    db.commit()
    mark_reauthenticated()
    _remember(signed_in)
    return redirect(safe_next(flow.get("next")))


@bp.route("/login/oidc/backchannel-logout", methods=["POST"])
@public_endpoint
@gate_exempt
def backchannel_logout() -> Any:
    """OpenID Connect Back-Channel Logout 1.0: the provider ends a session here.

    Exempt from CSRF on purpose: the signed logout token is the authority (checked for its
    signature, issuer, audience, age, event and a jti never seen before).
    """
    provider = _provider()
    raw = request.form.get("logout_token", "")
    db = get_session()
    try:
        logout = provider.check_logout_token(raw)
        services.end_provider_sessions(
            db,
            session_store(),
            logout,
            issuer=provider.settings.issuer,
            provider=_provider_name(),
        )
    except ProviderUnavailable as exc:
        log.warning("back-channel logout not checked, provider unavailable: %s", exc)
        return _logout_answer({"error": "temporarily_unavailable"}, 503)
    except TokenRefused as exc:
        db.rollback()
        services.record_refusal(db, f"logout token: {exc.reason}")
        db.commit()
        return _logout_answer({"error": "invalid_request", "error_description": exc.reason}, 400)
    except services.ReplayedLogoutToken:
        db.rollback()
        services.record_refusal(db, "logout token replayed")
        db.commit()
        return _logout_answer(
            {"error": "invalid_request", "error_description": "token already used"}, 400
        )
    db.commit()
    return _logout_answer(None, 200)


def _logout_answer(body: dict[str, str] | None, status: int) -> Response:
    response = jsonify(body) if body is not None else Response("", mimetype="text/plain")
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response
