"""What the closing plan remembers: which reminder went out for which closing."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow

# The notice itself, then one month, one week before, and the day it closes.
STAGES = ("notice", "month", "week", "day")


class ClosingReminder(Base):
    """One reminder mailing of a closing: sent once, to everyone, in their language."""

    __tablename__ = "closing_reminder"
    __table_args__ = (
        UniqueConstraint("subject", "closing_date", "stage"),
        CheckConstraint("stage IN ('notice', 'month', 'week', 'day')", name="stage_known"),
        CheckConstraint("recipients >= 0", name="recipients_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # A service slug, or "organization" when the whole hoster closes.
    subject: Mapped[str] = mapped_column(String(64))
    closing_date: Mapped[date] = mapped_column(Date)
    stage: Mapped[str] = mapped_column(String(8))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recipients: Mapped[int] = mapped_column(Integer, default=0)


class ClosingOptOut(Base):
    """A person who stopped the closing reminders (one click in the mail, RFC 8058)."""

    __tablename__ = "closing_opt_out"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
