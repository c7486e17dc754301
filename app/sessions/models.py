"""Server-side sessions kept in the database (the default store)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow


class SessionRecord(Base):
    """One open session. The primary key is the SHA-256 of the cookie's random value, so a
    copy of this table (a backup, a read-only replica) opens nobody's account."""

    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Null for a visitor who is not signed in (their session holds only the CSRF token and
    # the language); deleting the account ends its sessions with it.
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    data: Mapped[str] = mapped_column(Text)
    # Browser and system in words ("Firefox", "Linux"), never the raw User-Agent or address.
    browser: Mapped[str] = mapped_column(String(64), default="")
    system: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # After a sign-in through the OpenID provider: its session id and subject, so that its
    # back-channel logout can end this session (by sid) or all of the person's (by sub).
    oidc_sid: Mapped[str | None] = mapped_column(String(255), index=True)
    oidc_sub: Mapped[str | None] = mapped_column(String(255), index=True)
