"""Saved replies get an English text beside the French one

Revision ID: 0008
Revises: 0004
Create Date: 2026-11-30 12:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # batch mode: SQLite cannot add a check constraint to an existing table otherwise.
    with op.batch_alter_table("ticket_canned_reply") as batch:
        batch.add_column(sa.Column("body_en", sa.Text(), nullable=True))
        batch.create_check_constraint(
            op.f("ck_ticket_canned_reply_english_body"), "body_en IS NULL OR length(body_en) > 0"
        )


def downgrade() -> None:
    with op.batch_alter_table("ticket_canned_reply") as batch:
        batch.drop_constraint(op.f("ck_ticket_canned_reply_english_body"), type_="check")
        batch.drop_column("body_en")
