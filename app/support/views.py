"""Requester views: my tickets, open a ticket, read and answer it, close and reopen it.

Every view here is gate-exempt: support stays reachable while new terms wait for acceptance.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from flask import (
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import format_timedelta
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import SelectChoice

from app.db import discard_changes, get_session, utcnow
from app.paging import one_of, page_number, paginate
from app.profile.loading import current_profile
from app.security import gate_exempt, open_to_visitors
from app.support import attachment_store, bp, operations, queries, upload_limit
from app.support.attachments import AttachmentStore, capped_parser, download_name, uploads_from
from app.support.contact_views import contact_form_for_visitors
from app.support.forms import CATEGORY_LABELS, ReplyForm, StaffReplyForm, TicketForm
from app.support.models import OTHER_SERVICE, USER_STATE_LABELS, TicketMessage
from app.support.settings import PAGE_SIZE, SupportError, SupportSettings, TicketNotFound
from app.units import byte_size

log = logging.getLogger(__name__)
T = TypeVar("T")
UPLOAD_ENDPOINTS = {"support.new_ticket", "support.reply", "support.staff_reply"}
MAX_PAGE = 10_000


@bp.url_value_preprocessor
def limit_uploads(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """Before anything reads the body (CSRF included): cap it and stream files capped."""
    if request.method != "POST" or endpoint not in UPLOAD_ENDPOINTS:
        return
    config = current_app.config
    limit = upload_limit(config)
    request.max_content_length = limit
    if request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge
    request.form_data_parser_class = capped_parser(int(config["SUPPORT_ATTACHMENT_MAX_BYTES"]))
    if request.mimetype == "application/x-www-form-urlencoded":
        # Werkzeug keeps undecodable bytes as %XX text here; notice them instead.
        raw = request.get_data(cache=True)
        try:
            parse_qsl(raw.decode("ascii"), keep_blank_values=True, errors="strict")
        except (UnicodeDecodeError, ValueError):
            g.support_bad_encoding = True


@bp.errorhandler(RequestEntityTooLarge)
def too_large(_error: Exception) -> tuple[str, int]:
    config = current_app.config
    back = None
    if request.view_args and "ticket_id" in request.view_args:
        endpoint = (
            "support.staff_ticket"
            if request.endpoint == "support.staff_reply"
            else ("support.ticket")
        )
        back = url_for(endpoint, ticket_id=request.view_args["ticket_id"])
    elif request.endpoint == "support.new_ticket":
        back = url_for("support.new_ticket")
    return (
        render_template(
            "support/too_large.html",
            back=back,
            max_files=config["SUPPORT_ATTACHMENT_MAX_FILES"],
            max_size=byte_size(int(config["SUPPORT_ATTACHMENT_MAX_BYTES"])),
        ),
        413,
    )


@bp.context_processor
def support_context() -> dict[str, Any]:
    config = current_app.config
    return {
        "support_limits": {
            "max_files": config["SUPPORT_ATTACHMENT_MAX_FILES"],
            "max_size": byte_size(int(config["SUPPORT_ATTACHMENT_MAX_BYTES"])),
        },
        # Translated once per page, not once per ticket of a list.
        "state_labels": {state: str(label) for state, label in USER_STATE_LABELS.items()},
    }


@bp.app_template_filter("support_age")
def age_filter(when: datetime) -> str:
    return str(format_timedelta(utcnow() - when, granularity="minute", threshold=1.1))


def settings() -> SupportSettings:
    return SupportSettings.from_config(current_app.config)


def apply_errors(form: FlaskForm, errors: dict[str, list[Any]]) -> None:
    """Put a service's messages beside the fields they are about."""
    for name, messages in errors.items():
        field = form._fields.get(name) or form._fields["body"]
        field.errors = [*field.errors, *(str(m) for m in messages)]
    form._errors = None  # wtforms caches the summary


def encoding_errors() -> dict[str, list[Any]]:
    if g.get("support_bad_encoding"):
        return {
            "body": [
                _(
                    "Part of this text could not be read (it is not valid UTF-8). "
                    "Copy it again from the original or remove the odd characters."
                )
            ]
        }
    return {}


def write_or_refuse(form: FlaskForm, write: Callable[[AttachmentStore], T]) -> T | None:
    """Run one service call, `write(store)`, with the attached files stored in its transaction.

    When support refuses what was sent (text that is not UTF-8, a domain error), nothing is
    kept, the messages go beside their fields and the caller gets None: it answers 422 with
    the form.
    """
    try:
        if errors := encoding_errors():
            raise SupportError(errors)
        store = attachment_store()
        with store.transaction():
            return write(store)
    except SupportError as exc:
        discard_changes()
        apply_errors(form, exc.errors)
        return None


def send_reply(
    form: ReplyForm | StaffReplyForm, write: Callable[..., TicketMessage], **who: Any
) -> TicketMessage | None:
    """The form's reply (text and files) through `write`, `reply_as_requester` or
    `reply_as_staff` with `who` (the ticket, the writer...); None when support refused it."""
    return write_or_refuse(
        form,
        lambda store: write(
            get_session(),
            store,
            settings(),
            body=form.body.data or "",
            uploads=uploads_from(form.attachments.data or []),
            **who,
        ),
    )


def service_choices() -> list[tuple[str, str]]:
    choices = [(s.slug, str(s.name)) for s in current_profile().services]
    return [*choices, (OTHER_SERVICE, _("Another service, or I do not know"))]


def service_names() -> dict[str, str]:
    return dict(service_choices())


def ongoing_incidents(service: str | None) -> list[tuple[int, str, str]] | None:
    """Known problems on a service, from the incidents feature when it is installed."""
    finder = current_app.extensions.get("panel_ongoing_incidents")
    if finder is None or not service or service == OTHER_SERVICE:
        return None
    try:
        return list(finder(get_session(), service))
    except Exception:  # a broken suggestion must never stop anyone asking for help
        log.exception("ongoing incidents could not be listed for %s", service)
        get_session().rollback()
        return None


@bp.route("/support")
@gate_exempt
@open_to_visitors
def index() -> str:
    if not current_user.is_authenticated:
        # Visitors learn how support works and how to reach the team, instead of a bare
        # sign-in form.
        return render_template(
            "support/visitor.html",
            profile=current_profile(),
            contact_form=contact_form_for_visitors(),
        )
    listing = paginate(
        partial(queries.requester_tickets, get_session(), current_user.id),
        per_page=PAGE_SIZE,
        page=page_number(MAX_PAGE),
    )
    return render_template(
        "support/index.html",
        tickets=listing.items,
        **listing.pager(),
        services=service_names(),
    )


@bp.route("/support/new", methods=["GET", "POST"])
@gate_exempt
def new_ticket() -> ResponseReturnValue:
    form = TicketForm()
    choices = service_choices()
    form.service.choices = [
        SelectChoice("", _("Choose a service")),
        *(SelectChoice(slug, name) for slug, name in choices),
    ]
    slugs = [slug for slug, _name in choices]
    has_finder = "panel_ongoing_incidents" in current_app.extensions
    chosen = one_of(
        request.args.get("service") if request.method == "GET" else form.service.data, slugs, None
    )
    if request.method == "GET":
        if chosen:
            form.service.data = chosen
        if has_finder and not chosen:
            # Step 1 (when incidents are known): which service, to suggest ongoing problems.
            # The step's form always sends `step`: sent with no service chosen, it says so.
            invalid = "service" in request.args or "step" in request.args
            return render_template(
                "support/new_step_service.html", choices=choices, invalid=invalid
            ), (422 if invalid else 200)
        # An empty form differs only by the service chosen and the services offered: its
        # fields are rendered once per such key (the CSRF token stays outside).
        return render_template(
            "support/new.html",
            form=form,
            incidents=ongoing_incidents(chosen),
            chosen=chosen,
            empty_form_key=(chosen, tuple(choices)),
        )
    ticket = write_or_refuse(
        form,
        lambda store: operations.open_ticket(
            get_session(),
            store,
            settings(),
            account=current_user._get_current_object(),
            subject=form.subject.data or "",
            service=form.service.data or "",
            category=form.category.data or "",
            body=form.body.data or "",
            uploads=uploads_from(form.attachments.data or []),
            known_services=[s.slug for s in current_profile().services],
        ),
    )
    if ticket is None:
        return render_template(
            "support/new.html", form=form, incidents=ongoing_incidents(chosen), chosen=chosen
        ), 422
    flash(
        _(
            "Your request has been sent (ticket #%(id)s). The team will answer here; "
            "you will get an e-mail when they do.",
            id=ticket.id,
        ),
        "success",
    )
    return redirect(url_for("support.ticket", ticket_id=ticket.id))


def _requester_ticket(ticket_id: int) -> Any:
    try:
        return queries.get_requester_ticket(get_session(), current_user.id, ticket_id)
    except TicketNotFound:
        abort(404)


def _ticket_page(ticket: Any, form: ReplyForm, status: int = 200) -> tuple[str, int]:
    thread = queries.thread(get_session(), ticket.id, include_internal=False)
    return (
        render_template(
            "support/ticket.html",
            ticket=ticket,
            thread=thread,
            form=form,
            services=service_names(),
            categories=CATEGORY_LABELS,
        ),
        status,
    )


@bp.route("/support/<int:ticket_id>")
@gate_exempt
def ticket(ticket_id: int) -> tuple[str, int]:
    return _ticket_page(_requester_ticket(ticket_id), ReplyForm())


@bp.route("/support/<int:ticket_id>/reply", methods=["POST"])
@gate_exempt
def reply(ticket_id: int) -> ResponseReturnValue:
    found = _requester_ticket(ticket_id)
    form = ReplyForm()
    was_closed = found.is_closed
    sent = send_reply(
        form,
        operations.reply_as_requester,
        ticket=found,
        account=current_user._get_current_object(),
    )
    if sent is None:
        return _ticket_page(_requester_ticket(ticket_id), form, 422)
    if was_closed:
        flash(_("Your reply has been sent and the ticket is open again."), "success")
    else:
        flash(_("Your reply has been sent."), "success")
    return redirect(url_for("support.ticket", ticket_id=ticket_id, _anchor="latest"))


@bp.route("/support/<int:ticket_id>/close", methods=["POST"])
@gate_exempt
def close(ticket_id: int) -> ResponseReturnValue:
    found = _requester_ticket(ticket_id)
    db = get_session()
    if operations.close_ticket(db, found, current_user._get_current_object()):
        flash(_("The ticket is closed. You can reopen it at any time."), "success")
    else:
        flash(_("This ticket was already closed."), "success")
    return redirect(url_for("support.ticket", ticket_id=ticket_id))


@bp.route("/support/<int:ticket_id>/reopen", methods=["POST"])
@gate_exempt
def reopen(ticket_id: int) -> ResponseReturnValue:
    found = _requester_ticket(ticket_id)
    db = get_session()
    if operations.reopen_ticket(db, found, current_user._get_current_object()):
        flash(
            _("The ticket is open again. Add a reply to tell the team what is needed."), "success"
        )
    else:
        flash(_("This ticket is already open."), "success")
    return redirect(url_for("support.ticket", ticket_id=ticket_id))


@bp.route("/support/<int:ticket_id>/attachments/<int:attachment_id>")
@gate_exempt
def attachment(ticket_id: int, attachment_id: int) -> ResponseReturnValue:
    """Only the requester (not for files on internal notes) and staff; always a download."""
    try:
        found = queries.get_attachment(
            get_session(), ticket_id, attachment_id, account=current_user._get_current_object()
        )
    except TicketNotFound:
        abort(404)
    store = attachment_store()
    try:
        path = store.path(found.storage_name)
        handle = path.open("rb")
    except (OSError, ValueError):
        abort(404)
    response = send_file(
        handle,
        mimetype=found.content_type,
        as_attachment=True,
        download_name=download_name(found.filename, found.content_type),
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "no-store"
    return response
