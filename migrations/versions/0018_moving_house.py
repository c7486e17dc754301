"""Moving house: import jobs and their parts (state, sizes, progress, report)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 03:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JOB_STATES = "state IN ('checking', 'planned', 'queued', 'running', 'done', 'failed', 'cancelled')"
PART_STATES = "state IN ('pending', 'running', 'done', 'failed', 'cancelled', 'left')"
PART_KINDS = "kind IS NULL OR kind IN ('mail', 'calendar', 'contacts', 'files')"


def _when(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, app.db.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "import_job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("transfer_url", sa.String(length=2048), nullable=True),
        sa.Column("archive_path", sa.String(length=1024), nullable=True),
        sa.Column("archive_bytes", sa.BigInteger(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        _when("created_at", nullable=False),
        _when("planned_at"),
        _when("confirmed_at"),
        _when("started_at"),
        _when("finished_at"),
        _when("updated_at"),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("items_total", sa.Integer(), nullable=False),
        sa.Column("bytes_total", sa.BigInteger(), nullable=False),
        sa.Column("items_done", sa.Integer(), nullable=False),
        sa.Column("bytes_done", sa.BigInteger(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("error_values", sa.JSON(), nullable=True),
        sa.CheckConstraint(JOB_STATES, name=op.f("ck_import_job_state")),
        sa.CheckConstraint("source IN ('upload', 'transfer')", name=op.f("ck_import_job_source")),
        sa.CheckConstraint(
            "source = 'transfer' OR transfer_url IS NULL", name=op.f("ck_import_job_transfer_url")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_import_job_account_id_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_job")),
    )
    with op.batch_alter_table("import_job", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_import_job_account_id"), ["account_id"], unique=False)

    op.create_table(
        "import_part",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=1024), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=True),
        sa.Column("name", sa.String(length=1024), nullable=False),
        sa.Column("source_service", sa.String(length=64), nullable=False),
        sa.Column("service_slug", sa.String(length=64), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("note_values", sa.JSON(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("items_total", sa.Integer(), nullable=False),
        sa.Column("bytes_total", sa.BigInteger(), nullable=False),
        sa.Column("items_done", sa.Integer(), nullable=False),
        sa.Column("bytes_done", sa.BigInteger(), nullable=False),
        sa.Column("imported", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("refused", sa.Integer(), nullable=False),
        sa.Column("refusals", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("error_values", sa.JSON(), nullable=True),
        sa.CheckConstraint(PART_STATES, name=op.f("ck_import_part_state")),
        sa.CheckConstraint(PART_KINDS, name=op.f("ck_import_part_kind")),
        sa.CheckConstraint(
            "state = 'left' OR service_slug IS NOT NULL", name=op.f("ck_import_part_service_slug")
        ),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["import_job.id"],
            name=op.f("fk_import_part_job_id_import_job"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_part")),
        sa.UniqueConstraint("job_id", "position", name="uq_import_part_job_position"),
    )
    with op.batch_alter_table("import_part", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_import_part_job_id"), ["job_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("import_part", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_import_part_job_id"))
    op.drop_table("import_part")
    with op.batch_alter_table("import_job", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_import_job_account_id"))
    op.drop_table("import_job")
