"""Transfer codes: another panel downloads a person's export once (hash only, 24 hours)

Revision ID: 0019
Revises: 0017
Create Date: 2026-12-07 03:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "transfer_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("used_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("used_from", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_transfer_code_account_id_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfer_code")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_transfer_code_code_hash")),
    )
    with op.batch_alter_table("transfer_code", schema=None) as batch_op:
        batch_op.create_index(
            "ix_transfer_code_account_id_expires_at", ["account_id", "expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("transfer_code", schema=None) as batch_op:
        batch_op.drop_index("ix_transfer_code_account_id_expires_at")
    op.drop_table("transfer_code")
