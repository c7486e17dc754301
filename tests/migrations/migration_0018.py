"""0018: import jobs (moving house) and their parts."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError

from migrations import WHEN, Tester

COUNTERS = {"items_total": 0, "bytes_total": 0, "items_done": 0, "bytes_done": 0}


def _job(tester: Tester, account: int, **values: Any) -> int:
    row: dict[str, Any] = {
        "account_id": account,
        "source": "upload",
        "state": "planned",
        "cancel_requested": False,
        "created_at": WHEN,
        "attempts": 0,
        **COUNTERS,
    }
    row.update(values)
    return int(tester.insert("import_job", **row))


def _part(tester: Tester, job: int, position: int, **values: Any) -> int:
    row: dict[str, Any] = {
        "job_id": job,
        "position": position,
        "key": f"services/mail/Folder{position}.mbox",
        "kind": "mail",
        "name": f"Folder{position}",
        "source_service": "mail",
        "service_slug": "mail",
        "state": "pending",
        "imported": 0,
        "skipped": 0,
        "refused": 0,
        "refusals": [{"item": "Folder #1", "reason": "a message without headers"}],
        **COUNTERS,
    }
    row.update(values)
    # Not Tester.insert: a part has a column called "name".
    with tester.engine.begin() as conn:
        result = conn.execute(tester.table("import_part").insert().values(row))
        return int(result.inserted_primary_key[0])


class UpgradeTester(Tester):
    """Accounts come through unchanged; jobs and parts keep their rules in the database."""

    def load_data(self) -> None:
        self.account_id = self.account("alice")

    def check_upgrade(self) -> None:
        assert [a["uid"] for a in self.rows("account")] == ["alice"]
        job = _job(self, self.account_id)
        _part(self, job, 0)
        _part(self, job, 1, kind=None, service_slug=None, state="left", note="Chat history")
        (stored, _left) = self.rows("import_part")
        assert stored["refusals"] == [{"item": "Folder #1", "reason": "a message without headers"}]
        for broken in (
            lambda: _job(self, self.account_id, state="lost"),
            lambda: _job(self, self.account_id, source="carrier pigeon"),
            lambda: _job(self, self.account_id, transfer_url="https://old.example.org"),
            lambda: _part(self, job, 0),  # the same position twice
            lambda: _part(self, job, 5, kind="photos"),
            lambda: _part(self, job, 6, service_slug=None),  # to import, but to no service
        ):
            with pytest.raises(IntegrityError):
                broken()


class DowngradeTester(Tester):
    """Going back before 0018 drops the imports, and only them."""

    def load_data(self) -> None:
        self.account_id = self.account("alice")
        _part(self, _job(self, self.account_id), 0)

    def check_downgrade(self) -> None:
        assert not {"import_job", "import_part"} & self.tables()
        assert [a["uid"] for a in self.rows("account")] == ["alice"]
