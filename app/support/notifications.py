"""Support's mail: to staff when the person writes again (grouped so a burst is one mail), to
visitors who wrote through the contact form, and the language and links mail is written in.

Whoever handles the ticket is told: the assigned staff member, or the team address
(SUPPORT_STAFF_EMAIL, as for new tickets) while nobody is. The mail carries the staff link
and the team's reply address, so the answer can be written from a mail client; it never
carries the message itself (it stays in the panel, as for new tickets).

Grouping needs no table of its own: the outbox already says whether a mail about this
ticket to this recipient is still waiting, and the ticket's own messages say when the
person last wrote. A message written within SUPPORT_STAFF_MAIL_GROUP_MINUTES of the
person's previous one (with no answer from the team in between) is not mailed at once: one
mail leaves when that time is up, counting every message still unanswered.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import current_app, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.accounts.models import Account
from app.links import external_url, mail_domain
from app.mail import OutgoingMail, queue_mail
from app.support.models import Ticket, TicketMessage
from app.support.reply_address import STAFF, thread_root, ticket_headers

PURPOSE = "support.requester_reply"


def _recipient(session: Session, ticket: Ticket, staff_email: str | None) -> tuple[str, str] | None:
    """(address, language) of whoever handles the ticket, or None when nobody can be told."""
    languages = current_app.config["LANGUAGES"]
    if ticket.assignee_id is not None:
        assignee = session.get(Account, ticket.assignee_id)
        if assignee is not None and assignee.is_staff and assignee.email:
            primary = (assignee.preferred_language or "").split("-")[0].split("_")[0].lower()
            return assignee.email, primary if primary in languages else str(languages[0])
    if staff_email:
        # The team reads the hoster's first language, whatever the requester's is.
        return staff_email, str(languages[0])
    return None


def _since_last_answer(ticket_id: int) -> Any:
    """The person's messages written since the team last answered (notes do not count)."""
    last_answer = (
        select(func.max(TicketMessage.id))
        .where(
            TicketMessage.ticket_id == ticket_id,
            TicketMessage.from_staff.is_(True),
            TicketMessage.is_internal.is_(False),
        )
        .scalar_subquery()
    )
    return (
        TicketMessage.ticket_id == ticket_id,
        TicketMessage.from_staff.is_(False),
        TicketMessage.id > func.coalesce(last_answer, 0),
    )


def _waiting_messages(session: Session, ticket_id: int) -> int:
    query = select(func.count()).select_from(TicketMessage).where(*_since_last_answer(ticket_id))
    return int(session.scalar(query) or 0)


def _pending_query(ticket_id: int) -> Any:
    # The ticket is named in the threading headers; "<ticket-12@" never matches ticket 123.
    root = thread_root(ticket_id, mail_domain()).partition("@")[0] + "@"
    return select(OutgoingMail).where(
        OutgoingMail.purpose == PURPOSE,
        OutgoingMail.dead_at.is_(None),
        OutgoingMail.headers.contains(root),
    )


def _pending_mail(session: Session, ticket_id: int, recipient: str) -> OutgoingMail | None:
    """A mail about this ticket to this recipient that has not left yet."""
    query = _pending_query(ticket_id).where(OutgoingMail.recipient == recipient)
    return session.scalars(query.limit(1)).first()


def drop_pending_notices(session: Session, ticket_id: int) -> None:
    """The team answered: a grouped mail still waiting would only announce answered messages."""
    for pending in session.scalars(_pending_query(ticket_id)).all():
        session.delete(pending)


def _previous_message_at(session: Session, message: TicketMessage) -> datetime | None:
    """When the person last wrote before this message, unless the team answered since."""
    return session.scalar(
        select(func.max(TicketMessage.created_at)).where(
            *_since_last_answer(message.ticket_id), TicketMessage.id != message.id
        )
    )


def notify_staff_of_reply(
    session: Session,
    *,
    ticket: Ticket,
    message: TicketMessage,
    author: Account | None,
    staff_email: str | None,
    group_minutes: int,
) -> OutgoingMail | None:
    """Queue (or regroup) the mail telling staff the person wrote; None when none is due."""
    found = _recipient(session, ticket, staff_email)
    if found is None:
        return None
    address, language = found
    if author and author.email and author.email.strip().lower() == address.strip().lower():
        return None  # a staff member writing on their own ticket is not told about it
    window = timedelta(minutes=max(0, group_minutes))
    due_at: datetime | None = None
    pending = _pending_mail(session, ticket.id, address)
    if pending is not None:
        # Still waiting: replaced by one that counts this message too, leaving at the same time.
        due_at = pending.next_attempt_at
        session.delete(pending)
    else:
        previous = _previous_message_at(session, message)
        if window and previous is not None and message.created_at - previous < window:
            due_at = previous + window
    with force_locale(language):
        queued = queue_mail(
            session,
            to=address,
            template="support_requester_reply",
            purpose=PURPOSE,
            headers=ticket_headers(current_app.config, ticket.id, STAFF),
            reply_by_mail=bool(current_app.config.get("SUPPORT_REPLY_ADDRESS")),
            ticket=ticket,
            # A contact-form ticket has no account: its visitor is known by the address.
            requester_name=author.display_name if author else ticket.contact_email,
            requester_uid=author.uid if author else _("visitor"),
            waiting=max(1, _waiting_messages(session, ticket.id)),
            assigned=ticket.assignee_id is not None and address != staff_email,
            link=external_url("support.staff_ticket", ticket_id=ticket.id),
        )
    if queued is not None:
        queued.next_attempt_at = due_at
        if pending is not None:
            # Failed attempts carry over: a chatty person never keeps a failing mail alive.
            queued.attempts = pending.attempts
            queued.last_error = pending.last_error
            queued.last_attempt_at = pending.last_attempt_at
    return queued


def undelivered_to_requester(session: Session, ticket: Ticket) -> list[OutgoingMail]:
    """Mail about this ticket to its requester (a visitor's address, or the account's) that
    failed: given up (a dead letter) or still being tried after a failure. Newest first."""
    address = ticket.contact_email
    if address is None:
        requester = session.get(Account, ticket.account_id)
        address = requester.email if requester else None
    if not address:
        return []
    root = thread_root(ticket.id, mail_domain()).partition("@")[0] + "@"
    query = (
        select(OutgoingMail)
        .where(
            func.lower(OutgoingMail.recipient) == address.strip().lower(),
            OutgoingMail.last_error.is_not(None),
            OutgoingMail.headers.contains(root, autoescape=True),
        )
        .order_by(OutgoingMail.last_attempt_at.desc(), OutgoingMail.id.desc())
        .limit(10)
    )
    return list(session.scalars(query))


# Mail to visitors, and the language and links of support mail ----------------------------


def mail_visitor(
    session: Session, ticket: Ticket, *, body: str = "", auto_closed_days: int = 0
) -> None:
    """A staff reply (always with its text: a visitor cannot sign in to read it) or the
    automatic closing, mailed to a contact-form ticket's address."""
    assert ticket.contact_email is not None
    language = visitor_language(ticket.contact_language)
    headers = ticket_headers(current_app.config, ticket.id, ticket.requester_key)
    reply_by_mail = bool(current_app.config.get("SUPPORT_REPLY_ADDRESS"))
    with force_locale(language):
        if auto_closed_days:
            queue_mail(
                session,
                to=ticket.contact_email,
                template="support_visitor_closed",
                purpose="support.auto_closed",
                headers=headers,
                ticket=ticket,
                days=auto_closed_days,
                reply_by_mail=reply_by_mail,
            )
        else:
            queue_mail(
                session,
                to=ticket.contact_email,
                template="support_visitor_reply",
                purpose="support.reply",
                headers=headers,
                ticket=ticket,
                body=body,
                closed=ticket.is_closed,
                reply_by_mail=reply_by_mail,
            )


def visitor_language(code: str | None) -> str:
    """One of the panel's languages for a language code (its first one when unknown)."""
    languages = current_app.config["LANGUAGES"]
    primary = (code or "").split("-")[0].split("_")[0].lower()
    return primary if primary in languages else str(languages[0])


def mail_language(account: Account) -> str:
    return visitor_language(account.preferred_language)


def mail_link(endpoint: str, **values: Any) -> str | None:
    """An absolute link for a mail; None outside a request when SERVER_NAME is not set."""
    try:
        return url_for(endpoint, _external=True, **values)
    except RuntimeError:
        return None
