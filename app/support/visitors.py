"""Tickets from visitors: the public contact form, and how long those tickets are kept.

A visitor's ticket has no account, only the address the visitor typed. Nobody who signs
in ever sees it (every requester query is by account), staff answer it by mail, and the
visitor adds to it only by answering that mail (when SUPPORT_REPLY_ADDRESS is set): the
panel never shows a visitor a ticket, so a guessed number or address reveals nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app import audit
from app.db import utcnow
from app.mail import InvalidRecipient, checked_recipient, queue_mail
from app.support.checks import check_body, check_subject
from app.support.models import OTHER_SERVICE, Attachment, Ticket, TicketMessage
from app.support.notifications import mail_link, visitor_language
from app.support.operations import add_ticket
from app.support.reply_address import STAFF, ticket_headers
from app.support.settings import SupportError, SupportSettings

VISITOR_CATEGORY = "other"


def check_contact_email(email: str, errors: dict[str, list[Any]]) -> str:
    """One plain address, no control characters or line breaks; lower case."""
    try:
        cleaned = checked_recipient(email).lower()
    except InvalidRecipient:
        errors.setdefault("email", []).append(
            _l("Enter one e-mail address, like name@example.org, so the team can answer you.")
        )
        return (email or "").strip()
    return cleaned


def open_visitor_ticket(
    session: Session,
    settings: SupportSettings,
    *,
    email: str,
    subject: str,
    body: str,
    language: str,
) -> Ticket:
    """A ticket from the public contact form; the visitor is sent its number by mail."""
    errors: dict[str, list[Any]] = {}
    email = check_contact_email(email, errors)
    subject = check_subject(subject, errors)
    body = check_body(body, errors)
    if errors:
        raise SupportError(errors)
    ticket, _message = add_ticket(
        session,
        None,
        subject=subject,
        body=body,
        service=OTHER_SERVICE,
        category=VISITOR_CATEGORY,
        contact_email=email,
        contact_language=visitor_language(language),
    )
    # No address in the audit log: the ticket holds it, and goes with it.
    audit.record(session, "support.visitor_ticket_opened", ticket=ticket.id)
    config = current_app.config
    reply_by_mail = bool(config.get("SUPPORT_REPLY_ADDRESS"))
    with force_locale(ticket.contact_language):
        # Only the number, never the visitor's text: a form that mails what strangers type
        # to any address they type would be a spam relay.
        queue_mail(
            session,
            to=email,
            template="support_visitor_received",
            purpose="support.visitor_received",
            headers=ticket_headers(config, ticket.id, ticket.requester_key),
            ticket=ticket,
            reply_by_mail=reply_by_mail,
        )
    if settings.staff_email:
        with force_locale(str(config["LANGUAGES"][0])):
            queue_mail(
                session,
                to=settings.staff_email,
                template="support_new_ticket",
                purpose="support.new_ticket",
                headers=ticket_headers(config, ticket.id, STAFF),
                reply_by_mail=reply_by_mail,
                ticket=ticket,
                requester=None,
                attachment_count=0,
                link=mail_link("support.staff_ticket", ticket_id=ticket.id),
            )
    return ticket


def delete_old_visitor_tickets(session: Session, *, days: int) -> list[str]:
    """Delete visitors' tickets closed more than `days` days ago; returns files to remove."""
    if days <= 0:
        return []
    cutoff = utcnow() - timedelta(days=days)
    old = select(Ticket.id).where(
        Ticket.account_id.is_(None), Ticket.state == "closed", Ticket.closed_at < cutoff
    )
    names = list(
        session.scalars(select(Attachment.storage_name).where(Attachment.ticket_id.in_(old)))
    )
    ids = list(session.scalars(old))
    if not ids:
        return names
    session.execute(delete(Attachment).where(Attachment.ticket_id.in_(ids)))
    session.execute(delete(TicketMessage).where(TicketMessage.ticket_id.in_(ids)))
    session.execute(delete(Ticket).where(Ticket.id.in_(ids)))
    audit.record(session, "support.visitor_tickets_deleted", count=len(ids), days=days)
    return names
