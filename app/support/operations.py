"""What changes a ticket: open, answer, close, reopen, assign, change state, close idle ones.

Every function takes the database session and plain values, raises a domain error for
bad input before anything is written, and leaves the commit to the caller. Attachment
files are written through an AttachmentStore whose `transaction()` removes them again if
the caller's commit fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from app import audit
from app.accounts.models import Account
from app.db import utcnow
from app.mail import queue_mail
from app.support.attachments import AttachmentStore, Upload
from app.support.checks import check_body, check_subject, check_uploads, store_attachments
from app.support.models import (
    CATEGORIES,
    OTHER_SERVICE,
    STATES,
    Ticket,
    TicketMessage,
)
from app.support.notifications import (
    drop_pending_notices,
    mail_language,
    mail_link,
    mail_visitor,
    notify_staff_of_reply,
)
from app.support.reply_address import STAFF, ticket_headers
from app.support.search import first_document, index_text
from app.support.settings import SupportError, SupportSettings

# State -----------------------------------------------------------------------------------


def _set_state(ticket: Ticket, state: str, now: datetime) -> bool:
    if state not in STATES:
        raise ValueError(state)
    if ticket.state == state:
        return False
    ticket.state = state
    ticket.state_changed_at = now
    ticket.closed_at = now if state == "closed" else None
    return True


def _new_message(
    ticket: Ticket,
    author: Account | None,
    body: str,
    *,
    from_staff: bool,
    internal: bool,
    now: datetime,
) -> TicketMessage:
    """A message; `author` is None for a visitor (a ticket from the public contact form)."""
    message = TicketMessage(
        ticket_id=ticket.id,
        author_id=author.id if author else None,
        from_staff=from_staff,
        is_internal=internal,
        body=body,
        created_at=now,
    )
    message.attachments = []
    return message


# Requester side --------------------------------------------------------------------------


def add_ticket(
    session: Session,
    account: Account | None,
    *,
    subject: str,
    body: str,
    service: str,
    category: str,
    **fields: Any,
) -> tuple[Ticket, TicketMessage]:
    """A new ticket with its first message, indexed for search; the values are checked.

    `account` None with `contact_email` in `fields`: a visitor's ticket (contact form).
    """
    now = utcnow()
    ticket = Ticket(
        account_id=account.id if account else None,
        subject=subject,
        service=service,
        category=category,
        state="new",
        created_at=now,
        last_message_at=now,
        state_changed_at=now,
        search_vector=first_document(session, f"{subject}\n{body}"),
        **fields,
    )
    message = _new_message(ticket, account, body, from_staff=False, internal=False, now=now)
    # One flush writes both (the message's ticket id comes from the ticket's INSERT), and the
    # search document rides in the ticket's INSERT: two statements and one flush, instead of
    # three statements (the UPDATE of the document) and two flushes.
    message.ticket = ticket
    session.add(ticket)
    session.flush()
    return ticket, message


def open_ticket(
    session: Session,
    store: AttachmentStore,
    settings: SupportSettings,
    *,
    account: Account,
    subject: str,
    service: str,
    category: str,
    body: str,
    uploads: Sequence[Upload],
    known_services: Sequence[str],
) -> Ticket:
    """A new ticket with its first message; staff are mailed when an address is set."""
    errors: dict[str, list[Any]] = {}
    subject = check_subject(subject, errors)
    if service not in (*known_services, OTHER_SERVICE):
        errors.setdefault("service", []).append(_l("Choose a service from the list."))
    if category not in CATEGORIES:
        errors.setdefault("category", []).append(_l("Choose a kind of request from the list."))
    body = check_body(body, errors)
    accepted = check_uploads(uploads, settings, errors)
    if errors:
        raise SupportError(errors)
    ticket, message = add_ticket(
        session, account, subject=subject, body=body, service=service, category=category
    )
    store_attachments(session, store, settings, message, accepted)
    audit.record(
        session,
        "support.ticket_opened",
        account_id=account.id,
        actor_id=account.id,
        ticket=ticket.id,
    )
    if settings.staff_email:
        # The team reads the hoster's first language, whatever the requester's is.
        with force_locale(str(current_app.config["LANGUAGES"][0])):
            queue_mail(
                session,
                to=settings.staff_email,
                template="support_new_ticket",
                purpose="support.new_ticket",
                headers=ticket_headers(current_app.config, ticket.id, STAFF),
                reply_by_mail=bool(current_app.config.get("SUPPORT_REPLY_ADDRESS")),
                ticket=ticket,
                requester=account,
                attachment_count=len(accepted),
                link=mail_link("support.staff_ticket", ticket_id=ticket.id),
            )
    return ticket


def reply_as_requester(
    session: Session,
    store: AttachmentStore,
    settings: SupportSettings,
    *,
    ticket: Ticket,
    account: Account | None,
    body: str,
    uploads: Sequence[Upload],
) -> TicketMessage:
    """The requester answers (`account` None: the visitor of a contact-form ticket, by mail);
    a closed ticket is reopened (documented choice). Whoever handles the ticket is mailed
    (grouped with the person's other recent messages)."""
    errors: dict[str, list[Any]] = {}
    body = check_body(body, errors)
    accepted = check_uploads(uploads, settings, errors)
    if errors:
        raise SupportError(errors)
    now = utcnow()
    message = _new_message(ticket, account, body, from_staff=False, internal=False, now=now)
    session.add(message)
    session.flush()
    store_attachments(session, store, settings, message, accepted)
    index_text(session, ticket.id, body)
    was_closed = ticket.is_closed
    if ticket.state in ("waiting_user", "closed"):
        _set_state(ticket, "waiting_staff", now)
    ticket.last_message_at = now
    if was_closed:
        audit.record(
            session,
            "support.ticket_reopened",
            account_id=ticket.account_id,
            actor_id=account.id if account else None,
            ticket=ticket.id,
        )
    notify_staff_of_reply(
        session,
        ticket=ticket,
        message=message,
        author=account,
        staff_email=settings.staff_email,
        group_minutes=settings.staff_mail_group_minutes,
    )
    return message


def close_ticket(session: Session, ticket: Ticket, actor: Account) -> bool:
    """Close; False when it was already closed."""
    if not _set_state(ticket, "closed", utcnow()):
        return False
    audit.record(
        session,
        "support.ticket_closed",
        account_id=ticket.account_id,
        actor_id=actor.id,
        ticket=ticket.id,
    )
    return True


def reopen_ticket(session: Session, ticket: Ticket, actor: Account) -> bool:
    """Reopen a closed ticket: it waits for staff again. False when it was open."""
    if not ticket.is_closed:
        return False
    _set_state(ticket, "waiting_staff", utcnow())
    audit.record(
        session,
        "support.ticket_reopened",
        account_id=ticket.account_id,
        actor_id=actor.id,
        ticket=ticket.id,
    )
    return True


# Staff side ------------------------------------------------------------------------------


def reply_as_staff(
    session: Session,
    store: AttachmentStore,
    settings: SupportSettings,
    *,
    ticket: Ticket,
    author: Account,
    body: str,
    uploads: Sequence[Upload],
    internal: bool,
    then_state: str = "waiting_user",
) -> TicketMessage:
    """A reply (mailed to the requester) or an internal note (seen by staff only)."""
    errors: dict[str, list[Any]] = {}
    body = check_body(body, errors)
    if not internal and then_state not in ("waiting_user", "closed"):
        errors.setdefault("then_state", []).append(_l("Choose what happens after the reply."))
    if ticket.from_visitor and not internal and uploads:
        # A visitor has no access to the panel, so could never download them.
        errors.setdefault("attachments", []).append(
            _l(
                "This ticket comes from a visitor without an account, who cannot download "
                "files: describe it in the text, or send the file from the team's mailbox."
            )
        )
    accepted = check_uploads(uploads, settings, errors)
    if errors:
        raise SupportError(errors)
    now = utcnow()
    message = _new_message(ticket, author, body, from_staff=True, internal=internal, now=now)
    session.add(message)
    session.flush()
    store_attachments(session, store, settings, message, accepted)
    index_text(session, ticket.id, body)
    if internal:
        return message
    drop_pending_notices(session, ticket.id)
    ticket.last_message_at = now
    was_closed = ticket.is_closed
    if _set_state(ticket, then_state, now) and (was_closed or then_state == "closed"):
        audit.record(
            session,
            "support.ticket_closed" if then_state == "closed" else "support.ticket_reopened",
            account_id=ticket.account_id,
            actor_id=author.id,
            ticket=ticket.id,
        )
    if ticket.from_visitor:
        mail_visitor(session, ticket, body=body)
        return message
    requester = session.get(Account, ticket.account_id)
    if requester is not None and requester.email:
        with force_locale(mail_language(requester)):
            queue_mail(
                session,
                to=requester.email,
                template="support_staff_reply",
                purpose="support.reply",
                headers=ticket_headers(current_app.config, ticket.id, ticket.requester_key),
                reply_by_mail=bool(current_app.config.get("SUPPORT_REPLY_ADDRESS")),
                ticket=ticket,
                body=body if settings.mail_include_text else None,
                attachment_count=len(accepted),
                closed=ticket.is_closed,
                link=mail_link("support.ticket", ticket_id=ticket.id),
            )
    return message


def assign_ticket(
    session: Session, ticket: Ticket, assignee_id: int | None, actor: Account
) -> Account | None:
    """Give the ticket to a staff member (or to nobody); only staff accounts qualify."""
    if assignee_id is None:
        ticket.assignee_id = None
        return None
    assignee = session.get(Account, assignee_id)
    if assignee is None or not assignee.is_staff:
        raise SupportError({"assignee": [_l("Choose a staff member from the list.")]})
    ticket.assignee_id = assignee.id
    return assignee


def change_state(session: Session, ticket: Ticket, state: str, actor: Account) -> bool:
    """Staff set any state; False when nothing changed."""
    if state not in STATES:
        raise SupportError({"state": [_l("Choose a state from the list.")]})
    was_closed = ticket.is_closed
    if not _set_state(ticket, state, utcnow()):
        return False
    action = None
    if state == "closed":
        action = "support.ticket_closed"
    elif was_closed:
        action = "support.ticket_reopened"
    if action:
        audit.record(
            session, action, account_id=ticket.account_id, actor_id=actor.id, ticket=ticket.id
        )
    return True


def auto_close(session: Session, settings: SupportSettings, *, days: int | None = None) -> int:
    """Close tickets left waiting for their requester for `days` days; tells each requester."""
    days = settings.auto_close_days if days is None else days
    if days <= 0:
        return 0
    now = utcnow()
    cutoff = now - timedelta(days=days)
    stale = session.scalars(
        select(Ticket)
        .options(joinedload(Ticket.requester))
        .where(Ticket.state == "waiting_user", Ticket.state_changed_at < cutoff)
        .order_by(Ticket.id)
    ).all()
    for ticket in stale:
        _set_state(ticket, "closed", now)
        audit.record(
            session, "support.ticket_auto_closed", account_id=ticket.account_id, ticket=ticket.id
        )
        requester = ticket.requester
        if requester is None:
            mail_visitor(session, ticket, auto_closed_days=days)
        elif requester.email:
            with force_locale(mail_language(requester)):
                queue_mail(
                    session,
                    to=requester.email,
                    template="support_auto_closed",
                    purpose="support.auto_closed",
                    headers=ticket_headers(current_app.config, ticket.id, ticket.requester_key),
                    ticket=ticket,
                    days=days,
                    link=mail_link("support.ticket", ticket_id=ticket.id),
                )
    return len(stale)
