"""Reading tickets: the requester's own, one ticket and its thread, attachments, the staff queue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session, joinedload, selectinload
from sqlalchemy.sql.elements import ColumnElement

from app.accounts.models import Account
from app.db import core_rows, parse_id
from app.support.models import (
    STATES,
    Attachment,
    Ticket,
    TicketMessage,
)
from app.support.search import search_clause
from app.support.settings import COUNT_CAP, NEEDS_STAFF, OPEN_STATES, PAGE_SIZE, TicketNotFound

if TYPE_CHECKING:
    from app.accounts.attention import ProbeParameters


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


@dataclass(frozen=True)
class TicketLine:
    """A row of the person's ticket list: what the list shows, no ORM object."""

    id: int
    subject: str
    service: str
    state: str
    last_message_at: datetime


# Built once. The total rides on each row (a window count), so that a page and its count
# are one statement; only a page past the end, which has no rows, needs a count of its own.
_REQUESTER_PAGE = (
    select(
        Ticket.id,
        Ticket.subject,
        Ticket.service,
        Ticket.state,
        Ticket.last_message_at,
        func.count().over().label("total"),
    )
    .where(Ticket.account_id == bindparam("account_id"))
    .order_by(Ticket.last_message_at.desc(), Ticket.id.desc())
    .limit(bindparam("limit"))
    .offset(bindparam("offset"))
)
_REQUESTER_COUNT = (
    select(func.count()).select_from(Ticket).where(Ticket.account_id == bindparam("account_id"))
)


def requester_tickets(
    session: Session, account_id: int, *, page: int = 1, per_page: int = PAGE_SIZE
) -> tuple[list[TicketLine], int]:
    """One page of a person's tickets, most recent activity first, and the total."""
    rows = core_rows(
        session,
        _REQUESTER_PAGE,
        {"account_id": account_id, "limit": per_page, "offset": (page - 1) * per_page},
    ).all()
    if rows:
        total = int(rows[0].total)
    elif page == 1:
        total = 0
    else:
        total = int(core_rows(session, _REQUESTER_COUNT, {"account_id": account_id}).scalar() or 0)
    lines = [TicketLine(r.id, r.subject, r.service, r.state, r.last_message_at) for r in rows]
    return lines, total


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


def waiting_probe(parameters: ProbeParameters) -> ColumnElement[bool]:
    """The account page's probe: the same conditions as `tickets_waiting_for`."""
    return (
        select(Ticket.id)
        .where(Ticket.account_id == parameters.account_id, Ticket.state == "waiting_user")
        .exists()
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
