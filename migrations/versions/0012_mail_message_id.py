"""Ticket messages keep the Message-ID of the mail they came from, unique per ticket

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 23:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing messages keep NULL: nothing tells which of them came by mail.
    with op.batch_alter_table("ticket_message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mail_message_id", sa.String(length=255), nullable=True))
        batch_op.create_unique_constraint(
            "uq_ticket_message_ticket_mail_message_id", ["ticket_id", "mail_message_id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("ticket_message", schema=None) as batch_op:
        batch_op.drop_constraint("uq_ticket_message_ticket_mail_message_id", type_="unique")
        batch_op.drop_column("mail_message_id")
