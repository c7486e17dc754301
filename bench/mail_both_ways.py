"""Mail both ways: the cost of one incident mail to N subscribers, and of one reply by mail.

Queueing the incident mail renders one personalised mail per subscriber into the outbox;
the baseline is the same number of bare outbox rows written by the same session, so the
ratio says what rendering, tokens and links add. It also times parsing a reply with a
quoted history and a 200 KB PDF (what `flask support receive` does first).

    .venv/bin/python bench/mail_both_ways.py --subscribers 5000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import delete  # noqa: E402

from app import create_app  # noqa: E402
from app.cli import upgrade_database  # noqa: E402
from app.db import session_scope, utcnow  # noqa: E402
from app.incidents import operations  # noqa: E402
from app.incidents.notifications import IncidentMailing, mail_subscribers  # noqa: E402
from app.incidents.subscriptions import IncidentSubscription  # noqa: E402
from app.mail import OutgoingMail  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", type=int, default=5000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-mail-"))
    url = args.database_url or f"sqlite:///{folder / 'bench.sqlite3'}"
    upgrade_database(url)
    app = create_app(
        {
            "SECRET_KEY": "bench",
            "DATABASE_URL": url,
            "QUEUE_URL": "immediate",
            "SUPPORT_REPLY_ADDRESS": "support@demo.chatons.org",
            "SUPPORT_ATTACHMENT_DIR": str(folder / "files"),
        }
    )
    n = args.subscribers
    with app.app_context(), session_scope(app) as session:
        session.add_all(
            IncidentSubscription(
                email=f"person{i}@example.org",
                language="fr" if i % 2 else "en",
                all_services=True,
                confirmed_at=utcnow(),
                services=[],
            )
            for i in range(n)
        )
    with app.app_context(), session_scope(app) as session:
        incident = operations.open_incident(
            session,
            title="Mail is down",
            services=["mail"],
            impact="major",
            known_services=["mail"],
            actor=operations.CLI,
            body="We are looking.",
        )
        incident_id = incident.id

    with app.app_context():
        started = time.perf_counter()
        with session_scope(app) as session:
            queued = mail_subscribers(session)
        mail_seconds = time.perf_counter() - started
        with session_scope(app) as session:
            session.execute(delete(OutgoingMail))
            session.execute(
                delete(IncidentMailing).where(IncidentMailing.incident_id == incident_id)
            )
        started = time.perf_counter()
        with session_scope(app) as session:
            session.add_all(
                OutgoingMail(
                    recipient=f"person{i}@example.org",
                    subject="x",
                    body="x",
                    purpose="bench",
                    attempts=0,
                    created_at=utcnow(),
                )
                for i in range(n)
            )
        baseline_seconds = time.perf_counter() - started
    print(
        f"incident mail to {queued} subscribers: {mail_seconds:.2f} s "
        f"({mail_seconds / max(queued, 1) * 1000:.2f} ms each); bare outbox rows: "
        f"{baseline_seconds:.2f} s; ratio {mail_seconds / baseline_seconds:.1f}x"
    )

    reply = EmailMessage()
    reply["From"] = "someone@example.org"
    reply["To"] = "support+1.aaaaaaaaaaaaaaaa@demo.chatons.org"
    reply["Subject"] = "Re: test"
    reply.set_content("It works.\n\nOn Mon wrote:\n" + "> quoted line\n" * 200)
    reply.add_attachment(
        b"%PDF-1.7\n" + bytes(200_000), maintype="application", subtype="pdf", filename="a.pdf"
    )
    raw = reply.as_bytes()
    from app.support.mail_in import parse

    parse_times = []
    for _ in range(20):
        started = time.perf_counter()
        message = parse(raw)
        list(message.iter_attachments())
        parse_times.append(time.perf_counter() - started)
    print(
        f"parsing a {len(raw) // 1024} KiB reply: median "
        f"{statistics.median(parse_times) * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
