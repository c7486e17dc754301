"""Views of the deletion area: the user's page and the staff queue; thin over the services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
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
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import select

from app.accounts.models import Account
from app.actions import ActionForm, staff_action
from app.connectors.base import service_connectors
from app.db import discard_changes, get_or_404, get_session, utcnow
from app.deletion import bp, jobs, pipeline, queue, requests, steps
from app.deletion.forms import ManualStepForm, RefuseForm, RequestDeletionForm
from app.deletion.models import DeletionRequest, DeletionStep
from app.deletion.outcomes import describe_outcome, describe_outcome_text
from app.deletion.plan import kept_reason, preview_deletion
from app.deletion.receipt import (
    NOTHING,
    hoster_domains,
    how_done,
    on_hoster_domain,
    receipt_lines,
    receipt_ready,
)
from app.deletion.steps import step_label
from app.extensions import running_app
from app.mail import InvalidRecipient, checked_recipient
from app.paging import Page, one_of, page_number, paginate
from app.profile.loading import current_profile
from app.security import gate_exempt, recently_authenticated, require_recent_auth, staff_required


def _settings() -> requests.DeletionSettings:
    return requests.DeletionSettings.from_config(current_app.config)


def _plan() -> list[requests.ServicePlan]:
    return requests.plan_services(current_profile(), service_connectors(current_app))


@dataclass(frozen=True)
class TimelineEntry:
    label: str
    when: datetime | None
    status: str  # done, next, later, stopped


def timeline(req: DeletionRequest) -> list[TimelineEntry]:
    """What happened and what comes next, in order, for the user's page."""
    entries = [TimelineEntry(_("Request received"), req.requested_at, "done")]
    if req.state == "cancelled":
        entries.append(TimelineEntry(_("Cancelled"), req.cancelled_at, "stopped"))
        return entries
    if req.state == "refused":
        entries.append(TimelineEntry(_("Refused by the team"), req.refused_at, "stopped"))
        return entries
    waiting = req.state == "requested"
    entries.append(
        TimelineEntry(
            _("End of the grace period: you can cancel until then"),
            req.grace_until,
            "next" if waiting else "done",
        )
    )
    entries.append(
        TimelineEntry(
            _("Approved; deletion started"),
            req.approved_at,
            "done" if req.approved_at else "later",
        )
    )
    for step in req.steps:
        status = "done" if step.state == "done" else "later"
        if status != "done":
            label = _("Deletion of: %(what)s", what=step_label(step))
        elif how_done(step) == NOTHING:
            label = _("Nothing of yours to delete: %(what)s", what=step_label(step))
        else:
            label = _("Deleted: %(what)s", what=step_label(step))
        entries.append(
            TimelineEntry(
                label,
                step.finished_at if step.state == "done" else None,
                status,
            )
        )
    entries.append(
        TimelineEntry(
            _("Completed; the receipt is e-mailed to the address you gave")
            if req.receipt_to
            else _("Completed; a receipt is e-mailed to you"),
            req.completed_at,
            "done" if req.completed_at else "later",
        )
    )
    return entries


# User pages ------------------------------------------------------------------------------


def _hoster_domains(account: Account) -> set[str]:
    return hoster_domains(
        current_profile(),
        mail_from=current_app.config.get("MAIL_FROM"),
        person_email=account.email,
    )


def _check_receipt_address(form: RequestDeletionForm, account: Account) -> bool:
    """A usable outside address, or none; a warning (to confirm) when it looks like ours."""
    address = (form.receipt_to.data or "").strip()
    if not address:
        return True
    try:
        checked_recipient(address)
    except InvalidRecipient:
        form.receipt_to.errors = [_("Enter one e-mail address, like name@example.org.")]
        return False
    domain = on_hoster_domain(address, _hoster_domains(account))
    if domain and not form.receipt_anyway.data:
        form.receipt_to.errors = [
            _(
                "This address is at %(domain)s, like your account's address or our services: "
                "if that mailbox is deleted with your account, the receipt is lost. Give an "
                "address elsewhere, or tick the box below to use it anyway.",
                domain=domain,
            )
        ]
        return False
    return True


@bp.route("/account/deletion", methods=["GET", "POST"])
@gate_exempt
def request_page() -> ResponseReturnValue:
    db = get_session()
    account = current_user._get_current_object()
    active = requests.active_request(db, account.id)
    form = RequestDeletionForm()
    form.confirm_login.description = _(
        "Your login is %(login)s. Type it exactly to confirm the deletion.", login=account.uid
    )
    if request.method == "POST":
        again = require_recent_auth()
        if again is not None:
            flash(_("Confirm your password first, then ask again."), "error")
            return again
        if active is not None:
            flash(_("You already have a deletion request in progress."), "error")
            return redirect(url_for("deletion.request_page"))
        if form.validate_on_submit() and _check_receipt_address(form, account):
            settings = _settings()
            try:
                requests.request_deletion(
                    db,
                    account,
                    confirm_login=form.confirm_login.data or "",
                    plan=_plan(),
                    settings=settings,
                    page_url=url_for("deletion.request_page", _external=True),
                    receipt_to=form.receipt_to.data,
                )
            except requests.WrongConfirmation:
                discard_changes()
                form.confirm_login.errors = [
                    _("This is not your login. Type %(login)s exactly.", login=account.uid)
                ]
            except requests.AlreadyActive:
                discard_changes()
                flash(_("You already have a deletion request in progress."), "error")
                return redirect(url_for("deletion.request_page"))
            else:
                if settings.grace_days:
                    flash(
                        ngettext(
                            "Your request is registered. You can cancel it for %(num)s day.",
                            "Your request is registered. You can cancel it for %(num)s days.",
                            settings.grace_days,
                        ),
                        "success",
                    )
                else:
                    flash(_("Your request is registered."), "success")
                return redirect(url_for("deletion.request_page"))
    status = 422 if request.method == "POST" else 200
    return render_template(
        "deletion/request.html",
        active=active,
        previous=None if active else requests.latest_closed_request(db, account.id),
        timeline=timeline(active) if active else [],
        cancellable=active is not None and requests.cancellable(active),
        plan=_plan(),
        form=form,
        reauth_needed=not recently_authenticated(),
        settings=_settings(),
        step_label=step_label,
        now=utcnow(),
        receipt=_receipt_context(active) if active and receipt_ready(active) else None,
        own_address_at_hoster=bool(
            account.email and on_hoster_domain(account.email, _hoster_domains(account))
        ),
        ask_anyway=bool(form.receipt_to.errors and form.receipt_to.data)
        or bool(form.receipt_anyway.data),
    ), status


def _receipt_context(req: DeletionRequest) -> dict[str, object]:
    return {
        "request": req,
        "lines": receipt_lines(req),
        "retention": {s.slug: s.retention for s in current_profile().services if s.retention},
        "step_label": step_label,
        "describe_outcome": describe_outcome_text,
        "now": utcnow(),
    }


@bp.route("/account/deletion/receipt.txt")
@gate_exempt
def receipt_file() -> ResponseReturnValue:
    """The receipt so far, as a file to keep: the account (and maybe its mailbox) is going."""
    active = requests.active_request(get_session(), current_user.id)
    if active is None or not receipt_ready(active):
        abort(404)
    text = render_template("deletion/receipt.txt", **_receipt_context(active))
    return Response(
        text.strip() + "\n",
        mimetype="text/plain",
        headers={"Content-Disposition": f'attachment; filename="deletion-receipt-{active.id}.txt"'},
    )


@bp.route("/account/deletion/cancel", methods=["POST"])
@gate_exempt
def cancel() -> ResponseReturnValue:
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    db = get_session()
    active = requests.active_request(db, current_user.id)
    if active is None:
        flash(_("There is no deletion request to cancel."), "error")
        return redirect(url_for("deletion.request_page"))
    try:
        requests.cancel_deletion(db, active, actor_id=current_user.id)
    except requests.NotCancellable:
        discard_changes()
        flash(_("Deletion has already started and can no longer be cancelled."), "error")
    else:
        flash(_("Your deletion request is cancelled. Your account stays as it is."), "success")
    return redirect(url_for("deletion.request_page"))


# Staff pages -----------------------------------------------------------------------------

SHOW = ("open", "completed", "cancelled", "refused")


@bp.route("/staff/deletions")
@staff_required
def staff_queue() -> str:
    # A list that does not exist is an address that does not exist.
    show = one_of(request.args.get("show", "open"), SHOW, None) or abort(404)
    page = page_number()
    db = get_session()
    rows: list[queue.QueueRow] = []
    closed: Page[DeletionRequest] = Page(items=[], page=page, pages=0, total=0)
    if show == "open":
        rows = queue.open_queue(db, _settings())
    else:
        closed = paginate(partial(queue.closed_requests, db, show), per_page=50, page=page)
    return render_template(
        "deletion/staff_queue.html",
        show=show,
        rows=rows,
        closed=closed.items,
        **closed.pager(),
        now=utcnow(),
    )


def _staff_step(req: DeletionRequest, step_id: int) -> DeletionStep:
    step = next((s for s in req.steps if s.id == step_id), None)
    if step is None:
        abort(404)
    return step


def _names(ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = get_session().execute(
        select(Account.id, Account.display_name).where(Account.id.in_(wanted))
    )
    return {row.id: row.display_name for row in rows}


def _render_staff_request(
    req: DeletionRequest,
    *,
    refuse_form: RefuseForm | None = None,
    step_forms: dict[int, ManualStepForm] | None = None,
    status: int = 200,
    progress: dict[str, object] | None = None,
) -> tuple[str, int]:
    step_forms = dict(step_forms or {})
    for step in req.steps:
        by_hand = (step.mode == "manual" and step.state != "done") or (
            step.mode == "automatic" and step.kind == "service" and step.state == "failed"
        )
        if by_hand and step.id not in step_forms:
            step_forms[step.id] = ManualStepForm(prefix=f"step-{step.id}", formdata=None)
    staff_ids = {req.approved_by, req.refused_by} | {s.done_by for s in req.steps}
    settings = _settings()
    now = utcnow()
    return render_template(
        "deletion/staff_request.html",
        req=req,
        urgency=queue.urgency(req, now, settings.deadline_days) if req.is_active else None,
        staff_names=_names(staff_ids),
        refuse_form=refuse_form or RefuseForm(formdata=None),
        step_forms=step_forms,
        step_label=step_label,
        step_instructions=steps.step_instructions,
        describe_outcome=describe_outcome,
        can_approve=requests.due(req, now),
        previews=preview_deletion(current_app, req) if req.state == "requested" else None,
        kept_reason=kept_reason,
        now=now,
        progress=progress or {"working": steps.steps_in_progress(req), "auto": False},
    ), status


REFRESH_SECONDS = 5


@bp.route("/staff/deletions/<int:request_id>")
@staff_required
def staff_request(request_id: int) -> tuple[str, int, dict[str, str]]:
    req = get_or_404(DeletionRequest, request_id)
    # While the worker has steps to run, the page reloads itself (an HTTP Refresh header:
    # no script needed); staff can turn that off, as WCAG 2.2.1 asks.
    auto = request.args.get("refresh") != "off"
    working = steps.steps_in_progress(req)
    html, status = _render_staff_request(
        req, progress={"working": working, "auto": auto, "seconds": REFRESH_SECONDS}
    )
    headers = {"Refresh": str(REFRESH_SECONDS)} if working and auto else {}
    return html, status, headers


def _flash_run(report: pipeline.RunReport) -> None:
    if report.completed:
        flash(_("Deletion completed. The receipt is on its way."), "success")
        return
    parts = [ngettext("%(num)s step done", "%(num)s steps done", report.done)]
    if report.failed:
        parts.append(ngettext("%(num)s step failed", "%(num)s steps failed", report.failed))
    if report.waiting_manual:
        parts.append(
            ngettext(
                "%(num)s manual step waits for staff",
                "%(num)s manual steps wait for staff",
                report.waiting_manual,
            )
        )
    if report.busy:
        parts.append(
            ngettext(
                "%(num)s step is being run by someone else",
                "%(num)s steps are being run by someone else",
                report.busy,
            )
        )
    flash(". ".join(str(p) for p in parts) + ".", "error" if report.failed else "success")


def _run(req: DeletionRequest) -> None:
    """Hand the steps to the worker; the page then shows their progress."""
    app = running_app()
    report = jobs.queue_request(app, req.id, current_user.id)
    if report is None:
        flash(
            _("The automatic steps are queued; this page shows their progress as they run."),
            "success",
        )
    else:
        _flash_run(report)


def _back(req: DeletionRequest) -> str:
    return url_for("deletion.staff_request", request_id=req.id)


def _hand_off(req: DeletionRequest) -> None:
    # Committed before the hand-off: the worker (or, in immediate mode, this request)
    # runs the steps in its own transaction and must see this change.
    get_session().commit()
    _run(req)


@bp.route("/staff/deletions/<int:request_id>/approve", methods=["POST"])
@staff_required
def staff_approve(request_id: int) -> ResponseReturnValue:
    req = get_or_404(DeletionRequest, request_id)
    return staff_action(
        lambda: requests.approve_deletion(get_session(), req, actor_id=current_user.id),
        back=_back(req),
        refused={
            requests.NotDue: _("The grace period is not over: the user can still cancel."),
            requests.WrongState: _(
                "This request cannot be approved any more (cancelled or already approved)."
            ),
        },
        done=lambda _approved: _hand_off(req),
    )


@bp.route("/staff/deletions/<int:request_id>/run", methods=["POST"])
@staff_required
def staff_run(request_id: int) -> ResponseReturnValue:
    req = get_or_404(DeletionRequest, request_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    if req.state != "approved":
        flash(_("Only an approved request has steps to run."), "error")
        return redirect(_back(req))
    _run(req)
    return redirect(_back(req))


@bp.route("/staff/deletions/<int:request_id>/refuse", methods=["POST"])
@staff_required
def staff_refuse(request_id: int) -> ResponseReturnValue:
    req = get_or_404(DeletionRequest, request_id)
    form = RefuseForm()
    if not form.validate_on_submit():
        return _render_staff_request(req, refuse_form=form, status=422)
    db = get_session()
    try:
        requests.refuse_deletion(db, req, actor_id=current_user.id, reason=form.reason.data or "")
    except requests.WrongState:
        discard_changes()
        flash(
            _("This request can no longer be refused: deletion has started or it is closed."),
            "error",
        )
        return redirect(_back(req))
    flash(_("Request refused. The user sees your reason."), "success")
    return redirect(_back(req))


@bp.route("/staff/deletions/<int:request_id>/steps/<int:step_id>/retry", methods=["POST"])
@staff_required
def staff_retry(request_id: int, step_id: int) -> ResponseReturnValue:
    req = get_or_404(DeletionRequest, request_id)
    step = _staff_step(req, step_id)
    return staff_action(
        lambda: requests.retry_step(get_session(), step, actor_id=current_user.id),
        back=_back(req),
        refused={requests.WrongState: _("This step has not failed: nothing to retry.")},
        done=lambda _retried: _hand_off(req),
    )


@bp.route("/staff/deletions/<int:request_id>/steps/<int:step_id>/done", methods=["POST"])
@staff_required
def staff_step_done(request_id: int, step_id: int) -> ResponseReturnValue:
    req = get_or_404(DeletionRequest, request_id)
    step = _staff_step(req, step_id)
    form = ManualStepForm(prefix=f"step-{step.id}")
    if not form.validate_on_submit():
        return _render_staff_request(req, step_forms={step.id: form}, status=422)
    db = get_session()
    try:
        requests.mark_manual_step_done(
            db,
            step,
            actor_id=current_user.id,
            comment=form.comment.data or "",
            found_nothing=form.found.data == "nothing",
        )
    except requests.WrongState:
        discard_changes()
        flash(_("This step cannot be marked done now (approve the request first)."), "error")
        return redirect(_back(req))
    _hand_off(req)
    return redirect(_back(req))
