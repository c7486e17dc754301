"""Support tickets, their messages (replies and internal notes), attachments, saved replies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship
from sqlalchemy.types import TypeDecorator, TypeEngine

from app.accounts.models import Account
from app.db import Base, UTCDateTime, utcnow
from app.support.reply_address import requester_key

STATES = ("new", "waiting_staff", "waiting_user", "closed")
CATEGORIES = ("question", "problem", "account", "data_request", "other")
OTHER_SERVICE = "other"
# The text-search configuration: language-neutral, since tickets come in French and English.
SEARCH_CONFIG = "simple"
OPEN_PREDICATE = "state <> 'closed'"


class SearchVector(TypeDecorator[Any]):
    """A PostgreSQL tsvector; on SQLite an unused nullable text column (search uses LIKE)."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.TSVECTOR())
        return dialect.type_descriptor(Text())


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Ticket(Base):
    __tablename__ = "ticket"
    __table_args__ = (
        CheckConstraint(_in("state", STATES), name="state"),
        CheckConstraint(_in("category", CATEGORIES), name="category"),
        CheckConstraint(
            "(state = 'closed' AND closed_at IS NOT NULL) OR "
            "(state <> 'closed' AND closed_at IS NULL)",
            name="closed_at_iff_closed",
        ),
        # A member's ticket has their account; a visitor's (the public contact form) has
        # only the address they gave, and no account can ever see it.
        CheckConstraint(
            "(account_id IS NULL) = (contact_email IS NOT NULL)", name="member_or_visitor"
        ),
        CheckConstraint("contact_email = lower(contact_email)", name="contact_email_lowercase"),
        # A user's list, newest activity first.
        Index("ix_ticket_account_id_last_message_at", "account_id", "last_message_at"),
        # The staff queue, longest waiting first. Open tickets are few next to the closed
        # ones, so the usual views (needs an answer, open) read small partial indexes: one
        # in queue order, one to count by state, service and assignee without the table.
        Index(
            "ix_ticket_open_state_changed_at",
            "state_changed_at",
            "id",
            postgresql_where=text(OPEN_PREDICATE),
            sqlite_where=text(OPEN_PREDICATE),
        ),
        Index(
            "ix_ticket_open_state_service_assignee_id",
            "state",
            "service",
            "assignee_id",
            postgresql_where=text(OPEN_PREDICATE),
            sqlite_where=text(OPEN_PREDICATE),
        ),
        # All tickets, closed ones, and filters over them.
        Index("ix_ticket_state_changed_at", "state_changed_at", "id"),
        Index("ix_ticket_state_state_changed_at", "state", "state_changed_at", "id"),
        Index("ix_ticket_service_state_changed_at", "service", "state_changed_at", "id"),
        Index("ix_ticket_assignee_id_state_changed_at", "assignee_id", "state_changed_at", "id"),
        Index("ix_ticket_search_vector", "search_vector", postgresql_using="gin"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    # A visitor's ticket: where answers go, and the language they wrote in.
    contact_email: Mapped[str | None] = mapped_column(String(320), index=True)
    contact_language: Mapped[str | None] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(String(200))
    # A service slug of the hoster profile, or "other".
    service: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20), default="new")
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Last message the requester can see (internal notes do not count: they are invisible).
    last_message_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the ticket entered its current state: the queue sorts on it (longest wait first).
    state_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Subject and every message body, for PostgreSQL full-text search; never loaded.
    search_vector: Mapped[Any | None] = deferred(mapped_column(SearchVector()))

    requester: Mapped[Account | None] = relationship(foreign_keys=[account_id], lazy="raise")
    assignee: Mapped[Account | None] = relationship(foreign_keys=[assignee_id], lazy="raise")
    messages: Mapped[list[TicketMessage]] = relationship(
        back_populates="ticket",
        order_by="TicketMessage.id",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy="raise",
    )

    @property
    def is_closed(self) -> bool:
        return self.state == "closed"

    @property
    def requester_key(self) -> str:
        """Whom reply-address tokens for the requester are made for (see reply_address)."""
        return requester_key(self.account_id, self.contact_email)

    @property
    def from_visitor(self) -> bool:
        """Opened with the public contact form: no account, answered by mail only."""
        return self.account_id is None


class TicketMessage(Base):
    __tablename__ = "ticket_message"
    __table_args__ = (
        CheckConstraint("NOT is_internal OR from_staff", name="internal_notes_from_staff"),
        # A mail delivered twice (a replay, or an MTA retrying after a lost answer) is one
        # message; messages written on the web have no Message-ID (NULLs never collide).
        UniqueConstraint(
            "ticket_id", "mail_message_id", name="uq_ticket_message_ticket_mail_message_id"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"), index=True)
    # Null once the author's account is gone; `from_staff` still says who wrote it.
    author_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    from_staff: Mapped[bool] = mapped_column(Boolean, default=False)
    # Staff-only note: never shown, mailed or exported to the requester.
    is_internal: Mapped[bool] = mapped_column(Boolean, default=False)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The Message-ID of the reply mail it came from (see mail_in.mail_message_id); None for
    # a message written on the web.
    mail_message_id: Mapped[str | None] = mapped_column(String(255))

    ticket: Mapped[Ticket] = relationship(back_populates="messages", lazy="raise")
    author: Mapped[Account | None] = relationship(lazy="raise")
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="message",
        order_by="Attachment.id",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy="raise",
    )


class Attachment(Base):
    __tablename__ = "ticket_attachment"
    __table_args__ = (CheckConstraint("size >= 0", name="size"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("ticket_message.id", ondelete="CASCADE"), index=True
    )
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"), index=True)
    # The name the sender gave, cleaned; only ever used as a download name.
    filename: Mapped[str] = mapped_column(String(255))
    # Detected from the content, never taken from the browser or the extension.
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    # Random file name on disk, under the attachment folder.
    storage_name: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    message: Mapped[TicketMessage] = relationship(back_populates="attachments", lazy="raise")


class CannedReply(Base):
    """A saved answer staff insert into a reply (kept by staff, shared by all of them).

    `body` is the French text (always there); `body_en` the optional English one. The
    text inserted follows the requester's language. Placeholders such as `{name}` are
    filled in when it is inserted (see app/support/saved_replies.py).
    """

    __tablename__ = "ticket_canned_reply"
    __table_args__ = (
        CheckConstraint("body_en IS NULL OR length(body_en) > 0", name="english_body"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(120), unique=True)
    body: Mapped[str] = mapped_column(Text)
    body_en: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))


# What the requester reads about the state of their ticket.
USER_STATE_LABELS = {
    "new": _l("Sent, not answered yet"),
    "waiting_staff": _l("Waiting for the team"),
    "waiting_user": _l("Waiting for your answer"),
    "closed": _l("Closed"),
}
