"""Transparency register and warrant canary

Revision ID: 0005
Revises: 0006
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0005"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "authority_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("authority_kind", sa.String(length=32), nullable=False),
        sa.Column("legal_basis", sa.String(length=300), nullable=False),
        sa.Column("request_kind", sa.String(length=32), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("response", sa.String(length=32), nullable=False),
        sa.Column("response_summary", sa.Text(), nullable=True),
        sa.Column("answered_on", sa.Date(), nullable=True),
        sa.Column("accounts_concerned", sa.Integer(), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "authority_kind IN ('judicial', 'police', 'administrative', 'intelligence', "
            "'foreign', 'other')",
            name=op.f("ck_authority_request_authority_kind"),
        ),
        sa.CheckConstraint(
            "request_kind IN ('identification', 'content', 'removal', 'suspension', "
            "'preservation', 'other')",
            name=op.f("ck_authority_request_request_kind"),
        ),
        sa.CheckConstraint(
            "response = 'pending' OR answered_on IS NOT NULL",
            name=op.f("ck_authority_request_answered"),
        ),
        sa.CheckConstraint(
            "response IN ('pending', 'complied', 'partial', 'refused', 'contested', 'no_data')",
            name=op.f("ck_authority_request_response"),
        ),
        sa.CheckConstraint(
            "accounts_concerned >= 0", name=op.f("ck_authority_request_accounts_concerned")
        ),
        sa.CheckConstraint(
            "answered_on IS NULL OR answered_on >= received_on",
            name=op.f("ck_authority_request_answered_after_received"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["account.id"],
            name=op.f("fk_authority_request_created_by_id_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_authority_request")),
    )
    with op.batch_alter_table("authority_request", schema=None) as batch_op:
        batch_op.create_index("ix_authority_request_received_on", ["received_on"], unique=False)

    op.create_table(
        "canary_statement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("statement_date", sa.Date(), nullable=False),
        sa.Column("next_update_by", sa.Date(), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("signed_text", sa.Text(), nullable=True),
        sa.Column("signing_key", sa.String(length=200), nullable=True),
        sa.Column("published_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("published_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "next_update_by > statement_date",
            name=op.f("ck_canary_statement_next_update_after_statement"),
        ),
        sa.ForeignKeyConstraint(
            ["published_by_id"],
            ["account.id"],
            name=op.f("fk_canary_statement_published_by_id_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_canary_statement")),
    )
    with op.batch_alter_table("canary_statement", schema=None) as batch_op:
        batch_op.create_index(
            "ix_canary_statement_statement_date", ["statement_date"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("canary_statement", schema=None) as batch_op:
        batch_op.drop_index("ix_canary_statement_statement_date")

    op.drop_table("canary_statement")
    with op.batch_alter_table("authority_request", schema=None) as batch_op:
        batch_op.drop_index("ix_authority_request_received_on")

    op.drop_table("authority_request")
