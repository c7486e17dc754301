"""Incident mail subscriptions and mail-in

Revision ID: 0010
Revises: 0008
Create Date: 2026-11-30 12:34:37.970700
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0010"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "support_mail_answer",
        sa.Column("sender_hash", sa.String(length=64), nullable=False),
        sa.Column("answered_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sender_hash", name=op.f("pk_support_mail_answer")),
    )
    op.create_table(
        "incident_subscription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("all_services", sa.Boolean(), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_asked_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "account_id IS NULL OR confirmed_at IS NOT NULL",
            name=op.f("ck_incident_subscription_accounts_confirmed"),
        ),
        sa.CheckConstraint(
            "email = lower(email)", name=op.f("ck_incident_subscription_email_lowercase")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_incident_subscription_account_id_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_subscription")),
        sa.UniqueConstraint("account_id", name=op.f("uq_incident_subscription_account_id")),
        sa.UniqueConstraint("email", name=op.f("uq_incident_subscription_email")),
    )
    with op.batch_alter_table("incident_subscription", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_incident_subscription_confirmed_at"), ["confirmed_at"], unique=False
        )

    op.create_table(
        "incident_mail_service",
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("service_slug", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["incident_subscription.id"],
            name=op.f("fk_incident_mail_service_subscription_id_incident_subscription"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "subscription_id", "service_slug", name=op.f("pk_incident_mail_service")
        ),
    )
    op.create_table(
        "incident_mailing",
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("last_update_id", sa.Integer(), nullable=False),
        sa.Column("last_sent_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("start_sent", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_incident_mailing_incident_id_incident"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("incident_id", name=op.f("pk_incident_mailing")),
    )
    with op.batch_alter_table("outgoing_mail", schema=None) as batch_op:
        batch_op.add_column(sa.Column("headers", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("bulk", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("outgoing_mail", schema=None) as batch_op:
        batch_op.drop_column("bulk")
        batch_op.drop_column("headers")

    op.drop_table("incident_mailing")
    op.drop_table("incident_mail_service")
    with op.batch_alter_table("incident_subscription", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_subscription_confirmed_at"))

    op.drop_table("incident_subscription")
    op.drop_table("support_mail_answer")
