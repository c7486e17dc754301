"""0011: tickets from visitors (no account, a contact address)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError

from migrations import WHEN, Tester


def _ticket(tester: Tester, subject: str, **owner: Any) -> tuple[int, int, int]:
    """A ticket with one message and one attachment: (ticket, message, attachment) ids."""
    ticket = tester.insert(
        "ticket",
        subject=subject,
        service="mail",
        category="question",
        state="waiting_staff",
        created_at=WHEN,
        last_message_at=WHEN,
        state_changed_at=WHEN,
        **owner,
    )
    message = tester.insert(
        "ticket_message",
        ticket_id=ticket,
        author_id=owner.get("account_id"),
        from_staff=False,
        is_internal=False,
        body=f"About {subject}",
        created_at=WHEN,
    )
    attachment = tester.insert(
        "ticket_attachment",
        message_id=message,
        ticket_id=ticket,
        filename="capture.png",
        content_type="image/png",
        size=10,
        storage_name=f"{ticket:064d}",
        created_at=WHEN,
    )
    return ticket, message, attachment


class UpgradeTester(Tester):
    """Members' tickets come through 0011 unchanged, and the new rule holds for them."""

    def load_data(self) -> None:
        self.account_id = self.account("alice")
        self.ticket = _ticket(self, "Quota", account_id=self.account_id)

    def check_upgrade(self) -> None:
        (ticket,) = self.rows("ticket")
        assert ticket["id"] == self.ticket[0] and ticket["account_id"] == self.account_id
        assert ticket["contact_email"] is None and ticket["contact_language"] is None
        assert [m["id"] for m in self.rows("ticket_message")] == [self.ticket[1]]
        assert [a["id"] for a in self.rows("ticket_attachment")] == [self.ticket[2]]
        # A visitor's ticket needs its address; one with neither owner nor address is refused.
        _ticket(self, "Contact", contact_email="visitor@example.org", contact_language="en")
        with pytest.raises(IntegrityError):
            _ticket(self, "Nobody's")


class DowngradeTester(Tester):
    """Going back before 0011 deletes visitors' tickets with their messages and files,
    and only those."""

    def load_data(self) -> None:
        account = self.account("alice")
        self.member = _ticket(self, "Quota", account_id=account)
        self.visitor = _ticket(
            self, "Contact", contact_email="visitor@example.org", contact_language="en"
        )
        self.later_member = _ticket(self, "Password", account_id=account)

    def check_downgrade(self) -> None:
        assert not {"contact_email", "contact_language"} & self.columns("ticket")
        kept = [self.member, self.later_member]
        assert [t["id"] for t in self.rows("ticket")] == [k[0] for k in kept]
        assert [m["id"] for m in self.rows("ticket_message")] == [k[1] for k in kept]
        assert [a["id"] for a in self.rows("ticket_attachment")] == [k[2] for k in kept]
        assert [t["subject"] for t in self.rows("ticket")] == ["Quota", "Password"]
