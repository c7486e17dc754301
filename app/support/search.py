"""Ticket search: full-text on PostgreSQL (the ticket's search document), LIKE on SQLite."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, exists, func, literal_column, or_, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from app.support.models import (
    SEARCH_CONFIG,
    Ticket,
    TicketMessage,
)


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def regconfig() -> Any:
    return literal_column(f"'{SEARCH_CONFIG}'::regconfig")


def first_document(session: Session, text: str) -> Any:
    """The search document of a new ticket, written with its INSERT (PostgreSQL; None on
    SQLite): what index_text() would give an empty document, without an UPDATE after it."""
    if not is_postgres(session):
        return None
    return func.strip(func.to_tsvector(regconfig(), text))


def index_text(session: Session, ticket_id: int, text: str) -> None:
    """Add words to the ticket's search document (PostgreSQL; SQLite searches with LIKE)."""
    if not is_postgres(session):
        return
    empty: Any = literal_column("''::tsvector")
    session.execute(
        update(Ticket)
        .where(Ticket.id == ticket_id)
        .values(
            search_vector=func.strip(
                func.coalesce(Ticket.search_vector, empty).op("||")(
                    func.to_tsvector(regconfig(), text)
                )
            )
        )
        .execution_options(synchronize_session=False)
    )


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_clause(session: Session, query: str) -> ColumnElement[bool]:
    """PostgreSQL full-text search on the ticket document; LIKE on subject and messages."""
    if is_postgres(session):
        return Ticket.search_vector.op("@@")(func.websearch_to_tsquery(regconfig(), query))
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
