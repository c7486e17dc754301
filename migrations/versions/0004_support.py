"""Support tickets, messages, attachments, saved replies; queue and search indexes

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 03:00:13.872191
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ticket",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("service", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_message_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("state_changed_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "search_vector",
            sa.Text().with_variant(postgresql.TSVECTOR(), "postgresql"),
            nullable=True,
        ),
        sa.CheckConstraint(
            "(state = 'closed' AND closed_at IS NOT NULL) OR "
            "(state <> 'closed' AND closed_at IS NULL)",
            name=op.f("ck_ticket_closed_at_iff_closed"),
        ),
        sa.CheckConstraint(
            "category IN ('question', 'problem', 'account', 'data_request', 'other')",
            name=op.f("ck_ticket_category"),
        ),
        sa.CheckConstraint(
            "state IN ('new', 'waiting_staff', 'waiting_user', 'closed')",
            name=op.f("ck_ticket_state"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_ticket_account_id_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["assignee_id"],
            ["account.id"],
            name=op.f("fk_ticket_assignee_id_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket")),
    )
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ticket_account_id_last_message_at", ["account_id", "last_message_at"], unique=False
        )
        batch_op.create_index(
            "ix_ticket_assignee_id_state_changed_at",
            ["assignee_id", "state_changed_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_ticket_open_state_changed_at",
            ["state_changed_at", "id"],
            unique=False,
            postgresql_where=sa.text("state <> 'closed'"),
            sqlite_where=sa.text("state <> 'closed'"),
        )
        batch_op.create_index(
            "ix_ticket_open_state_service_assignee_id",
            ["state", "service", "assignee_id"],
            unique=False,
            postgresql_where=sa.text("state <> 'closed'"),
            sqlite_where=sa.text("state <> 'closed'"),
        )
        batch_op.create_index(
            "ix_ticket_search_vector", ["search_vector"], unique=False, postgresql_using="gin"
        )
        batch_op.create_index(
            "ix_ticket_service_state_changed_at",
            ["service", "state_changed_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_ticket_state_changed_at", ["state_changed_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_ticket_state_state_changed_at", ["state", "state_changed_at", "id"], unique=False
        )

    op.create_table(
        "ticket_canned_reply",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("updated_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["account.id"],
            name=op.f("fk_ticket_canned_reply_updated_by_id_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_canned_reply")),
        sa.UniqueConstraint("title", name=op.f("uq_ticket_canned_reply_title")),
    )
    op.create_table(
        "ticket_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("from_staff", sa.Boolean(), nullable=False),
        sa.Column("is_internal", sa.Boolean(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "NOT is_internal OR from_staff",
            name=op.f("ck_ticket_message_internal_notes_from_staff"),
        ),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["account.id"],
            name=op.f("fk_ticket_message_author_id_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["ticket.id"],
            name=op.f("fk_ticket_message_ticket_id_ticket"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_message")),
    )
    with op.batch_alter_table("ticket_message", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ticket_message_ticket_id"), ["ticket_id"], unique=False
        )

    op.create_table(
        "ticket_attachment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("storage_name", sa.String(length=64), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("size >= 0", name=op.f("ck_ticket_attachment_size")),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["ticket_message.id"],
            name=op.f("fk_ticket_attachment_message_id_ticket_message"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["ticket.id"],
            name=op.f("fk_ticket_attachment_ticket_id_ticket"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_attachment")),
        sa.UniqueConstraint("storage_name", name=op.f("uq_ticket_attachment_storage_name")),
    )
    with op.batch_alter_table("ticket_attachment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ticket_attachment_message_id"), ["message_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_ticket_attachment_ticket_id"), ["ticket_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("ticket_attachment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_attachment_ticket_id"))
        batch_op.drop_index(batch_op.f("ix_ticket_attachment_message_id"))

    op.drop_table("ticket_attachment")
    with op.batch_alter_table("ticket_message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_message_ticket_id"))

    op.drop_table("ticket_message")
    op.drop_table("ticket_canned_reply")
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.drop_index("ix_ticket_state_state_changed_at")
        batch_op.drop_index("ix_ticket_state_changed_at")
        batch_op.drop_index("ix_ticket_service_state_changed_at")
        batch_op.drop_index("ix_ticket_search_vector", postgresql_using="gin")
        batch_op.drop_index(
            "ix_ticket_open_state_service_assignee_id",
            postgresql_where=sa.text("state <> 'closed'"),
            sqlite_where=sa.text("state <> 'closed'"),
        )
        batch_op.drop_index(
            "ix_ticket_open_state_changed_at",
            postgresql_where=sa.text("state <> 'closed'"),
            sqlite_where=sa.text("state <> 'closed'"),
        )
        batch_op.drop_index("ix_ticket_assignee_id_state_changed_at")
        batch_op.drop_index("ix_ticket_account_id_last_message_at")

    op.drop_table("ticket")
