"""Upgrade and downgrade testers with rows, one module per migration (SecureDrop's style).

`migration_<rev>.py` holds `UpgradeTester` (rows loaded at the revision before, checked
after the upgrade) and `DowngradeTester` (rows loaded at the revision, checked after the
downgrade); tests/test_migrations.py runs them on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, MetaData, Table, inspect, select

WHEN = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)


class Tester:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def table(self, name: str) -> Table:
        """The table as the database holds it at this revision (not as the models say)."""
        return Table(name, MetaData(), autoload_with=self.engine)

    def insert(self, name: str, **values: Any) -> Any:
        """Insert one row; its primary key (the first column of it)."""
        with self.engine.begin() as conn:
            result = conn.execute(self.table(name).insert().values(**values))
            return result.inserted_primary_key[0]

    def rows(self, name: str, *, order_by: str = "id") -> list[dict[str, Any]]:
        table = self.table(name)
        with self.engine.connect() as conn:
            found = conn.execute(select(table).order_by(table.c[order_by])).mappings()
            return [dict(row) for row in found]

    def tables(self) -> set[str]:
        return set(inspect(self.engine).get_table_names())

    def columns(self, name: str) -> set[str]:
        return {c["name"] for c in inspect(self.engine).get_columns(name)}

    def account(self, uid: str) -> int:
        return self.insert(
            "account",
            uid=uid,
            dn=f"uid={uid},ou=people,dc=example,dc=org",
            display_name=uid.title(),
            is_staff=False,
            created_at=WHEN,
        )
