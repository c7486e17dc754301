"""The "tickets" panel section: what the export gets (never internal notes), CLI auto-close."""

from __future__ import annotations

import json
import re
from datetime import timedelta

from support.ticket_helpers import PDF, PNG

from app.accounts.models import Account
from app.db import session_scope, utcnow
from app.features import panel_sections
from app.support.models import Ticket


def export(app, uid_account):
    section = next(s for s in panel_sections(app) if s.name == "tickets")
    # No request: the export may run from a worker or the CLI.
    with app.app_context(), session_scope(app) as session:
        entries = list(section.export(session, session.get(Account, uid_account.id)))
        items = section.inventory(session, session.get(Account, uid_account.id))
    # Attachment chunks are read while the archive streams, after the queries.
    return {e.path: b"".join(e.chunks) for e in entries}, items


def test_export_has_json_a_page_per_ticket_and_the_files_without_internal_notes(
    app, make_ticket, staff_reply, accounts
):
    ticket = make_ticket(subject="Lost files", body="Where are my files?", files=[("s.png", PNG)])
    staff_reply(ticket, "HIDDEN-NOTE: restore from tape", internal=True, files=[("n.pdf", PDF)])
    staff_reply(ticket, "We restored them.")
    make_ticket("bob", subject="Not alice's")
    files, items = export(app, accounts("alice"))

    assert set(files) == {
        "panel/tickets/tickets.json",
        f"panel/tickets/{ticket}/ticket.html",
        f"panel/tickets/{ticket}/attachments/1-s.png",
    }
    document = json.loads(files["panel/tickets/tickets.json"])
    [exported] = document["tickets"]
    assert exported["subject"] == "Lost files"
    assert [m["body"] for m in exported["messages"]] == ["Where are my files?", "We restored them."]
    assert [m["from"] for m in exported["messages"]] == ["you", "staff"]
    assert exported["messages"][0]["attachments"][0]["path"].endswith("1-s.png")
    assert files[f"panel/tickets/{ticket}/attachments/1-s.png"] == PNG
    html = files[f"panel/tickets/{ticket}/ticket.html"].decode()
    assert "We restored them." in html and 'href="attachments/1-s.png"' in html
    everything = b"".join(files.values())
    assert b"HIDDEN-NOTE" not in everything and b"n.pdf" not in everything
    assert items and items[0].exported
    assert "Ouvert le" in html  # alice's language, even without a request


def test_an_account_without_tickets_exports_an_empty_list(app, accounts):
    files, _items = export(app, accounts("zoe"))
    assert json.loads(files["panel/tickets/tickets.json"]) == {"tickets": []}


def test_auto_close_command_closes_stale_tickets_and_mails_the_requester(
    make_support_app, smtp, make_ticket, staff_reply
):
    app = make_support_app(SMTP_URL=smtp.url, SUPPORT_AUTO_CLOSE_DAYS=10)
    # make_ticket/staff_reply use the `app` fixture: point them at the same database.
    ticket = make_ticket()
    staff_reply(ticket)
    with session_scope(app) as session:
        session.get(Ticket, ticket).state_changed_at = utcnow() - timedelta(days=11)
    result = app.test_cli_runner().invoke(args=["support", "auto-close"])
    assert result.exit_code == 0, result.output
    assert "1 ticket(s) closed" in result.output
    with session_scope(app) as session:
        assert session.get(Ticket, ticket).state == "closed"
    # The queued reply mail goes out too; the auto-close one says why the ticket closed.
    [mail] = [m for m in smtp.messages if "a été fermé" in m["Subject"]]
    assert mail["To"] == "alice@demo.chatons.org"
    assert "10 jours" in mail.get_content()
    again = app.test_cli_runner().invoke(args=["support", "auto-close", "--days", "1"])
    assert "0 ticket(s) closed" in again.output


def test_sweep_removes_only_old_files_no_ticket_refers_to(app, make_ticket, attachment_dir):
    import os
    import time

    make_ticket(files=[("kept.png", PNG)])
    [kept] = [p for p in attachment_dir.rglob("*") if p.is_file()]
    orphan = attachment_dir / "ab" / ("ab" + "0" * 30)
    orphan.parent.mkdir(exist_ok=True)
    orphan.write_bytes(PNG)
    fresh = attachment_dir / "cd" / ("cd" + "0" * 30)
    fresh.parent.mkdir(exist_ok=True)
    fresh.write_bytes(PNG)
    old = time.time() - 7200
    for path in (kept, orphan):
        os.utime(path, (old, old))
    result = app.test_cli_runner().invoke(args=["support", "sweep-files"])
    assert "1 file(s) removed" in result.output
    assert kept.exists() and fresh.exists() and not orphan.exists()


def test_the_ticket_page_shows_local_dates_and_words_not_codes(app, make_ticket, accounts):
    ticket = make_ticket(subject="Lost files", body="Where are my files?")
    files, _items = export(app, accounts("alice"))
    html = files[f"panel/tickets/{ticket}/ticket.html"].decode()
    shown = re.sub(r"<[^>]+>", " ", html)
    # No ISO timestamps for people: "7 décembre 2026 à 13:05", and the zone named.
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", shown), shown
    assert re.search(r"\d{1,2} \w+ \d{4} à \d\d:\d\d", shown)
    assert "fuseau horaire de l'hébergeur (Europe/Paris)" in shown
    with session_scope(app) as session:
        category = session.get(Ticket, ticket).category
    assert f">{category}<" not in html  # the kind of request in words
    assert "Type de demande" in shown
