"""Terms versions (immutable, enforced by triggers) and acceptances (legal)

Revision ID: 0002
Revises: 0005
Create Date: 2026-11-24 02:34:14.461383
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0002"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Everything but published_by_id, which may only become NULL (its account was deleted).
FROZEN_COLUMNS = (
    "id",
    "document",
    "number",
    "body_fr",
    "summary_fr",
    "body_en",
    "summary_en",
    "effective_at",
    "published_at",
)

POSTGRESQL_UP = [
    """
    CREATE FUNCTION terms_version_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'terms version % of % is published: it cannot be deleted',
          OLD.number, OLD.document USING ERRCODE = 'integrity_constraint_violation';
      END IF;
      IF NEW.published_by_id IS NULL AND (@NEW@) IS NOT DISTINCT FROM (@OLD@) THEN
        RETURN NEW;
      END IF;
      RAISE EXCEPTION 'terms version % of % is published: it cannot be changed',
        OLD.number, OLD.document USING ERRCODE = 'integrity_constraint_violation';
    END $$
    """.replace("@NEW@", ", ".join(f"NEW.{c}" for c in FROZEN_COLUMNS)).replace(
        "@OLD@", ", ".join(f"OLD.{c}" for c in FROZEN_COLUMNS)
    ),
    """
    CREATE TRIGGER terms_version_frozen BEFORE UPDATE OR DELETE ON terms_version
    FOR EACH ROW EXECUTE FUNCTION terms_version_frozen()
    """,
    """
    CREATE FUNCTION terms_version_in_order() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      last_number integer;
      last_effective timestamptz;
    BEGIN
      SELECT number, effective_at INTO last_number, last_effective FROM terms_version
        WHERE document = NEW.document ORDER BY number DESC LIMIT 1;
      IF NEW.number <> coalesce(last_number, 0) + 1 THEN
        RAISE EXCEPTION 'terms version numbers of % must follow each other', NEW.document
          USING ERRCODE = 'check_violation';
      END IF;
      IF last_effective IS NOT NULL AND NEW.effective_at < last_effective THEN
        RAISE EXCEPTION 'a new version of % cannot take effect before the previous one',
          NEW.document USING ERRCODE = 'check_violation';
      END IF;
      RETURN NEW;
    END $$
    """,
    """
    CREATE TRIGGER terms_version_in_order BEFORE INSERT ON terms_version
    FOR EACH ROW EXECUTE FUNCTION terms_version_in_order()
    """,
]
POSTGRESQL_DOWN = [
    "DROP TRIGGER IF EXISTS terms_version_in_order ON terms_version",
    "DROP TRIGGER IF EXISTS terms_version_frozen ON terms_version",
    "DROP FUNCTION IF EXISTS terms_version_in_order()",
    "DROP FUNCTION IF EXISTS terms_version_frozen()",
]

_unchanged = " AND ".join(f"NEW.{c} IS OLD.{c}" for c in FROZEN_COLUMNS)
SQLITE_UP = [
    """
    CREATE TRIGGER terms_version_no_delete BEFORE DELETE ON terms_version
    BEGIN SELECT RAISE(ABORT, 'a published terms version cannot be deleted'); END
    """,
    f"""
    CREATE TRIGGER terms_version_no_update BEFORE UPDATE ON terms_version
    WHEN NOT (NEW.published_by_id IS NULL AND {_unchanged})
    BEGIN SELECT RAISE(ABORT, 'a published terms version cannot be changed'); END
    """,
    """
    CREATE TRIGGER terms_version_in_order BEFORE INSERT ON terms_version
    WHEN NEW.number <> (SELECT coalesce(max(number), 0) + 1 FROM terms_version
                        WHERE document = NEW.document)
      OR NEW.effective_at < (SELECT coalesce(max(effective_at), '') FROM terms_version
                             WHERE document = NEW.document)
    BEGIN
      SELECT RAISE(ABORT, 'terms versions must follow each other in number and date');
    END
    """,
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS terms_version_in_order",
    "DROP TRIGGER IF EXISTS terms_version_no_update",
    "DROP TRIGGER IF EXISTS terms_version_no_delete",
]


def upgrade() -> None:
    op.create_table(
        "terms_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document", sa.String(length=16), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("body_fr", sa.Text(), nullable=False),
        sa.Column("summary_fr", sa.Text(), nullable=False),
        sa.Column("body_en", sa.Text(), nullable=True),
        sa.Column("summary_en", sa.Text(), nullable=True),
        sa.Column("effective_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("published_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("published_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "document IN ('terms', 'privacy')", name=op.f("ck_terms_version_known_document")
        ),
        sa.CheckConstraint(
            "body_en IS NULL OR length(body_en) > 0", name=op.f("ck_terms_version_english_body")
        ),
        sa.CheckConstraint("length(body_fr) > 0", name=op.f("ck_terms_version_french_body")),
        sa.CheckConstraint("length(summary_fr) > 0", name=op.f("ck_terms_version_french_summary")),
        sa.CheckConstraint("number >= 1", name=op.f("ck_terms_version_positive_number")),
        sa.ForeignKeyConstraint(
            ["published_by_id"],
            ["account.id"],
            name=op.f("fk_terms_version_published_by_id_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_terms_version")),
        sa.UniqueConstraint("document", "number", name="uq_terms_version_document_number"),
    )
    with op.batch_alter_table("terms_version", schema=None) as batch_op:
        batch_op.create_index(
            "ix_terms_version_document_effective_at", ["document", "effective_at"], unique=False
        )

    op.create_table(
        "terms_acceptance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("accepted_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_terms_acceptance_account_id_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["terms_version.id"],
            name=op.f("fk_terms_acceptance_version_id_terms_version"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_terms_acceptance")),
        sa.UniqueConstraint("account_id", "version_id", name="uq_terms_acceptance_account_version"),
    )
    with op.batch_alter_table("terms_acceptance", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_terms_acceptance_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_terms_acceptance_version_id"), ["version_id"], unique=False
        )

    dialect = op.get_bind().dialect.name
    for statement in {"postgresql": POSTGRESQL_UP, "sqlite": SQLITE_UP}.get(dialect, []):
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in {"postgresql": POSTGRESQL_DOWN, "sqlite": SQLITE_DOWN}.get(dialect, []):
        op.execute(statement)
    with op.batch_alter_table("terms_acceptance", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_terms_acceptance_version_id"))
        batch_op.drop_index(batch_op.f("ix_terms_acceptance_account_id"))

    op.drop_table("terms_acceptance")
    with op.batch_alter_table("terms_version", schema=None) as batch_op:
        batch_op.drop_index("ix_terms_version_document_effective_at")

    op.drop_table("terms_version")
