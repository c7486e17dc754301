"""0019: transfer codes (the hash of a one-time code, its expiry, who used it)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from migrations import WHEN, Tester


def _code(tester: Tester, account_id: int, digest: str) -> int:
    return int(
        tester.insert(
            "transfer_code",
            account_id=account_id,
            code_hash=digest,
            created_at=WHEN,
            expires_at=WHEN + timedelta(hours=24),
        )
    )


class UpgradeTester(Tester):
    """Accounts come through 0019 unchanged; codes are unique by hash and go with their
    account."""

    def load_data(self) -> None:
        self.alice = self.account("alice")
        self.bob = self.account("bob")

    def check_upgrade(self) -> None:
        assert [a["id"] for a in self.rows("account")] == [self.alice, self.bob]
        assert self.rows("transfer_code") == []
        first = _code(self, self.alice, "a" * 64)
        _code(self, self.bob, "b" * 64)
        (row,) = [r for r in self.rows("transfer_code") if r["id"] == first]
        assert row["used_at"] is None and row["revoked_at"] is None
        with pytest.raises(IntegrityError):
            _code(self, self.bob, "a" * 64)
        with self.engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                conn.execute(text("PRAGMA foreign_keys=ON"))
            conn.execute(text("DELETE FROM account WHERE id = :id"), {"id": self.alice})
        assert [r["account_id"] for r in self.rows("transfer_code")] == [self.bob]


class DowngradeTester(Tester):
    """Going back before 0019 drops the codes (nobody can use them any more) and keeps
    the accounts."""

    def load_data(self) -> None:
        self.alice = self.account("alice")
        _code(self, self.alice, "c" * 64)

    def check_downgrade(self) -> None:
        assert "transfer_code" not in self.tables()
        assert [a["id"] for a in self.rows("account")] == [self.alice]
