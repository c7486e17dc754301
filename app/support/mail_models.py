"""What mail-in needs to remember: whom the panel already answered, so no mail loop forms."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime


class MailInAnswer(Base):
    """The last polite answer to a sender whose mail was refused (at most one an hour).

    The sender is kept as a keyed hash, never as an address.
    """

    __tablename__ = "support_mail_answer"

    sender_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime)
