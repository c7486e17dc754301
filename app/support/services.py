"""Support services: open, answer, assign, close and search tickets; no request, no commit.

Every function takes the database session and plain values, raises a domain error for
bad input before anything is written, and leaves the commit to the caller. Attachment
files are written through an AttachmentStore whose `transaction()` removes them again if
the caller's commit fails.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app, url_for
from flask_babel import force_locale, format_decimal, gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, bindparam, delete, exists, func, literal_column, or_, select, update
from sqlalchemy.orm import Session, joinedload, selectinload
from sqlalchemy.sql.elements import ColumnElement

from app import audit
from app.accounts.models import Account
from app.db import parse_id, utcnow
from app.mail import queue_mail
from app.support.attachments import AttachmentStore, TooLarge, Upload, sniff_type
from app.support.models import (
    CATEGORIES,
    OTHER_SERVICE,
    SEARCH_CONFIG,
    STATES,
    Attachment,
    CannedReply,
    Ticket,
    TicketMessage,
)
from app.support.notifications import drop_pending_notices, notify_staff_of_reply
from app.support.reply_address import STAFF, ticket_headers
from app.text import one_line

MAX_BODY_BYTES = 100 * 1024
MAX_SUBJECT_CHARS = 200
PAGE_SIZE = 25
COUNT_CAP = 1000
NEEDS_STAFF = ("new", "waiting_staff")
OPEN_STATES = ("new", "waiting_staff", "waiting_user")


@dataclass(frozen=True)
class SupportSettings:
    """The SUPPORT_* settings, read once from the app config by the caller."""

    max_files: int = 3
    max_file_bytes: int = 5 * 1024 * 1024
    allowed_types: tuple[str, ...] = ()
    staff_email: str | None = None
    mail_include_text: bool = False
    auto_close_days: int = 14
    staff_mail_group_minutes: int = 10

    @classmethod
    def from_config(cls, config: Any) -> SupportSettings:
        return cls(
            max_files=int(config["SUPPORT_ATTACHMENT_MAX_FILES"]),
            max_file_bytes=int(config["SUPPORT_ATTACHMENT_MAX_BYTES"]),
            allowed_types=tuple(config["SUPPORT_ATTACHMENT_TYPES"]),
            staff_email=config.get("SUPPORT_STAFF_EMAIL") or None,
            mail_include_text=bool(config["SUPPORT_MAIL_INCLUDE_TEXT"]),
            auto_close_days=int(config["SUPPORT_AUTO_CLOSE_DAYS"]),
            staff_mail_group_minutes=int(config["SUPPORT_STAFF_MAIL_GROUP_MINUTES"]),
        )


class SupportError(Exception):
    """A request the panel refuses; `errors` maps form field names to messages."""

    def __init__(self, errors: dict[str, list[Any]]) -> None:
        super().__init__("; ".join(str(m) for msgs in errors.values() for m in msgs))
        self.errors = errors


class TicketNotFound(Exception):
    """No such ticket for this person (foreign ids look exactly like missing ones)."""


# Input checks ----------------------------------------------------------------------------


def _text_problem(text: str) -> Any | None:
    if "\ufffd" in text:
        return _l(
            "Part of this text could not be read (it is not valid UTF-8). "
            "Copy it again from the original or remove the odd characters."
        )
    if any(unicodedata.category(ch) == "Cc" and ch not in "\t\n\r" for ch in text):
        return _l("This text contains invisible control characters. Remove them and try again.")
    return None


def _check_body(body: str, errors: dict[str, list[Any]], name: str = "body") -> str:
    body = body.replace("\r\n", "\n").strip()
    if not body:
        errors.setdefault(name, []).append(_l("Write your message."))
    elif len(body.encode("utf-8")) > MAX_BODY_BYTES:
        errors.setdefault(name, []).append(
            _l("The message is too long: at most 100 KB of text. Attach a file instead.")
        )
    elif problem := _text_problem(body):
        errors.setdefault(name, []).append(problem)
    return body


def _check_subject(subject: str, errors: dict[str, list[Any]]) -> str:
    subject = one_line(subject)
    if not subject:
        errors.setdefault("subject", []).append(_l("Give your request a short title."))
    elif len(subject) > MAX_SUBJECT_CHARS:
        errors.setdefault("subject", []).append(
            _l("The subject is too long: 200 characters at most.")
        )
    elif problem := _text_problem(subject):
        errors.setdefault("subject", []).append(problem)
    return subject


def human_size(size: int) -> str:
    """A byte count as people read it: "850 bytes", "12.5 KB", "5 MB" (in their language)."""
    if size < 1024:
        return gettext("%(num)s bytes", num=size)
    if size < 1024 * 1024:
        return gettext("%(num)s KB", num=format_decimal(round(size / 1024, 1)))
    return gettext("%(num)s MB", num=format_decimal(round(size / (1024 * 1024), 1)))


def _check_uploads(
    uploads: Sequence[Upload], settings: SupportSettings, errors: dict[str, list[Any]]
) -> list[tuple[Upload, str]]:
    """Count, size and content type of each file, before anything is written."""
    accepted: list[tuple[Upload, str]] = []
    problems: list[Any] = []
    if len(uploads) > settings.max_files:
        problems.append(
            _l(
                "Too many files: at most %(num)s per message.",
                num=settings.max_files,
            )
        )
    for upload in uploads:
        if upload.over_limit or upload.received > settings.max_file_bytes:
            problems.append(
                _l(
                    "“%(name)s” is too large: at most %(size)s per file.",
                    name=upload.filename,
                    size=human_size(settings.max_file_bytes),
                )
            )
            continue
        if upload.received == 0:
            problems.append(_l("“%(name)s” is empty.", name=upload.filename))
            continue
        kind = sniff_type(upload.head())
        if kind is None or kind not in settings.allowed_types:
            problems.append(
                _l(
                    "“%(name)s” is not a type of file we accept (its content was checked, "
                    "not its name). Accepted: pictures (PNG, JPEG, GIF, WebP), PDF, plain "
                    "text and OpenDocument files.",
                    name=upload.filename,
                )
            )
            continue
        accepted.append((upload, kind))
    if problems:
        errors.setdefault("attachments", []).extend(problems)
    return accepted


def _store_attachments(
    session: Session,
    store: AttachmentStore,
    settings: SupportSettings,
    message: TicketMessage,
    accepted: list[tuple[Upload, str]],
) -> None:
    for upload, kind in accepted:
        try:
            name, size = store.save(upload.stream, settings.max_file_bytes)
        except TooLarge:
            raise SupportError(
                {
                    "attachments": [
                        _l(
                            "“%(name)s” is too large: at most %(size)s per file.",
                            name=upload.filename,
                            size=human_size(settings.max_file_bytes),
                        )
                    ]
                }
            ) from None
        message.attachments.append(
            Attachment(
                ticket_id=message.ticket_id,
                filename=upload.filename,
                content_type=kind,
                size=size,
                storage_name=name,
                created_at=utcnow(),
            )
        )


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


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _regconfig() -> Any:
    return literal_column(f"'{SEARCH_CONFIG}'::regconfig")


def _index_text(session: Session, ticket_id: int, text: str) -> None:
    """Add words to the ticket's search document (PostgreSQL; SQLite searches with LIKE)."""
    if not _is_postgres(session):
        return
    empty: Any = literal_column("''::tsvector")
    session.execute(
        update(Ticket)
        .where(Ticket.id == ticket_id)
        .values(
            search_vector=func.strip(
                func.coalesce(Ticket.search_vector, empty).op("||")(
                    func.to_tsvector(_regconfig(), text)
                )
            )
        )
        .execution_options(synchronize_session=False)
    )


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
        **fields,
    )
    session.add(ticket)
    session.flush()
    message = _new_message(ticket, account, body, from_staff=False, internal=False, now=now)
    session.add(message)
    session.flush()
    _index_text(session, ticket.id, f"{subject}\n{body}")
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
    subject = _check_subject(subject, errors)
    if service not in (*known_services, OTHER_SERVICE):
        errors.setdefault("service", []).append(_l("Choose a service from the list."))
    if category not in CATEGORIES:
        errors.setdefault("category", []).append(_l("Choose a kind of request from the list."))
    body = _check_body(body, errors)
    accepted = _check_uploads(uploads, settings, errors)
    if errors:
        raise SupportError(errors)
    ticket, message = add_ticket(
        session, account, subject=subject, body=body, service=service, category=category
    )
    _store_attachments(session, store, settings, message, accepted)
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
                link=_link("support.staff_ticket", ticket_id=ticket.id),
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
    body = _check_body(body, errors)
    accepted = _check_uploads(uploads, settings, errors)
    if errors:
        raise SupportError(errors)
    now = utcnow()
    message = _new_message(ticket, account, body, from_staff=False, internal=False, now=now)
    session.add(message)
    session.flush()
    _store_attachments(session, store, settings, message, accepted)
    _index_text(session, ticket.id, body)
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
    body = _check_body(body, errors)
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
    accepted = _check_uploads(uploads, settings, errors)
    if errors:
        raise SupportError(errors)
    now = utcnow()
    message = _new_message(ticket, author, body, from_staff=True, internal=internal, now=now)
    session.add(message)
    session.flush()
    _store_attachments(session, store, settings, message, accepted)
    _index_text(session, ticket.id, body)
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
        _mail_visitor(session, ticket, body=body)
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
                link=_link("support.ticket", ticket_id=ticket.id),
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
            _mail_visitor(session, ticket, auto_closed_days=days)
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
                    link=_link("support.ticket", ticket_id=ticket.id),
                )
    return len(stale)


def save_canned_reply(
    session: Session,
    *,
    reply: CannedReply | None,
    title: str,
    body: str,
    actor: Account,
    body_en: str = "",
) -> CannedReply:
    """Add or change a saved reply: a French text, and an English one if given."""
    errors: dict[str, list[Any]] = {}
    title = " ".join(title.split())
    if not title:
        errors.setdefault("title", []).append(_l("Give the saved reply a title."))
    elif len(title) > 120:
        errors.setdefault("title", []).append(_l("The title is too long: 120 characters at most."))
    body = _check_body(body, errors)
    english = _check_body(body_en, errors, "body_en") if body_en.strip() else None
    if not errors:
        clash = session.scalar(
            select(CannedReply.id).where(
                CannedReply.title == title, CannedReply.id != (reply.id if reply else -1)
            )
        )
        if clash:
            errors.setdefault("title", []).append(_l("Another saved reply has this title."))
    if errors:
        raise SupportError(errors)
    if reply is None:
        reply = CannedReply(title=title, body=body)
        session.add(reply)
    reply.title = title
    reply.body = body
    reply.body_en = english
    reply.updated_at = utcnow()
    reply.updated_by_id = actor.id
    session.flush()
    return reply


def delete_canned_reply(session: Session, reply: CannedReply) -> None:
    session.delete(reply)


# Reading ---------------------------------------------------------------------------------


def get_requester_ticket(session: Session, account_id: int, ticket_id: int) -> Ticket:
    ticket = session.scalar(
        select(Ticket).where(Ticket.id == ticket_id, Ticket.account_id == account_id)
    )
    if ticket is None:
        raise TicketNotFound
    return ticket


def get_ticket(session: Session, ticket_id: int) -> Ticket:
    """Any ticket, with requester and assignee (staff)."""
    ticket = session.scalar(
        select(Ticket)
        .options(joinedload(Ticket.requester), joinedload(Ticket.assignee))
        .where(Ticket.id == ticket_id)
    )
    if ticket is None:
        raise TicketNotFound
    return ticket


def thread(session: Session, ticket_id: int, *, include_internal: bool) -> list[TicketMessage]:
    """The messages of a ticket, oldest first; internal notes only when asked (staff)."""
    stmt = (
        select(TicketMessage)
        .options(selectinload(TicketMessage.attachments), joinedload(TicketMessage.author))
        .where(TicketMessage.ticket_id == ticket_id)
        .order_by(TicketMessage.id)
    )
    if not include_internal:
        stmt = stmt.where(TicketMessage.is_internal.is_(False))
    return list(session.scalars(stmt).all())


def get_attachment(
    session: Session, ticket_id: int, attachment_id: int, *, account: Account
) -> Attachment:
    """An attachment the account may download: the requester's (not on a note) or staff."""
    row = session.execute(
        select(Attachment, Ticket.account_id, TicketMessage.is_internal)
        .join(TicketMessage, TicketMessage.id == Attachment.message_id)
        .join(Ticket, Ticket.id == Attachment.ticket_id)
        .where(Attachment.id == attachment_id, Attachment.ticket_id == ticket_id)
    ).first()
    if row is None:
        raise TicketNotFound
    attachment, owner_id, internal = row
    if account.is_staff or (owner_id == account.id and not internal):
        return attachment
    raise TicketNotFound


def requester_tickets(
    session: Session, account_id: int, *, page: int = 1, per_page: int = PAGE_SIZE
) -> tuple[list[Ticket], int]:
    """One page of a person's tickets, most recent activity first, and the total."""
    total = session.scalar(
        select(func.count()).select_from(Ticket).where(Ticket.account_id == account_id)
    )
    rows = session.scalars(
        select(Ticket)
        .where(Ticket.account_id == account_id)
        .order_by(Ticket.last_message_at.desc(), Ticket.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return list(rows), int(total or 0)


def tickets_waiting_for(session: Session, account_id: int, *, limit: int = 20) -> list[Ticket]:
    """The person's tickets where the team waits for their answer, oldest answer first."""
    return list(
        session.scalars(
            select(Ticket)
            .where(Ticket.account_id == account_id, Ticket.state == "waiting_user")
            .order_by(Ticket.last_message_at, Ticket.id)
            .limit(limit)
        )
    )


def other_tickets(session: Session, ticket: Ticket, *, limit: int = 10) -> list[Ticket]:
    """The requester's other tickets (staff); for a visitor, those from the same address."""
    same_requester = (
        Ticket.contact_email == ticket.contact_email
        if ticket.from_visitor
        else Ticket.account_id == ticket.account_id
    )
    return list(
        session.scalars(
            select(Ticket)
            .where(same_requester, Ticket.id != ticket.id)
            .order_by(Ticket.last_message_at.desc(), Ticket.id.desc())
            .limit(limit)
        ).all()
    )


def staff_members(session: Session) -> list[Account]:
    return list(
        session.scalars(
            select(Account).where(Account.is_staff.is_(True)).order_by(Account.display_name)
        ).all()
    )


def canned_replies(session: Session) -> list[CannedReply]:
    return list(session.scalars(select(CannedReply).order_by(CannedReply.title)).all())


@dataclass(frozen=True)
class QueueFilter:
    """What the staff queue shows: a state group, a service, an assignee, a search."""

    state: str = "needs_staff"  # needs_staff, open, all, or one of STATES
    service: str | None = None
    assignee: str | None = None  # None = anyone, "none" = unassigned, or an account id
    query: str = ""
    newest_first: bool = False


STATE_GROUPS: dict[str, tuple[str, ...]] = {
    "needs_staff": NEEDS_STAFF,
    "open": OPEN_STATES,
    "all": STATES,
    **{state: (state,) for state in STATES},
}


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_clause(session: Session, query: str) -> ColumnElement[bool]:
    """PostgreSQL full-text search on the ticket document; LIKE on subject and messages."""
    if _is_postgres(session):
        return Ticket.search_vector.op("@@")(func.websearch_to_tsquery(_regconfig(), query))
    words = query.split()[:10]
    clauses = []
    for word in words:
        pattern = f"%{_like_escape(word)}%"
        clauses.append(
            or_(
                Ticket.subject.ilike(pattern, escape="\\"),
                exists().where(
                    TicketMessage.ticket_id == Ticket.id,
                    TicketMessage.body.ilike(pattern, escape="\\"),
                ),
            )
        )
    return and_(*clauses)


@dataclass(frozen=True)
class QueuePage:
    """One page of the staff queue."""

    tickets: list[Ticket]
    total: int  # matching tickets, counted up to COUNT_CAP + 1
    has_next: bool

    @property
    def capped(self) -> bool:
        return self.total > COUNT_CAP


def _states_clause(states: tuple[str, ...]) -> ColumnElement[bool]:
    # Literal values, so PostgreSQL can match the partial indexes on open tickets.
    return Ticket.state.in_(bindparam("states", list(states), expanding=True, literal_execute=True))


def _queue_order(changed: Any, ident: Any, newest_first: bool) -> tuple[Any, Any]:
    return (changed.desc(), ident.desc()) if newest_first else (changed, ident)


def staff_queue(
    session: Session, filters: QueueFilter, *, page: int = 1, per_page: int = PAGE_SIZE
) -> QueuePage:
    """One page of the queue and how many tickets match (two queries, whatever the size).

    Counting stops past COUNT_CAP: an exact count of a huge result costs a scan of it and
    tells staff nothing more than "too many, narrow the filters".
    """
    conditions: list[ColumnElement[bool]] = []
    states = STATE_GROUPS.get(filters.state, NEEDS_STAFF)
    if states != STATES:
        conditions.append(_states_clause(states))
    if filters.service:
        conditions.append(Ticket.service == filters.service)
    if filters.assignee == "none":
        conditions.append(Ticket.assignee_id.is_(None))
    elif (assignee_id := parse_id(filters.assignee)) is not None:
        conditions.append(Ticket.assignee_id == assignee_id)
    if filters.query.strip():
        conditions.append(search_clause(session, filters.query.strip()))
    matching = select(Ticket.state).where(*conditions).limit(COUNT_CAP + 1).subquery()
    total = int(session.scalar(select(func.count()).select_from(matching)) or 0)
    # The page of ids first, then the people on those rows only: joining before the
    # LIMIT would make PostgreSQL join every match (a whole search result) to accounts.
    ids = (
        select(Ticket.id, Ticket.state_changed_at)
        .where(*conditions)
        .order_by(*_queue_order(Ticket.state_changed_at, Ticket.id, filters.newest_first))
        .limit(per_page + 1)
        .offset((page - 1) * per_page)
        .subquery()
    )
    rows = list(
        session.scalars(
            select(Ticket)
            .join(ids, ids.c.id == Ticket.id)
            .options(joinedload(Ticket.requester), joinedload(Ticket.assignee))
            .order_by(*_queue_order(ids.c.state_changed_at, ids.c.id, filters.newest_first))
        ).all()
    )
    return QueuePage(tickets=rows[:per_page], total=total, has_next=len(rows) > per_page)


def count_needing_staff(session: Session) -> int:
    return int(
        session.scalar(select(func.count()).select_from(Ticket).where(_states_clause(NEEDS_STAFF)))
        or 0
    )


# Deletion --------------------------------------------------------------------------------


def delete_account_tickets(session: Session, account_id: int) -> list[str]:
    """Delete a person's tickets, messages and attachment rows; returns the files to remove."""
    names = list(
        session.scalars(
            select(Attachment.storage_name)
            .join(Ticket, Ticket.id == Attachment.ticket_id)
            .where(Ticket.account_id == account_id)
        ).all()
    )
    ticket_ids = select(Ticket.id).where(Ticket.account_id == account_id)
    session.execute(delete(Attachment).where(Attachment.ticket_id.in_(ticket_ids)))
    session.execute(delete(TicketMessage).where(TicketMessage.ticket_id.in_(ticket_ids)))
    session.execute(delete(Ticket).where(Ticket.account_id == account_id))
    return names


def sweep_orphan_files(
    session: Session, store: AttachmentStore, *, older_than: timedelta = timedelta(hours=1)
) -> int:
    """Remove files no attachment row points to (a crash between disk and commit).

    Only files older than `older_than`, so an upload being committed right now is safe.
    """
    cutoff = (utcnow() - older_than).timestamp()
    candidates = [(n, p) for n, p in store.stored_files() if p.stat().st_mtime < cutoff]
    removed = 0
    for start in range(0, len(candidates), 500):
        batch = candidates[start : start + 500]
        known = set(
            session.scalars(
                select(Attachment.storage_name).where(
                    Attachment.storage_name.in_([name for name, _path in batch])
                )
            ).all()
        )
        for name, path in batch:
            if name not in known or path.suffix == ".part":
                path.unlink(missing_ok=True)
                removed += 1
    return removed


# Helpers ---------------------------------------------------------------------------------


def _mail_visitor(
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


def _link(endpoint: str, **values: Any) -> str | None:
    """An absolute link for a mail; None outside a request when SERVER_NAME is not set."""
    try:
        return url_for(endpoint, _external=True, **values)
    except RuntimeError:
        return None
