"""Closing plan: the reminders mailed before a service or the hoster closes, and who
stopped them

Revision ID: 0015
Revises: 0012
Create Date: 2026-12-06 23:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0015"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "closing_reminder",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("closing_date", sa.Date(), nullable=False),
        sa.Column("stage", sa.String(length=8), nullable=False),
        sa.Column("sent_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "recipients >= 0", name=op.f("ck_closing_reminder_recipients_not_negative")
        ),
        sa.CheckConstraint(
            "stage IN ('notice', 'month', 'week', 'day')",
            name=op.f("ck_closing_reminder_stage_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_closing_reminder")),
        sa.UniqueConstraint(
            "subject",
            "closing_date",
            "stage",
            name=op.f("uq_closing_reminder_subject"),
        ),
    )
    op.create_table(
        "closing_opt_out",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_closing_opt_out_account_id_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_closing_opt_out")),
    )


def downgrade() -> None:
    op.drop_table("closing_opt_out")
    op.drop_table("closing_reminder")
