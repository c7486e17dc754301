"""Staff home: an overview of the queues; each feature keeps its own staff views."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy.orm import Session

from app import audit, mail
from app.db import get_session
from app.security import staff_required

bp = Blueprint("staff", __name__, url_prefix="/staff")


@dataclass(frozen=True)
class StaffQueue:
    """One line on the staff home: a label, how many items wait, where to process them."""

    label: Callable[[], str]
    count: Callable[[Session], int]
    endpoint: str


def register_queue(app: Flask, queue: StaffQueue) -> None:
    app.extensions.setdefault("panel_staff_queues", []).append(queue)


@bp.route("/")
@staff_required
def home() -> str:
    queues = current_app.extensions.get("panel_staff_queues", [])
    db = get_session()
    rows = [(q.label(), q.count(db), q.endpoint) for q in queues]
    return render_template(
        "staff/home.html",
        queues=rows,
        undelivered_mail=mail.dead_letters(db),
        mail_purpose=describe_mail_purpose,
    )


# What each kind of mail is, for staff deciding whether to send it again.
MAIL_PURPOSES = {
    "closing.reminder": _l("Reminder that a service closes"),
    "deletion.cancelled": _l("Deletion request cancelled"),
    "deletion.receipt": _l("Deletion receipt"),
    "deletion.refused": _l("Deletion request refused"),
    "deletion.requested": _l("Deletion request received"),
    "legal.published": _l("New terms published"),
    "moving.done": _l("Import of a person's data finished"),
    "incidents.news": _l("Incident news for a subscriber"),
    "incidents.subscription_confirm": _l("Incident subscription to confirm"),
    "support.auto_closed": _l("Ticket closed for lack of answer"),
    "support.mail_refused": _l("Answer to a support mail that was not added"),
    "support.new_ticket": _l("New ticket, to the team"),
    "support.reply": _l("The team's answer on a ticket"),
    "support.requester_reply": _l("New message on a ticket, to the team"),
    "support.visitor_received": _l("Contact form: message received"),
}


def describe_mail_purpose(purpose: str) -> str:
    """The kind of mail in words; an unknown one (a newer version's) as its code."""
    return str(MAIL_PURPOSES.get(purpose, purpose))


class _BadChoice(ValueError):
    pass


def _chosen_messages() -> list[int] | None:
    """The one dead letter named by the form, or None for "all of them"."""
    value = request.form.get("message")
    if value is None:
        return None
    if not value.isdigit() or len(value) > 12:
        raise _BadChoice(value)
    return [int(value)]


def _act_on_dead_letters(
    act: Callable[[Session, list[int] | None], list[mail.OutgoingMail]], event: str
) -> list[int]:
    """Apply `act` to the dead letter the form names (or to all), audit it and commit.

    Returns the ids acted on; none (after telling staff why) for a bad or stale choice.
    """
    try:
        chosen = _chosen_messages()
    except _BadChoice:
        flash(_("Choose a message from the list of undelivered mail."), "error")
        return []
    db = get_session()
    messages = act(db, chosen)
    if not messages:
        flash(_("There is no such undelivered mail any more: nothing was done."), "error")
        return []
    ids = [m.id for m in messages]
    audit.record(
        db,
        event,
        actor_id=current_user.id,
        messages=ids,
        purposes=sorted({m.purpose for m in messages}),
    )
    # Committed now: the retry sends in this request, from its own transaction.
    db.commit()
    return ids


def _back_home() -> Response:
    return redirect(url_for("staff.home") + "#undelivered-title")  # type: ignore[return-value]


@bp.route("/mail/undelivered/retry", methods=["POST"])
@staff_required
def retry_undelivered_mail() -> Response:
    """Queue dead letters again (after fixing the cause) and try them at once."""
    retried = _act_on_dead_letters(mail.retry_dead_letters, "mail.dead_letters_retried")
    if not retried:
        return _back_home()
    db = get_session()
    # Tried now, in this request, so that staff see at once whether the cause is fixed.
    mail.send_queued(current_app._get_current_object(), bulk=False)  # type: ignore[attr-defined]
    waiting, dead = mail.still_queued(db, retried)
    sent = len(retried) - waiting - dead
    if sent:
        flash(ngettext("%(num)s message was sent.", "%(num)s messages were sent.", sent), "success")
    if waiting:
        flash(
            ngettext(
                "%(num)s message could not be sent yet: it stays in the queue and is tried "
                "again later.",
                "%(num)s messages could not be sent yet: they stay in the queue and are tried "
                "again later.",
                waiting,
            ),
            "error",
        )
    if dead:
        flash(
            ngettext(
                "%(num)s message was refused again: the reason is in the list below.",
                "%(num)s messages were refused again: the reasons are in the list below.",
                dead,
            ),
            "error",
        )
    return _back_home()


@bp.route("/mail/undelivered/discard", methods=["POST"])
@staff_required
def discard_undelivered_mail() -> Response:
    """Delete dead letters for good: the person will not receive them."""
    discarded = _act_on_dead_letters(mail.discard_dead_letters, "mail.dead_letters_discarded")
    if not discarded:
        return _back_home()
    flash(
        ngettext(
            "%(num)s undelivered message was discarded.",
            "%(num)s undelivered messages were discarded.",
            len(discarded),
        ),
        "success",
    )
    return _back_home()
