"""What people chose: the language of their pages and mail, where their deletion receipt goes

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 23:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chosen_language", sa.String(length=8), nullable=True))
    with op.batch_alter_table("deletion_request", schema=None) as batch_op:
        batch_op.add_column(sa.Column("receipt_to", sa.String(length=320), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deletion_request", schema=None) as batch_op:
        batch_op.drop_column("receipt_to")
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.drop_column("chosen_language")
