"""Views of the accounts area: thin wrappers over app.accounts.services."""

from __future__ import annotations

from functools import partial
from typing import Any
from urllib.parse import quote

from flask import (
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import refresh as refresh_locale
from flask_login import current_user, login_user, logout_user

from app import audit, dates
from app.accounts import bp, services, sso
from app.accounts.attention import attention_for, overview_for
from app.accounts.forms import LoginForm, ReauthForm, TimeZoneForm
from app.accounts.throttle import DEVICE_COOKIE, DeviceCookies, LoginThrottle
from app.db import get_session
from app.extensions import directory, limiter
from app.paging import paginate
from app.profile.loading import current_profile
from app.security import (
    gate_exempt,
    mark_reauthenticated,
    open_to_visitors,
    public_endpoint,
    rotate_session,
    safe_next,
)
from app.urls import base_origin


def _login_throttle() -> LoginThrottle | None:
    if not limiter.enabled:
        return None
    return LoginThrottle(limiter.limiter, str(current_app.config["LOGIN_LIMIT_PER_LOGIN"]))


def _device_cookies() -> DeviceCookies:
    days = int(current_app.config["LOGIN_DEVICE_COOKIE_DAYS"])
    return DeviceCookies(str(current_app.config["SECRET_KEY"]), days * 86400)


def _remember_device(response: Any, value: str, max_age: int) -> None:
    """This browser signed in as this login: later failures here count for it alone."""
    config = current_app.config
    response.set_cookie(
        DEVICE_COOKIE,
        value,
        max_age=max_age,
        httponly=True,
        secure=bool(config["SESSION_COOKIE_SECURE"]),
        samesite="Strict",
        path=config.get("APPLICATION_ROOT") or "/",
    )


def _reauth_key() -> str:
    return f"reauth:{current_user.get_id()}"


def _per_login_limit() -> str:
    return str(current_app.config["LOGIN_LIMIT_PER_LOGIN"])


def _per_address_limit() -> str:
    return str(current_app.config["LOGIN_LIMIT_PER_ADDRESS"])


@bp.route("/login", methods=["GET", "POST"])
@public_endpoint
@limiter.limit(_per_address_limit, methods=["POST"], scope="login-address")
def login() -> ResponseReturnValue:
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if current_user.is_authenticated and request.method == "GET":
        return redirect(safe_next(form.next.data))
    if request.method == "POST" and not current_app.config.get("PASSWORD_LOGIN", True):
        abort(404)  # only the identity provider signs people in (app/oidc/)
    error = None
    throttle, devices = _login_throttle(), _device_cookies()
    device = devices.read(request.cookies.get(DEVICE_COOKIE))
    typed_login = form.login.data or ""
    device_nonce = devices.nonce_for(device, typed_login)
    if request.method == "POST" and throttle:
        g.panel_retry_at = throttle.blocked_until(typed_login, device_nonce)
        if g.panel_retry_at is not None:
            abort(429)
    if form.validate_on_submit():
        db = get_session()
        try:
            account = services.sign_in(db, directory(), typed_login, form.password.data or "")
        except services.InvalidCredentials:
            # The failed attempt is on record although the page answers 422: commit it.
            db.commit()
            if throttle:
                throttle.record_failure(typed_login, device_nonce)
            error = _("That login and password do not match. Check them and try again.")
        else:
            if throttle:
                throttle.record_success(typed_login, device_nonce)
            rotate_session()
            _settle_language(account)
            db.commit()
            login_user(account)
            mark_reauthenticated()
            # The locale of this request was chosen before anyone was signed in.
            refresh_locale()
            flash(_("Welcome, %(name)s.", name=account.display_name), "success")
            response = redirect(safe_next(form.next.data))
            _remember_device(
                # The login as typed: strangers are counted under what they type, too.
                response,
                devices.issue(typed_login, device),
                devices.max_age_seconds,
            )
            return response
    status = 200 if not (form.errors or error) else 422
    demo_people = current_app.extensions.get("panel_demo_people")
    return (
        render_template("accounts/login.html", form=form, error=error, demo_people=demo_people),
        status,
    )


@bp.route("/logout", methods=["POST"])
@public_endpoint
@gate_exempt
def logout() -> ResponseReturnValue:
    db = get_session()
    # Read before the session is cleared: the identity provider's own sign-out, if any.
    provider_sign_out = current_app.extensions.get("panel_end_session_url")
    leave_to = provider_sign_out() if provider_sign_out else None
    if current_user.is_authenticated:
        services.sign_out(db, current_user._get_current_object())
    logout_user()
    # The session ends on the server first; only then is the sign-out recorded.
    rotate_session()
    flash(_("You are signed out."), "success")
    return redirect(leave_to or url_for("accounts.login"))


@bp.route("/")
@open_to_visitors
def overview() -> str:
    if not current_user.is_authenticated:
        return public_home()

    db = get_session()
    account = current_user._get_current_object()
    waiting = attention_for(current_app, db, account)
    cards = overview_for(current_app, db, account)
    return render_template(
        "accounts/overview.html",
        waiting=waiting,
        zone_choice=(
            "hoster" if request.cookies.get(dates.ZONE_COOKIE) == dates.FIXED else "device"
        ),
        zone_field=_zone_field,
        reader_zone=dates.reader_zone_name(),
        hoster_zone=current_app.config["BABEL_DEFAULT_TIMEZONE"],
        **cards,
    )


def _zone_field(choice: str) -> Any:
    """The zone choice as the account page shows it. The template renders it once per
    language and choice (a fragment), so the form is built only then, not on every visit."""
    form = TimeZoneForm(formdata=None)
    form.zone.data = choice
    return form.zone


@bp.route("/account/timezone", methods=["POST"])
@gate_exempt
def set_time_zone() -> ResponseReturnValue:
    """Pin the hoster's zone, or go back to the device's (static/timezone.js sets it again
    on the next page). A display preference of this browser: a cookie, nothing stored."""
    form = TimeZoneForm()
    response = redirect(url_for("accounts.overview", _anchor="times-title"))
    if not form.validate():
        flash(_("Choose where times are shown from the list."), "error")
        return response
    if form.zone.data == "hoster":
        response.set_cookie(
            dates.ZONE_COOKIE,
            dates.FIXED,
            max_age=365 * 86400,
            secure=bool(current_app.config["SESSION_COOKIE_SECURE"]),
            samesite="Lax",
        )
        flash(_("Times are now shown in the hoster's time zone."), "success")
    else:
        response.delete_cookie(dates.ZONE_COOKIE)
        flash(_("Times will follow your device's time zone from the next page on."), "success")
    return response


def public_home() -> str:
    """Visitors' home: who the hoster is, the status at a glance, where to read more and
    how to reach the team without an account."""
    summary = current_app.extensions.get("panel_status_summary")
    return render_template(
        "accounts/home.html",
        profile=current_profile(),
        contact_form=_contact_form(),
        states=summary() if summary else [],
    )


def _contact_form() -> bool:
    """Whether the support feature offers visitors its public contact form."""
    offer = current_app.extensions.get("panel_contact_form")
    return bool(offer and offer())


@bp.route("/account/activity")
@gate_exempt
def activity() -> str:
    listing = paginate(
        partial(audit.events_for_account, get_session(), current_user.id), per_page=50
    )
    return render_template("accounts/activity.html", events=listing.items, **listing.pager())


@bp.route("/account/confirm", methods=["GET", "POST"])
@gate_exempt
@limiter.limit(_per_login_limit, methods=["POST"], key_func=lambda: _reauth_key(), scope="reauth")
def reauth() -> ResponseReturnValue:
    form = ReauthForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
        sso_url = current_app.config.get("SSO_REAUTH_URL")
        if sso_url and sso.header_login():
            # The SSO portal asks for the password; its auth-time header brings us back.
            # The next path already carries the URL prefix: add only the public origin.
            target = base_origin(current_app) + safe_next(form.next.data)
            return redirect(sso_url.replace("{next}", quote(target, safe="")))
    error = None
    if form.validate_on_submit():
        db = get_session()
        ok = services.confirm_password(
            db, directory(), current_user._get_current_object(), form.password.data or ""
        )
        # A wrong password is on record although the page answers 422: commit it now.
        db.commit()
        if ok:
            mark_reauthenticated()
            return redirect(safe_next(form.next.data))
        error = _("That password is not right. Try again.")
    status = 200 if not (form.errors or error) else 422
    return render_template("accounts/reauth.html", form=form, error=error), status


@bp.route("/language/<code>")
@public_endpoint
@gate_exempt
def choose_language(code: str) -> ResponseReturnValue:
    """The header's language links. Only the reader's language preference changes (their
    session, and for a signed-in person their account), so this needs no CSRF token: a
    forged link could at worst switch their pages and mail to the other language, which the
    same links switch back."""
    if code in current_app.config["LANGUAGES"]:
        _choose(code)
    return redirect(safe_next(request.args.get("next")))


@bp.route("/language", methods=["POST"])
@public_endpoint
@gate_exempt
def set_language() -> ResponseReturnValue:
    """The same as a form (for scripts and old links); CSRF-checked like every POST."""
    language = request.form.get("lang", "")
    if language in current_app.config["LANGUAGES"]:
        _choose(language)
    return redirect(safe_next(request.form.get("next")))


def _choose(language: str) -> None:
    """The switch: this browser's pages, and for a signed-in person their account, so the
    choice outlives the session and their mail follows it."""
    session["lang"] = language
    if current_user.is_authenticated:
        db = get_session()
        services.choose_language(db, current_user._get_current_object(), language)
        db.commit()


def _settle_language(account: Any) -> None:
    """At sign-in the account's stored choice wins; a choice made on this browser before
    signing in is stored when the account has none yet."""
    chosen = services.settle_language(account, session.get("lang"), current_app.config["LANGUAGES"])
    if chosen:
        session["lang"] = chosen
