"""Sign-in through OpenID Connect: the provider's sid/sub on sessions, used logout tokens

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 23:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("oidc_sid", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("oidc_sub", sa.String(length=255), nullable=True))
        batch_op.create_index(batch_op.f("ix_sessions_oidc_sid"), ["oidc_sid"], unique=False)
        batch_op.create_index(batch_op.f("ix_sessions_oidc_sub"), ["oidc_sub"], unique=False)
    op.create_table(
        "oidc_used_logout_tokens",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("expires_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oidc_used_logout_tokens")),
    )
    with op.batch_alter_table("oidc_used_logout_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_oidc_used_logout_tokens_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("oidc_used_logout_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oidc_used_logout_tokens_expires_at"))
    op.drop_table("oidc_used_logout_tokens")
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sessions_oidc_sub"))
        batch_op.drop_index(batch_op.f("ix_sessions_oidc_sid"))
        batch_op.drop_column("oidc_sub")
        batch_op.drop_column("oidc_sid")
