"""0010: incident mail subscriptions and mail-in; the outbox learns headers and bulk mail."""

from __future__ import annotations

from migrations import WHEN, Tester


def _mail(tester: Tester, recipient: str, **extra: object) -> int:
    return tester.insert(
        "outgoing_mail",
        created_at=WHEN,
        recipient=recipient,
        subject="Votre ticket",
        body="Bonjour\n",
        purpose="support.reply",
        attempts=2,
        **extra,
    )


class UpgradeTester(Tester):
    """Mail waiting in the outbox before 0010 is still there, as mail to one person."""

    def load_data(self) -> None:
        self.ids = [_mail(self, "alice@example.org"), _mail(self, "bob@example.org")]

    def check_upgrade(self) -> None:
        rows = self.rows("outgoing_mail")
        assert [r["id"] for r in rows] == self.ids
        assert [r["recipient"] for r in rows] == ["alice@example.org", "bob@example.org"]
        assert all(r["bulk"] is False and r["headers"] is None for r in rows), rows
        assert all(r["attempts"] == 2 and r["body"] == "Bonjour\n" for r in rows), rows


class DowngradeTester(Tester):
    """Going back before 0010 forgets subscriptions, keeps every queued mail whole."""

    def load_data(self) -> None:
        account = self.account("alice")
        self.ids = [
            _mail(self, "alice@example.org", headers='{"In-Reply-To": "<1@x>"}', bulk=False),
            _mail(self, "list@example.org", bulk=True),
        ]
        subscription = self.insert(
            "incident_subscription",
            email="alice@example.org",
            account_id=account,
            language="fr",
            all_services=False,
            created_at=WHEN,
            confirmed_at=WHEN,
        )
        self.insert("incident_mail_service", subscription_id=subscription, service_slug="mail")
        self.insert("support_mail_answer", sender_hash="a" * 64, answered_at=WHEN)

    def check_downgrade(self) -> None:
        assert (
            not {
                "incident_subscription",
                "incident_mail_service",
                "incident_mailing",
                "support_mail_answer",
            }
            & self.tables()
        )
        assert not {"headers", "bulk"} & self.columns("outgoing_mail")
        rows = self.rows("outgoing_mail")
        assert [r["id"] for r in rows] == self.ids
        assert [r["recipient"] for r in rows] == ["alice@example.org", "list@example.org"]
        assert all(r["subject"] == "Votre ticket" and r["attempts"] == 2 for r in rows), rows
