"""Local mirror of the directory people who have signed in."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow


class Account(Base):
    __tablename__ = "account"
    # Never reuse an id on SQLite: a deleted person's old session cookie (which holds the id)
    # must not open the account of whoever signs up next.
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(256), unique=True)
    dn: Mapped[str] = mapped_column(String(1024))
    display_name: Mapped[str] = mapped_column(String(256))
    email: Mapped[str | None] = mapped_column(String(320))
    # The directory's language (preferredLanguage), refreshed at every sign-in.
    language: Mapped[str | None] = mapped_column(String(35))
    # The language the person chose with the switch: it wins over the directory's, for
    # pages after sign-in and for every mail to them.
    chosen_language: Mapped[str | None] = mapped_column(String(8))
    is_staff: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_directory_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # flask-login protocol
    is_active = True
    is_anonymous = False

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def preferred_language(self) -> str | None:
        """The language to speak to this person in: their choice, else the directory's."""
        return self.chosen_language or self.language

    def get_id(self) -> str:
        return str(self.id)

    def __repr__(self) -> str:
        return f"<Account {self.uid}>"
