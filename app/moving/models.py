"""Import jobs (moving house) and their parts: states, sizes, progress and the report.

No content of the archive is stored here: a part is known by its key in the archive (a
member name, or a folder prefix), its kind, its name (a folder or calendar name, shown to
the person and in her export) and its counts; the archive itself stays on disk until the
import ends.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, UTCDateTime, utcnow

# checking: the worker fetches (transfer) and checks the archive, and makes the plan.
# planned: the person reads the plan; nothing is written until she confirms.
# queued → running → done; failed (refused archive, or an error: staff may retry);
# cancelled (by her, or by staff): what was imported stays.
JOB_STATES = ("checking", "planned", "queued", "running", "done", "failed", "cancelled")
ACTIVE_STATES = ("checking", "planned", "queued", "running")
SOURCES = ("upload", "transfer")
PART_KINDS = ("mail", "calendar", "contacts", "files")
# pending: to do; done; failed (an error stopped it); cancelled; left (not imported here).
PART_STATES = ("pending", "running", "done", "failed", "cancelled", "left")
MAX_REFUSALS = 200  # refusals listed by name per part; the others are counted


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class ImportJob(Base):
    __tablename__ = "import_job"
    __table_args__ = (
        CheckConstraint(_in("state", JOB_STATES), name="state"),
        CheckConstraint(_in("source", SOURCES), name="source"),
        CheckConstraint("source = 'transfer' OR transfer_url IS NULL", name="transfer_url"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[str] = mapped_column(String(16))
    # The old panel's address for a transfer (the code itself is never stored here).
    transfer_url: Mapped[str | None] = mapped_column(String(2048))
    # The archive on disk while the job needs it; None once it is deleted.
    archive_path: Mapped[str | None] = mapped_column(String(1024))
    archive_bytes: Mapped[int | None] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16), default="checking")
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    planned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Last time the worker wrote progress: a running job silent for long was killed.
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    items_total: Mapped[int] = mapped_column(Integer, default=0)
    bytes_total: Mapped[int] = mapped_column(BigInteger, default=0)
    items_done: Mapped[int] = mapped_column(Integer, default=0)
    bytes_done: Mapped[int] = mapped_column(BigInteger, default=0)
    # The last error, as an English message marked N_ and its values (pages translate it).
    error: Mapped[str | None] = mapped_column(Text)
    error_values: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    parts: Mapped[list[ImportPart]] = relationship(
        back_populates="job",
        order_by="ImportPart.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATES

    def __repr__(self) -> str:
        return f"<ImportJob {self.id} {self.state}>"


class ImportPart(Base):
    __tablename__ = "import_part"
    __table_args__ = (
        CheckConstraint(_in("state", PART_STATES), name="state"),
        CheckConstraint(f"kind IS NULL OR {_in('kind', PART_KINDS)}", name="kind"),
        CheckConstraint("state = 'left' OR service_slug IS NOT NULL", name="service_slug"),
        UniqueConstraint("job_id", "position", name="uq_import_part_job_position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("import_job.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(1024))
    kind: Mapped[str | None] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(1024), default="")
    source_service: Mapped[str] = mapped_column(String(64), default="")
    # The service of this hoster that receives it; None for a part left out (see note).
    service_slug: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    note_values: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    items_total: Mapped[int] = mapped_column(Integer, default=0)
    bytes_total: Mapped[int] = mapped_column(BigInteger, default=0)
    items_done: Mapped[int] = mapped_column(Integer, default=0)
    bytes_done: Mapped[int] = mapped_column(BigInteger, default=0)
    imported: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    refused: Mapped[int] = mapped_column(Integer, default=0)
    # [{"item": name, "reason": English N_ message}], at most MAX_REFUSALS.
    refusals: Mapped[list[dict[str, str]] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    error_values: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    job: Mapped[ImportJob] = relationship(back_populates="parts")

    def __repr__(self) -> str:
        return f"<ImportPart {self.id} {self.kind}:{self.name} {self.state}>"
