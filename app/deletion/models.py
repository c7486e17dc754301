"""Deletion requests and their steps; what survives the purge is a tombstone, no personal data."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, UTCDateTime, utcnow

# requested: in the grace period, or waiting for staff approval once it is over.
# approved: processing; steps run (automatic) or wait for staff (manual).
# completed: every step done; personal data erased; the row is the tombstone.
REQUEST_STATES = ("requested", "approved", "completed", "cancelled", "refused")
ACTIVE_STATES = ("requested", "approved")
STEP_STATES = ("pending", "running", "done", "failed")
STEP_KINDS = ("service", "directory", "panel")
STEP_MODES = ("automatic", "manual")

_ACTIVE_SQL = "state IN ('requested', 'approved')"


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class DeletionRequest(Base):
    __tablename__ = "deletion_request"
    __table_args__ = (
        CheckConstraint(_in("state", REQUEST_STATES), name="state"),
        # One active request per account, enforced by the database.
        Index(
            "uq_deletion_request_active_account",
            "account_id",
            unique=True,
            sqlite_where=text(_ACTIVE_SQL),
            postgresql_where=text(_ACTIVE_SQL),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Null once the account is deleted: the tombstone points at nobody.
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL"), index=True
    )
    state: Mapped[str] = mapped_column(String(16), default="requested")
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    grace_until: Mapped[datetime] = mapped_column(UTCDateTime)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    refused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    refused_by: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    # Shown to the user (e.g. a legal hold); erased with the account.
    refusal_reason: Mapped[str | None] = mapped_column(Text)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # Who is to be deleted, captured at request time so processing works after the account
    # row is gone; every one of these is erased when the request completes.
    subject_uid: Mapped[str | None] = mapped_column(String(256))
    subject_dn: Mapped[str | None] = mapped_column(String(1024))
    subject_name: Mapped[str | None] = mapped_column(String(256))
    subject_language: Mapped[str | None] = mapped_column(String(35))
    # The account's address (what connectors know the person by) and, when the person gave
    # one, an address outside the hoster for the receipt: the account's mailbox is
    # usually among what the deletion erases.
    receipt_email: Mapped[str | None] = mapped_column(String(320))
    receipt_to: Mapped[str | None] = mapped_column(String(320))

    steps: Mapped[list[DeletionStep]] = relationship(
        back_populates="request",
        order_by="DeletionStep.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def receipt_address(self) -> str | None:
        """Where the receipt goes: the outside address if given, else the account's."""
        return self.receipt_to or self.receipt_email

    def __repr__(self) -> str:
        return f"<DeletionRequest {self.id} {self.state}>"


class DeletionStep(Base):
    __tablename__ = "deletion_step"
    __table_args__ = (
        CheckConstraint(_in("state", STEP_STATES), name="state"),
        CheckConstraint(_in("kind", STEP_KINDS), name="kind"),
        CheckConstraint(_in("mode", STEP_MODES), name="mode"),
        CheckConstraint("kind = 'service' OR mode = 'automatic'", name="builtin_automatic"),
        CheckConstraint("kind != 'service' OR service_slug IS NOT NULL", name="service_slug"),
        UniqueConstraint("request_id", "position", name="uq_deletion_step_request_position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("deletion_request.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    mode: Mapped[str] = mapped_column(String(16))
    service_slug: Mapped[str | None] = mapped_column(String(64))
    # The service's name as hoster.toml said at request time (not personal data).
    label: Mapped[str] = mapped_column(String(256), default="")
    # For manual steps: what staff do by hand (from hoster.toml's manual_deletion).
    instructions: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # A random token written with the claim: only the claimant may record the outcome.
    claim_token: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Outcome or error, for staff; what is kept on purpose, and why.
    detail: Mapped[str | None] = mapped_column(Text)
    kept: Mapped[str | None] = mapped_column(Text)
    comment: Mapped[str | None] = mapped_column(Text)
    done_by: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))

    request: Mapped[DeletionRequest] = relationship(back_populates="steps")

    def __repr__(self) -> str:
        return f"<DeletionStep {self.id} {self.kind}:{self.service_slug} {self.state}>"
