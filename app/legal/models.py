"""Terms documents: immutable numbered versions, and who accepted which one when.

A published version is never edited or deleted. The migration backs this with database
triggers (PostgreSQL and SQLite), which also keep numbers consecutive per document and
effective dates in publication order, so no code path and no hand-written SQL can bend it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import Account
from app.db import Base, UTCDateTime, utcnow

# The two documents the charter asks for, in the order pages list them.
DOCUMENTS = ("terms", "privacy")
# French is the authoritative text; English is an optional translation.
TEXT_LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"


class TermsVersion(Base):
    __tablename__ = "terms_version"
    __table_args__ = (
        UniqueConstraint("document", "number", name="uq_terms_version_document_number"),
        CheckConstraint("document IN ('terms', 'privacy')", name="known_document"),
        CheckConstraint("number >= 1", name="positive_number"),
        CheckConstraint("length(body_fr) > 0", name="french_body"),
        CheckConstraint("length(summary_fr) > 0", name="french_summary"),
        CheckConstraint("body_en IS NULL OR length(body_en) > 0", name="english_body"),
        Index("ix_terms_version_document_effective_at", "document", "effective_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    document: Mapped[str] = mapped_column(String(16))
    number: Mapped[int] = mapped_column(Integer)
    body_fr: Mapped[str] = mapped_column(Text)
    summary_fr: Mapped[str] = mapped_column(Text)
    body_en: Mapped[str | None] = mapped_column(Text)
    summary_en: Mapped[str | None] = mapped_column(Text)
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The staff member who published it; null when published from the command line, or
    # after that account was deleted (the only change the triggers let through).
    published_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL")
    )

    publisher: Mapped[Account | None] = relationship()

    def has_language(self, language: str) -> bool:
        return language == DEFAULT_LANGUAGE or (language == "en" and self.body_en is not None)

    def text_language(self, language: str) -> str:
        """The language actually shown for `language`: itself if translated, else French."""
        return language if self.has_language(language) else DEFAULT_LANGUAGE

    def body(self, language: str) -> str:
        if self.text_language(language) == "en" and self.body_en is not None:
            return self.body_en
        return self.body_fr

    def summary(self, language: str) -> str:
        if self.text_language(language) == "en" and self.summary_en:
            return self.summary_en
        return self.summary_fr

    def summary_language(self, language: str) -> str:
        return "en" if self.text_language(language) == "en" and self.summary_en else "fr"

    def languages(self) -> tuple[str, ...]:
        return tuple(lang for lang in TEXT_LANGUAGES if self.has_language(lang))

    def __repr__(self) -> str:
        return f"<TermsVersion {self.document} v{self.number}>"


class TermsAcceptance(Base):
    __tablename__ = "terms_acceptance"
    __table_args__ = (
        UniqueConstraint("account_id", "version_id", name="uq_terms_acceptance_account_version"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    # RESTRICT: a version somebody accepted can never disappear from under the record.
    version_id: Mapped[int] = mapped_column(
        ForeignKey("terms_version.id", ondelete="RESTRICT"), index=True
    )
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    version: Mapped[TermsVersion] = relationship(lazy="joined")
