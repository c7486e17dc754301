"""Public register, canary and statistics pages; staff pages to keep the register."""

from __future__ import annotations

from datetime import date
from functools import partial

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
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user
from wtforms import Form

from app.db import discard_changes, get_or_404, get_session, utcnow
from app.paging import paginate
from app.profile.loading import current_profile
from app.security import gate_exempt, public_endpoint, staff_required
from app.transparency import bp, labels, services, statistics
from app.transparency.forms import AuthorityRequestForm, CanaryForm
from app.transparency.models import AuthorityRequest

PER_PAGE = 50


def _today() -> date:
    return services.local_today(current_profile().timezone)


def _register_hidden() -> bool:
    return not current_app.config["TRANSPARENCY_PUBLIC"] and not current_user.is_authenticated


def _label_context() -> dict[str, object]:
    return {
        "authority_kinds": labels.AUTHORITY_KIND_LABELS,
        "request_kinds": labels.REQUEST_KIND_LABELS,
        "responses": labels.RESPONSE_LABELS,
    }


@bp.route("/transparency")
@public_endpoint
@gate_exempt
def register() -> ResponseReturnValue:
    if _register_hidden():
        return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))
    db = get_session()
    listing = paginate(partial(services.list_requests, db), per_page=PER_PAGE)
    canary = services.current_canary(db)
    today = services.local_today(current_profile().timezone)
    return render_template(
        "transparency/register.html",
        requests=listing.items,
        **listing.pager(),
        years=services.yearly_counts(db),
        canary=canary,
        stale=canary is not None and services.canary_is_stale(canary, today),
        organisation=current_profile().organisation,
        **_label_context(),
    )


@bp.route("/transparency/canary.txt")
@public_endpoint
@gate_exempt
def canary_text() -> ResponseReturnValue:
    """The signed statement alone, byte for byte, to feed to `gpg --verify`."""
    if _register_hidden():
        return redirect(url_for("accounts.login", next=request.path))
    canary = services.current_canary(get_session())
    if canary is None or not canary.signed_text:
        abort(404)
    return Response(canary.signed_text, content_type="text/plain; charset=utf-8")


@bp.route("/stats")
@public_endpoint
@gate_exempt
def stats() -> str:
    window, figures = statistics.compute_all(get_session(), utcnow())
    return render_template(
        "transparency/stats.html",
        window=window,
        totals=[f for f in figures if f.kind != "monthly"],
        monthly=[f for f in figures if f.kind == "monthly"],
        small=statistics.SMALL_COUNT,
        month_label=lambda ym: format_date(date(ym[0], ym[1], 1), "LLLL y"),
    )


# Staff ------------------------------------------------------------------------------------


@bp.route("/staff/transparency")
@staff_required
def staff_register() -> str:
    db = get_session()
    listing = paginate(partial(services.list_requests, db), per_page=PER_PAGE)
    canary = services.current_canary(db)
    today = services.local_today(current_profile().timezone)
    return render_template(
        "transparency/staff_register.html",
        requests=listing.items,
        **listing.pager(),
        canary=canary,
        stale=canary is not None and services.canary_is_stale(canary, today),
        history=services.recent_history(db),
        **_label_context(),
    )


def _details(form: AuthorityRequestForm) -> services.RequestDetails:
    return services.RequestDetails(
        received_on=form.received_on.data,
        authority_kind=form.authority_kind.data or "",
        legal_basis=form.legal_basis.data or "",
        request_kind=form.request_kind.data or "",
        summary=form.summary.data or "",
        response=form.response.data or "",
        response_summary=form.response_summary.data,
        answered_on=form.answered_on.data,
        accounts_concerned=int(form.accounts_concerned.data or 0),
    )


def _attach(form: Form, error: services.TransparencyError) -> None:
    field = getattr(form, error.field, None)
    if field is not None:
        field.errors = [*field.errors, str(error.message)]


@bp.route("/staff/transparency/requests/new", methods=["GET", "POST"])
@staff_required
def staff_new_request() -> ResponseReturnValue:
    form = AuthorityRequestForm()
    if request.method == "GET":
        form.received_on.data = _today()
    if form.validate_on_submit():
        db = get_session()
        try:
            recorded = services.record_authority_request(
                db, _details(form), actor_id=current_user.id, today=_today()
            )
        except services.TransparencyError as error:
            discard_changes()
            _attach(form, error)
        else:
            flash(_("Request no. %(number)s is in the register.", number=recorded.id), "success")
            return redirect(url_for("transparency.staff_register"))
    status = 422 if form.errors else 200
    return render_template("transparency/staff_request_form.html", form=form, item=None), status


@bp.route("/staff/transparency/requests/<int:request_id>", methods=["GET", "POST"])
@staff_required
def staff_edit_request(request_id: int) -> ResponseReturnValue:
    db = get_session()
    item = get_or_404(AuthorityRequest, request_id)
    form = AuthorityRequestForm(obj=item)
    if form.validate_on_submit():
        try:
            services.update_authority_request(
                db, request_id, _details(form), actor_id=current_user.id, today=_today()
            )
        except services.TransparencyError as error:
            discard_changes()
            _attach(form, error)
        else:
            flash(_("Request no. %(number)s is updated.", number=request_id), "success")
            return redirect(url_for("transparency.staff_register"))
    status = 422 if form.errors else 200
    return render_template("transparency/staff_request_form.html", form=form, item=item), status


@bp.route("/staff/transparency/canary", methods=["GET", "POST"])
@staff_required
def staff_canary() -> ResponseReturnValue:
    db = get_session()
    form = CanaryForm()
    today = _today()
    current = services.current_canary(db)
    if request.method == "GET":
        form.statement_date.data = today
        if current is not None:
            form.statement.data = current.statement
            form.signing_key.data = current.signing_key
            form.next_update_by.data = today + (current.next_update_by - current.statement_date)
        else:
            form.statement.data = _(
                "%(name)s has not received any secret order, gag order or request from an "
                "authority that it is forbidden to disclose. No one has been given access to "
                "our servers or to our users' data outside the requests listed in this register.",
                name=current_profile().organisation.name,
            )
    if form.validate_on_submit():
        try:
            services.publish_canary(
                db,
                statement_date=form.statement_date.data,
                next_update_by=form.next_update_by.data,
                statement=form.statement.data or "",
                signed_text=form.signed_text.data,
                signing_key=form.signing_key.data,
                actor_id=current_user.id,
                today=today,
            )
        except services.TransparencyError as error:
            discard_changes()
            _attach(form, error)
        else:
            flash(_("The warrant canary statement is published."), "success")
            return redirect(url_for("transparency.staff_register"))
    status = 422 if form.errors else 200
    stale = current is not None and services.canary_is_stale(current, today)
    return render_template(
        "transparency/staff_canary.html", form=form, current=current, stale=stale
    ), status
