"""Staff views: the ticket queue, a ticket with replies and internal notes, saved replies."""

from __future__ import annotations

from typing import Any

from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import SelectChoice

from app.actions import staff_action
from app.db import discard_changes, get_or_404, get_session, parse_id
from app.paging import one_of, page_count, page_number
from app.security import staff_required
from app.staff import describe_mail_purpose
from app.support import bp, notifications, operations, queries, saved_replies
from app.support.forms import (
    CATEGORY_LABELS,
    AssignForm,
    CannedReplyForm,
    StaffReplyForm,
    StateForm,
)
from app.support.models import STATES, CannedReply
from app.support.settings import COUNT_CAP, PAGE_SIZE, SupportError, TicketNotFound
from app.support.views import (
    MAX_PAGE,
    apply_errors,
    send_reply,
    service_names,
)

STATE_LABELS = {
    "new": _l("New"),
    "waiting_staff": _l("Waiting for staff"),
    "waiting_user": _l("Waiting for the requester"),
    "closed": _l("Closed"),
}
STATE_FILTERS = {
    "needs_staff": _l("Needs an answer (new or waiting for staff)"),
    "open": _l("All open tickets"),
    **STATE_LABELS,
    "all": _l("All tickets"),
}


def _queue_filter() -> tuple[queries.QueueFilter, dict[str, str]]:
    """The queue filter from the query string; also the values to keep in page links."""
    args = request.args
    query = (args.get("q") or "").strip()[:200]
    state = one_of(
        args.get("state") or ("all" if query else "needs_staff"), STATE_FILTERS, "needs_staff"
    )
    service = one_of(args.get("service"), service_names(), "")
    assignee = args.get("assignee") or ""
    if assignee == "me":
        assignee = str(current_user.id)
    if assignee != "none" and parse_id(assignee) is None:
        assignee = ""
    sort = one_of(args.get("sort"), ("recent",), "waiting")
    kept = {"q": query, "state": state, "service": service, "assignee": assignee, "sort": sort}
    return (
        queries.QueueFilter(
            state=state,
            service=service or None,
            assignee=assignee or None,
            query=query,
            newest_first=sort == "recent",
        ),
        {k: v for k, v in kept.items() if v},
    )


@bp.route("/staff/tickets")
@staff_required
def staff_queue() -> str:
    page = page_number(MAX_PAGE)
    filters, kept = _queue_filter()
    db = get_session()
    found = queries.staff_queue(db, filters, page=page)
    if not found.tickets and page > 1:
        abort(404)
    pages = None if found.capped else page_count(found.total, PAGE_SIZE)
    return render_template(
        "support/staff_queue.html",
        found=found,
        count_cap=COUNT_CAP,
        page=page,
        pages=pages,
        kept=kept,
        filters=filters,
        state_filters=STATE_FILTERS,
        # Plain strings once, not a lazy translation per row.
        state_names={key: str(label) for key, label in STATE_LABELS.items()},
        services=service_names(),
        staff=queries.staff_members(db),
    )


def _staff_ticket(ticket_id: int) -> Any:
    try:
        return queries.get_ticket(get_session(), ticket_id)
    except TicketNotFound:
        abort(404)


def _filled_replies(ticket: Any) -> list[saved_replies.FilledReply]:
    """Every saved reply as it would go into this ticket: its person's language, filled."""
    requester = ticket.requester
    language = saved_replies.reply_language(
        requester.preferred_language if requester else ticket.contact_language
    )
    with force_locale(language):
        service = service_names().get(ticket.service, ticket.service)
    values = {
        # A visitor gave no name: the greeting stays neutral, never their address.
        "name": saved_replies.greeting_name(requester.display_name if requester else None),
        "ticket": f"#{ticket.id}",
        "subject": ticket.subject,
        "service": str(service),
        "staff": current_user.display_name,
        "hoster": current_app.config["HOSTER_NAME"],
    }
    return [
        saved_replies.fill_reply(reply, language=language, values=values)
        for reply in saved_replies.canned_replies(get_session())
    ]


def _staff_ticket_page(
    ticket: Any,
    *,
    reply_form: StaffReplyForm | None = None,
    assign_form: AssignForm | None = None,
    state_form: StateForm | None = None,
    inserted: saved_replies.FilledReply | None = None,
    status: int = 200,
) -> tuple[str, int]:
    db = get_session()
    staff = queries.staff_members(db)
    canned = _filled_replies(ticket)
    reply_form = reply_form or StaffReplyForm()
    if reply_form.body.data is None and request.method == "GET":
        # Kept for links made before saved replies were inserted from the reply form.
        chosen = request.args.get("canned", type=int)
        picked = next((c for c in canned if c.reply_id == chosen), None)
        if picked is not None:
            reply_form.body.data = picked.text
            inserted = picked
    assign_form = assign_form or AssignForm(assignee=str(ticket.assignee_id or ""))
    assign_form.assignee.choices = [
        ("", _("Nobody")),
        *((str(a.id), a.display_name) for a in staff),
    ]
    state_form = state_form or StateForm(state=ticket.state)
    state_form.state.choices = [SelectChoice(s, str(STATE_LABELS[s])) for s in STATES]
    return (
        render_template(
            "support/staff_ticket.html",
            ticket=ticket,
            thread=queries.thread(db, ticket.id, include_internal=True),
            others=queries.other_tickets(db, ticket),
            canned=canned,
            inserted=inserted,
            reply_form=reply_form,
            assign_form=assign_form,
            state_form=state_form,
            state_labels=STATE_LABELS,
            services=service_names(),
            categories=CATEGORY_LABELS,
            undelivered=notifications.undelivered_to_requester(db, ticket),
            mail_purpose=describe_mail_purpose,
        ),
        status,
    )


@bp.route("/staff/tickets/<int:ticket_id>")
@staff_required
def staff_ticket(ticket_id: int) -> tuple[str, int]:
    return _staff_ticket_page(_staff_ticket(ticket_id))


@bp.route("/staff/tickets/<int:ticket_id>/reply", methods=["POST"])
@staff_required
def staff_reply(ticket_id: int) -> ResponseReturnValue:
    found = _staff_ticket(ticket_id)
    form = StaffReplyForm()
    if request.form.get("action") == "insert":
        return _insert_saved_reply(found, form)
    internal = bool(form.internal.data)
    sent = send_reply(
        form,
        operations.reply_as_staff,
        ticket=found,
        author=current_user._get_current_object(),
        internal=internal,
        then_state=form.then_state.data or "waiting_user",
    )
    if sent is None:
        return _staff_ticket_page(_staff_ticket(ticket_id), reply_form=form, status=422)
    if internal:
        flash(_("Internal note added. The requester does not see it."), "success")
    else:
        flash(_("Reply sent to the requester."), "success")
    return redirect(url_for("support.staff_ticket", ticket_id=ticket_id, _anchor="latest"))


def _insert_saved_reply(ticket: Any, form: StaffReplyForm) -> tuple[str, int]:
    """Without JavaScript: the page again, the draft kept and the saved reply after it.

    Nothing is sent or saved; the draft travels in the form and comes back in the page.
    Files chosen for upload cannot come back (browsers never pre-fill a file input), so
    the page says to choose them again.
    """
    chosen = request.form.get("saved_reply", type=int)
    picked = next((c for c in _filled_replies(ticket) if c.reply_id == chosen), None)
    form.body.errors = []
    if picked is None:
        form.body.errors = [_("Choose a saved reply from the list.")]
        return _staff_ticket_page(ticket, reply_form=form, status=422)
    form.body.data = saved_replies.insert_into_draft(form.body.data or "", picked.text)
    if any(upload.filename for upload in request.files.getlist(form.attachments.name)):
        flash(
            _("Choose the files to attach again: they are not kept when a reply is inserted."),
            "error",
        )
    return _staff_ticket_page(ticket, reply_form=form, inserted=picked)


@bp.route("/staff/tickets/<int:ticket_id>/assign", methods=["POST"])
@staff_required
def staff_assign(ticket_id: int) -> ResponseReturnValue:
    found = _staff_ticket(ticket_id)
    form = AssignForm()
    db = get_session()
    raw = form.assignee.data or ""
    try:
        assignee_id = parse_id(raw)
        if raw and assignee_id is None:
            raise SupportError({"assignee": [_("Choose a staff member from the list.")]})
        assignee = operations.assign_ticket(
            db, found, assignee_id, current_user._get_current_object()
        )
    except SupportError as exc:
        discard_changes()
        apply_errors(form, exc.errors)
        return _staff_ticket_page(_staff_ticket(ticket_id), assign_form=form, status=422)
    if assignee is None:
        flash(_("The ticket is assigned to nobody."), "success")
    else:
        flash(_("The ticket is assigned to %(name)s.", name=assignee.display_name), "success")
    return redirect(url_for("support.staff_ticket", ticket_id=ticket_id))


@bp.route("/staff/tickets/<int:ticket_id>/state", methods=["POST"])
@staff_required
def staff_state(ticket_id: int) -> ResponseReturnValue:
    found = _staff_ticket(ticket_id)
    form = StateForm()
    db = get_session()
    try:
        changed = operations.change_state(
            db, found, form.state.data or "", current_user._get_current_object()
        )
    except SupportError as exc:
        discard_changes()
        apply_errors(form, exc.errors)
        return _staff_ticket_page(_staff_ticket(ticket_id), state_form=form, status=422)
    if changed:
        flash(_("State changed to “%(state)s”.", state=STATE_LABELS[found.state]), "success")
    return redirect(url_for("support.staff_ticket", ticket_id=ticket_id))


# Saved replies ---------------------------------------------------------------------------


@bp.route("/staff/tickets/replies", methods=["GET", "POST"])
@staff_required
def canned_replies() -> ResponseReturnValue:
    form = CannedReplyForm()
    db = get_session()
    status = 200
    if form.is_submitted():
        reply = _save_canned_reply(form, None)
        if reply is None:
            status = 422
        else:
            flash(_("Saved reply “%(title)s” added.", title=reply.title), "success")
            _warn_unknown_placeholders(reply)
            return redirect(url_for("support.canned_replies"))
    replies = saved_replies.canned_replies(db)
    return (
        render_template(
            "support/canned_replies.html",
            replies=replies,
            unknown={
                r.id: saved_replies.unknown_placeholders(f"{r.body}\n{r.body_en or ''}")
                for r in replies
            },
            form=form,
            placeholders=saved_replies.PLACEHOLDERS,
        ),
        status,
    )


def _save_canned_reply(form: CannedReplyForm, reply: CannedReply | None) -> CannedReply | None:
    """Add the form's saved reply, or change `reply`; None, with the errors beside their
    fields and nothing kept, when it is refused."""
    try:
        return saved_replies.save_canned_reply(
            get_session(),
            reply=reply,
            title=form.title.data or "",
            body=form.body.data or "",
            body_en=form.body_en.data or "",
            actor=current_user._get_current_object(),
        )
    except SupportError as exc:
        discard_changes()
        apply_errors(form, exc.errors)
        return None


def _warn_unknown_placeholders(reply: CannedReply) -> None:
    unknown = saved_replies.unknown_placeholders(f"{reply.body}\n{reply.body_en or ''}")
    if unknown:
        flash(
            _(
                "Unknown placeholders, left as they are when the reply is inserted: "
                "%(names)s. Known ones: %(known)s.",
                names=", ".join(f"{{{name}}}" for name in unknown),
                known=", ".join(f"{{{name}}}" for name in saved_replies.PLACEHOLDERS),
            ),
            "error",
        )


@bp.route("/staff/tickets/replies/<int:reply_id>", methods=["GET", "POST"])
@staff_required
def canned_reply_edit(reply_id: int) -> ResponseReturnValue:
    reply = get_or_404(CannedReply, reply_id)
    form = CannedReplyForm(obj=reply if request.method == "GET" else None)
    status = 200
    if form.is_submitted():
        if _save_canned_reply(form, reply) is None:
            status = 422
        else:
            flash(_("Saved reply updated."), "success")
            _warn_unknown_placeholders(reply)
            return redirect(url_for("support.canned_replies"))
    return (
        render_template(
            "support/canned_reply_edit.html",
            reply=reply,
            form=form,
            placeholders=saved_replies.PLACEHOLDERS,
        ),
        status,
    )


@bp.route("/staff/tickets/replies/<int:reply_id>/delete", methods=["POST"])
@staff_required
def canned_reply_delete(reply_id: int) -> ResponseReturnValue:
    reply = get_or_404(CannedReply, reply_id)
    title = reply.title
    return staff_action(
        lambda: saved_replies.delete_canned_reply(get_session(), reply),
        back=url_for("support.canned_replies"),
        refused={},
        done=_("Saved reply “%(title)s” deleted.", title=title),
    )
