"""Tickets from visitors (the public contact form): no account, a contact address

Revision ID: 0011
Revises: 0007
Create Date: 2026-11-30 16:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.add_column(sa.Column("contact_email", sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column("contact_language", sa.String(length=8), nullable=True))
        batch_op.alter_column("account_id", existing_type=sa.Integer(), nullable=True)
        batch_op.create_index(
            batch_op.f("ix_ticket_contact_email"), ["contact_email"], unique=False
        )
        batch_op.create_check_constraint(
            op.f("ck_ticket_member_or_visitor"),
            "(account_id IS NULL) = (contact_email IS NOT NULL)",
        )
        batch_op.create_check_constraint(
            op.f("ck_ticket_contact_email_lowercase"), "contact_email = lower(contact_email)"
        )


def downgrade() -> None:
    # Visitors' tickets cannot exist without their address: they go with it.
    op.execute(
        "DELETE FROM ticket_attachment WHERE ticket_id IN "
        "(SELECT id FROM ticket WHERE account_id IS NULL)"
    )
    op.execute(
        "DELETE FROM ticket_message WHERE ticket_id IN "
        "(SELECT id FROM ticket WHERE account_id IS NULL)"
    )
    op.execute("DELETE FROM ticket WHERE account_id IS NULL")
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_ticket_contact_email_lowercase"), type_="check")
        batch_op.drop_constraint(op.f("ck_ticket_member_or_visitor"), type_="check")
        batch_op.drop_index(batch_op.f("ix_ticket_contact_email"))
        batch_op.alter_column("account_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("contact_language")
        batch_op.drop_column("contact_email")
