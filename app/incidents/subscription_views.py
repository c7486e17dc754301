"""Subscribe to incident mail, confirm, manage, and the one-click unsubscribe of RFC 8058."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import EmailField, SelectChoice

from app.db import discard_changes, get_session
from app.extensions import csrf, limiter, running_app
from app.incidents import bp
from app.incidents import subscriptions as subs
from app.incidents.forms import CheckboxesField
from app.links import external_url
from app.mail import queue_mail, send_soon
from app.profile import current_profile
from app.security import gate_exempt, public_endpoint


class SubscribeForm(FlaskForm):
    email = EmailField(_l("Your e-mail address"))
    services = CheckboxesField(
        _l("Services"),
        description=_l("Choose none to receive mail about every service."),
    )


class ServicesForm(FlaskForm):
    services = CheckboxesField(
        _l("Services"),
        description=_l("Choose none to receive mail about every service."),
    )


def _choices() -> list[SelectChoice]:
    return [SelectChoice(s.slug, s.name) for s in current_profile().services]


def _known() -> list[str]:
    return list(current_profile().service_slugs)


def _secret() -> str:
    return str(current_app.config["SECRET_KEY"])


def _language() -> str:
    return str(get_locale() or current_app.config["LANGUAGES"][0])


def _preselected() -> list[str]:
    known = set(_known())
    return [s for s in request.args.getlist("service") if s in known]


def _field_error(form: Any, error: subs.SubscriptionError) -> str | None:
    target = getattr(form, error.field, None) if error.field else None
    if target is not None:
        target.errors = [*list(target.errors), str(error.message)]
        return None
    return str(error.message)


def _send_confirmation(subscription: subs.IncidentSubscription) -> None:
    secret = _secret()
    queue_mail(
        get_session(),
        to=subscription.email,
        template="incident_subscription_confirm",
        purpose="incidents.subscription_confirm",
        # Sent by the worker: an answer that waited for SMTP would tell whoever types an
        # address whether it was already subscribed.
        by_worker=True,
        confirmed=subscription.confirmed_at is not None,
        confirm_link=external_url(
            "incidents.confirm_subscription",
            token=subs.make_token(secret, "confirm", subscription),
        ),
        manage_link=external_url(
            "incidents.manage_subscription", token=subs.make_token(secret, "manage", subscription)
        ),
        hours=subs.CONFIRM_HOURS,
    )


@bp.route("/incidents/subscribe", methods=["GET", "POST"])
@public_endpoint
@gate_exempt
@limiter.limit("10 per hour", methods=["POST"])
def subscribe() -> Any:
    """Visitors type an address; signed-in people subscribe their directory address."""
    form = SubscribeForm()
    form.services.choices = _choices()
    if request.method == "GET":
        form.services.data = _preselected()
    db = get_session()
    error = None
    if current_user.is_authenticated:
        del form.email
        mine = subs.find_for_account(db, current_user._get_current_object())
        if mine is not None:
            return redirect(
                url_for(
                    "incidents.manage_subscription",
                    token=subs.make_token(_secret(), "manage", mine),
                )
            )
    if form.validate_on_submit():
        try:
            if current_user.is_authenticated:
                subs.subscribe_account(
                    db,
                    current_user._get_current_object(),
                    services=form.services.data or [],
                    known_services=_known(),
                    language=_language(),
                )
            else:
                pending = subs.request_subscription(
                    db,
                    email=form.email.data or "",
                    services=form.services.data or [],
                    known_services=_known(),
                    language=_language(),
                )
                if pending is not None:
                    _send_confirmation(pending)
        except subs.SubscriptionError as exc:
            discard_changes()
            error = _field_error(form, exc)
        else:
            if current_user.is_authenticated:
                flash(_("Done: you will receive incident mail at your address."), "success")
                return redirect(url_for("incidents.journal"))
            # Whether or not a mail was queued, so both answers take the same path.
            send_soon(running_app())
            return render_template("incidents/subscription_sent.html")
    status = 422 if request.method == "POST" else 200
    return render_template("incidents/subscribe.html", form=form, error=error), status


@bp.route("/incidents/subscription/confirm/<token>", methods=["GET", "POST"])
@public_endpoint
@gate_exempt
def confirm_subscription(token: str) -> Any:
    """A page with a button: mail scanners that open links must not confirm for people."""
    db = get_session()
    subscription = subs.read_token(db, _secret(), "confirm", token)
    if subscription is None:
        return render_template("incidents/subscription_gone.html"), 404
    form = FlaskForm()
    if form.validate_on_submit():
        subs.confirm_subscription(db, subscription)
        flash(_("Your subscription is confirmed."), "success")
        return redirect(
            url_for(
                "incidents.manage_subscription",
                token=subs.make_token(_secret(), "manage", subscription),
            )
        )
    return render_template("incidents/subscription_confirm.html", form=form)


@bp.route("/incidents/subscription/<token>", methods=["GET", "POST"])
@public_endpoint
@gate_exempt
def manage_subscription(token: str) -> Any:
    db = get_session()
    subscription = subs.read_token(db, _secret(), "manage", token)
    if subscription is None or subscription.confirmed_at is None:
        return render_template("incidents/subscription_gone.html"), 404
    form = ServicesForm()
    form.services.choices = _choices()
    if request.method == "GET":
        form.services.data = subscription.service_slugs
    error = None
    if form.validate_on_submit():
        try:
            subs.change_services(
                db, subscription, services=form.services.data or [], known_services=_known()
            )
        except subs.SubscriptionError as exc:
            discard_changes()
            error = _field_error(form, exc)
        else:
            flash(_("Your choice is saved."), "success")
            return redirect(url_for("incidents.manage_subscription", token=token))
    return render_template(
        "incidents/subscription_manage.html",
        form=form,
        error=error,
        subscription=subscription,
        unsubscribe_token=subs.make_token(_secret(), "unsubscribe", subscription),
    ), (422 if request.method == "POST" else 200)


@bp.route("/incidents/unsubscribe/<token>", methods=["GET", "POST"])
@public_endpoint
@gate_exempt
@csrf.exempt
def one_click_unsubscribe(token: str) -> Any:
    """RFC 8058: mail clients POST `List-Unsubscribe=One-Click` here without a session.

    Exempt from CSRF on purpose: the signed token in the URL is the authority (it names one
    subscription and only its owner received it); a forged request can only unsubscribe the
    address the token was mailed to. A GET only shows the button, so link scanners that
    open URLs unsubscribe nobody.
    """
    db = get_session()
    subscription = subs.read_token(db, _secret(), "unsubscribe", token)
    if request.method == "GET":
        if subscription is None:
            return render_template("incidents/subscription_gone.html"), 404
        return render_template("incidents/unsubscribe.html", token=token)
    if subscription is None:
        abort(404)
    subs.unsubscribe(db, subscription)
    return render_template("incidents/unsubscribed.html")


def subscription_of_reader() -> tuple[Any, str | None]:
    """For the journal page: the signed-in reader's subscription and its manage link."""
    if not current_user.is_authenticated:
        return None, None
    mine = subs.find_for_account(get_session(), current_user._get_current_object())
    if mine is None:
        return None, None
    return mine, url_for(
        "incidents.manage_subscription", token=subs.make_token(_secret(), "manage", mine)
    )
