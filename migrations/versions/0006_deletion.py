"""Deletion requests and their steps (one active request per account, checked states)

Revision ID: 0006
Revises: 0001
Create Date: 2026-11-24 02:36:17.355511
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0006"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = "state IN ('requested', 'approved')"


def upgrade() -> None:
    op.create_table(
        "deletion_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("requested_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("grace_until", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("approved_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("approved_by", sa.Integer(), nullable=True),
        sa.Column("cancelled_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("refused_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("refused_by", sa.Integer(), nullable=True),
        sa.Column("refusal_reason", sa.Text(), nullable=True),
        sa.Column("completed_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("subject_uid", sa.String(length=256), nullable=True),
        sa.Column("subject_dn", sa.String(length=1024), nullable=True),
        sa.Column("subject_name", sa.String(length=256), nullable=True),
        sa.Column("subject_language", sa.String(length=35), nullable=True),
        sa.Column("receipt_email", sa.String(length=320), nullable=True),
        sa.CheckConstraint(
            "state IN ('requested', 'approved', 'completed', 'cancelled', 'refused')",
            name=op.f("ck_deletion_request_state"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_deletion_request_account_id_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["approved_by"],
            ["account.id"],
            name=op.f("fk_deletion_request_approved_by_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["refused_by"],
            ["account.id"],
            name=op.f("fk_deletion_request_refused_by_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deletion_request")),
    )
    with op.batch_alter_table("deletion_request", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_deletion_request_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            "uq_deletion_request_active_account",
            ["account_id"],
            unique=True,
            sqlite_where=sa.text(ACTIVE),
            postgresql_where=sa.text(ACTIVE),
        )

    op.create_table(
        "deletion_step",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("service_slug", sa.String(length=64), nullable=True),
        sa.Column("label", sa.String(length=256), nullable=False),
        sa.Column("instructions", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claim_token", sa.String(length=64), nullable=True),
        sa.Column("claimed_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("kept", sa.Text(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("done_by", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "kind != 'service' OR service_slug IS NOT NULL",
            name=op.f("ck_deletion_step_service_slug"),
        ),
        sa.CheckConstraint(
            "kind = 'service' OR mode = 'automatic'",
            name=op.f("ck_deletion_step_builtin_automatic"),
        ),
        sa.CheckConstraint(
            "kind IN ('service', 'directory', 'panel')", name=op.f("ck_deletion_step_kind")
        ),
        sa.CheckConstraint("mode IN ('automatic', 'manual')", name=op.f("ck_deletion_step_mode")),
        sa.CheckConstraint(
            "state IN ('pending', 'running', 'done', 'failed')",
            name=op.f("ck_deletion_step_state"),
        ),
        sa.ForeignKeyConstraint(
            ["done_by"],
            ["account.id"],
            name=op.f("fk_deletion_step_done_by_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["deletion_request.id"],
            name=op.f("fk_deletion_step_request_id_deletion_request"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deletion_step")),
        sa.UniqueConstraint("request_id", "position", name="uq_deletion_step_request_position"),
    )
    with op.batch_alter_table("deletion_step", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_deletion_step_request_id"), ["request_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("deletion_step", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deletion_step_request_id"))
    op.drop_table("deletion_step")
    with op.batch_alter_table("deletion_request", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_deletion_request_active_account",
            sqlite_where=sa.text(ACTIVE),
            postgresql_where=sa.text(ACTIVE),
        )
        batch_op.drop_index(batch_op.f("ix_deletion_request_account_id"))
    op.drop_table("deletion_request")
