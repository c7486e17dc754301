"""Transparency register: requests from authorities about users, and the warrant canary."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow

AUTHORITY_KINDS = ("judicial", "police", "administrative", "intelligence", "foreign", "other")
REQUEST_KINDS = ("identification", "content", "removal", "suspension", "preservation", "other")
RESPONSES = ("pending", "complied", "partial", "refused", "contested", "no_data")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class AuthorityRequest(Base):
    """One request received from an authority; holds no personal data, only counts and kinds."""

    __tablename__ = "authority_request"
    __table_args__ = (
        CheckConstraint(_one_of("authority_kind", AUTHORITY_KINDS), name="authority_kind"),
        CheckConstraint(_one_of("request_kind", REQUEST_KINDS), name="request_kind"),
        CheckConstraint(_one_of("response", RESPONSES), name="response"),
        CheckConstraint("accounts_concerned >= 0", name="accounts_concerned"),
        CheckConstraint("response = 'pending' OR answered_on IS NOT NULL", name="answered"),
        CheckConstraint(
            "answered_on IS NULL OR answered_on >= received_on", name="answered_after_received"
        ),
        Index("ix_authority_request_received_on", "received_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    received_on: Mapped[date] = mapped_column(Date)
    authority_kind: Mapped[str] = mapped_column(String(32))
    # The law or procedure invoked, e.g. "Article 60-1 of the code of criminal procedure".
    legal_basis: Mapped[str] = mapped_column(String(300))
    request_kind: Mapped[str] = mapped_column(String(32))
    # What was asked, in general terms; never a name, address or account identifier.
    summary: Mapped[str] = mapped_column(Text)
    response: Mapped[str] = mapped_column(String(32), default="pending")
    response_summary: Mapped[str | None] = mapped_column(Text)
    answered_on: Mapped[date | None] = mapped_column(Date)
    accounts_concerned: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))


class CanaryStatement(Base):
    """A dated warrant-canary statement; the newest one is shown, stale once its date passed."""

    __tablename__ = "canary_statement"
    __table_args__ = (
        CheckConstraint("next_update_by > statement_date", name="next_update_after_statement"),
        Index("ix_canary_statement_statement_date", "statement_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    statement_date: Mapped[date] = mapped_column(Date)
    next_update_by: Mapped[date] = mapped_column(Date)
    statement: Mapped[str] = mapped_column(Text)
    # An OpenPGP clear-signed copy, shown verbatim so anyone can check the signature.
    signed_text: Mapped[str | None] = mapped_column(Text)
    signing_key: Mapped[str | None] = mapped_column(String(200))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL")
    )
