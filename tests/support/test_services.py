"""Support services without HTTP: states, errors, search, auto-close, deletion."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from support.ticket_helpers import PNG, upload

from app.accounts.models import Account
from app.db import session_scope, utcnow
from app.support import attachment_store, operations, queries
from app.support.models import Attachment, Ticket, TicketMessage
from app.support.settings import SupportError, SupportSettings


def ticket_state(app, ticket_id):
    with session_scope(app) as session:
        return session.get(Ticket, ticket_id).state


def test_a_new_ticket_waits_for_staff_and_keeps_waiting_when_the_requester_adds_more(
    app, make_ticket, accounts
):
    ticket_id = make_ticket()
    assert ticket_state(app, ticket_id) == "new"
    alice = accounts("alice")
    with app.test_request_context(), session_scope(app) as session:
        ticket = queries.get_ticket(session, ticket_id)
        operations.reply_as_requester(
            session,
            attachment_store(),
            SupportSettings.from_config(app.config),
            ticket=ticket,
            account=session.get(Account, alice.id),
            body="Also on my phone.",
            uploads=[],
        )
    assert ticket_state(app, ticket_id) == "new"


def test_staff_reply_waits_for_user_and_user_reply_waits_for_staff(
    app, make_ticket, staff_reply, accounts
):
    ticket_id = make_ticket()
    staff_reply(ticket_id)
    assert ticket_state(app, ticket_id) == "waiting_user"
    alice = accounts("alice")
    with app.test_request_context(), session_scope(app) as session:
        operations.reply_as_requester(
            session,
            attachment_store(),
            SupportSettings.from_config(app.config),
            ticket=queries.get_ticket(session, ticket_id),
            account=session.get(Account, alice.id),
            body="It did not help.",
            uploads=[],
        )
    assert ticket_state(app, ticket_id) == "waiting_staff"


def test_internal_note_changes_nothing_the_requester_sees(app, make_ticket, staff_reply):
    ticket_id = make_ticket()
    with session_scope(app) as session:
        before = session.get(Ticket, ticket_id).last_message_at
    staff_reply(ticket_id, "Looks like LDAP again.", internal=True)
    with session_scope(app) as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket.state == "new"
        assert ticket.last_message_at == before
        visible = queries.thread(session, ticket_id, include_internal=False)
        assert [m.body for m in visible] == ["The cloud app says my password is wrong."]
        assert len(queries.thread(session, ticket_id, include_internal=True)) == 2


def test_close_and_reopen_record_times_and_audit(app, make_ticket, accounts):
    ticket_id = make_ticket()
    alice = accounts("alice")
    with session_scope(app) as session:
        ticket = session.get(Ticket, ticket_id)
        account = session.get(Account, alice.id)
        assert operations.close_ticket(session, ticket, account)
        assert ticket.closed_at is not None
        assert not operations.close_ticket(session, ticket, account)
    with session_scope(app) as session:
        ticket = session.get(Ticket, ticket_id)
        assert operations.reopen_ticket(session, ticket, session.get(Account, alice.id))
        assert ticket.state == "waiting_staff" and ticket.closed_at is None
    from app.audit import AuditEvent

    with session_scope(app) as session:
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.account_id == alice.id)
        ).all()
    assert actions == ["support.ticket_opened", "support.ticket_closed", "support.ticket_reopened"]


def test_the_database_refuses_a_closed_ticket_without_closing_time(app, make_ticket):
    from sqlalchemy.exc import IntegrityError

    ticket_id = make_ticket()
    with pytest.raises(IntegrityError), session_scope(app) as session:
        session.get(Ticket, ticket_id).state = "closed"


def test_the_database_refuses_an_internal_note_from_a_requester(app, make_ticket, accounts):
    from sqlalchemy.exc import IntegrityError

    ticket_id = make_ticket()
    with pytest.raises(IntegrityError), session_scope(app) as session:
        session.add(
            TicketMessage(
                ticket_id=ticket_id,
                author_id=accounts("alice").id,
                from_staff=False,
                is_internal=True,
                body="sneaky",
            )
        )


@pytest.mark.parametrize(
    ("field", "values", "message"),
    [
        ("subject", {"subject": "   "}, "short title"),
        ("body", {"body": " \n "}, "Write your message"),
        ("body", {"body": "é" * 60_000}, "at most 100 KB"),
        ("body", {"body": "bad \ufffd bytes"}, "not valid UTF-8"),
        ("body", {"body": "nul \x00 char"}, "control characters"),
        ("service", {"service": "bank"}, "Choose a service"),
        ("category", {"category": "complaint"}, "kind of request"),
    ],
)
def test_bad_input_is_refused_with_a_message_on_its_field_and_nothing_stored(
    app, accounts, attachment_dir, field, values, message
):
    alice = accounts("alice")
    arguments = {
        "subject": "Help",
        "service": "cloud",
        "category": "question",
        "body": "Hello",
        **values,
    }
    english = app.test_request_context(headers={"Accept-Language": "en"})
    with english, session_scope(app) as session:
        with pytest.raises(SupportError) as caught:
            operations.open_ticket(
                session,
                attachment_store(),
                SupportSettings.from_config(app.config),
                account=session.get(Account, alice.id),
                uploads=[upload("a.png", PNG)],
                known_services=["cloud"],
                **arguments,
            )
        assert list(caught.value.errors) == [field]
        assert message in str(caught.value.errors[field][0])
        assert session.scalar(select(func.count()).select_from(Ticket)) == 0
    assert not attachment_dir.exists() or not any(attachment_dir.rglob("*"))


def test_every_problem_is_reported_at_once(app, accounts):
    alice = accounts("alice")
    with (
        app.test_request_context(),
        session_scope(app) as session,
        pytest.raises(SupportError) as caught,
    ):
        operations.open_ticket(
            session,
            attachment_store(),
            SupportSettings.from_config(app.config),
            account=session.get(Account, alice.id),
            subject="",
            service="cloud",
            category="question",
            body="",
            uploads=[upload("x.exe", b"MZ\x90\x00" + bytes(100))],
            known_services=["cloud"],
        )
    assert set(caught.value.errors) == {"subject", "body", "attachments"}


def test_auto_close_closes_only_tickets_waiting_for_the_user_long_enough(
    app, make_ticket, staff_reply
):
    old = make_ticket(subject="old")
    recent = make_ticket(subject="recent")
    waiting_staff = make_ticket(subject="staff's turn")
    staff_reply(old)
    staff_reply(recent)
    with session_scope(app) as session:
        for ticket_id in (old, waiting_staff):
            session.get(Ticket, ticket_id).state_changed_at = utcnow() - timedelta(days=30)
    settings = SupportSettings.from_config(app.config)
    with app.test_request_context(), session_scope(app) as session:
        assert operations.auto_close(session, settings) == 1
    assert ticket_state(app, old) == "closed"
    assert ticket_state(app, recent) == "waiting_user"
    assert ticket_state(app, waiting_staff) == "new"
    with app.test_request_context(), session_scope(app) as session:
        assert operations.auto_close(session, settings, days=0) == 0


def search(app, query, **filters):
    with session_scope(app) as session:
        found = queries.staff_queue(
            session, queries.QueueFilter(state="all", query=query, **filters)
        )
        return sorted(t.subject for t in found.tickets), found.total


def test_search_finds_words_in_subjects_and_in_any_message(app, make_ticket, staff_reply):
    a = make_ticket(subject="Quota exceeded", body="My mailbox is full")
    make_ticket(subject="Calendar sync", body="Thunderbird does not show events")
    staff_reply(a, "Please empty the trash folder")
    assert search(app, "quota") == (["Quota exceeded"], 1)
    assert search(app, "thunderbird") == (["Calendar sync"], 1)
    assert search(app, "TRASH") == (["Quota exceeded"], 1)
    assert search(app, "mailbox full") == (["Quota exceeded"], 1)
    assert search(app, "mailbox thunderbird") == ([], 0)
    assert search(app, "nothinglikethis") == ([], 0)


def test_search_combines_with_filters_and_treats_wildcards_as_text(app, make_ticket):
    make_ticket(subject="Pad lost 100% of text", body="pad gone", service="pad")
    make_ticket(subject="Mail lost", body="mail gone", service="mail")
    assert search(app, "lost", service="pad") == (["Pad lost 100% of text"], 1)
    assert search(app, "gone") == (["Mail lost", "Pad lost 100% of text"], 2)
    assert search(app, "%")[1] in (0, 1)  # never "everything"
    assert search(app, "_")[1] == 0


def test_queue_filters_by_state_assignee_and_sorts_longest_waiting_first(
    app, make_ticket, accounts
):
    first = make_ticket(subject="first")
    second = make_ticket(subject="second")
    third = make_ticket(subject="third")
    camille = accounts("camille")
    with session_scope(app) as session:
        now = utcnow()
        session.get(Ticket, first).state_changed_at = now - timedelta(hours=1)
        session.get(Ticket, second).state_changed_at = now - timedelta(hours=5)
        session.get(Ticket, third).assignee_id = camille.id
    with session_scope(app) as session:

        def subjects(**filters):
            found = queries.staff_queue(session, queries.QueueFilter(**filters))
            return [t.subject for t in found.tickets]

        assert subjects() == ["second", "first", "third"]
        assert subjects(assignee="none") == ["second", "first"]
        assert subjects(assignee=str(camille.id)) == ["third"]
        assert subjects(state="closed") == []


def test_deleting_an_account_s_tickets_removes_rows_and_files(
    app, make_ticket, staff_reply, accounts, attachment_dir
):
    mine = make_ticket(files=[("a.png", PNG)])
    staff_reply(mine, files=[("b.png", PNG)])
    other = make_ticket("bob", files=[("c.png", PNG)])
    assert len(list(attachment_dir.rglob("*.*"))) == 0  # random names have no extension
    assert len([p for p in attachment_dir.rglob("*") if p.is_file()]) == 3
    from app.features import panel_sections

    section = next(s for s in panel_sections(app) if s.name == "tickets")
    with session_scope(app) as session:
        section.delete(session, session.get(Account, accounts("alice").id))
    with session_scope(app) as session:
        assert session.scalars(select(Ticket.id)).all() == [other]
        assert session.scalar(select(func.count()).select_from(Attachment)) == 1
        assert session.scalar(select(func.count()).select_from(TicketMessage)) == 1
    assert len([p for p in attachment_dir.rglob("*") if p.is_file()]) == 1
