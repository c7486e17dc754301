"""The deletion pipeline without HTTP: states, constraints, order, retries, crash and resume."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from deletion.deletion_support import (
    approve,
    connector,
    give_files,
    load,
    open_request,
    run,
    steps_by_name,
)
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app.audit import AuditEvent
from app.db import session_scope, utcnow
from app.deletion import pipeline, requests
from app.deletion.models import DeletionRequest, DeletionStep
from app.mail import OutgoingMail


def test_checklist_has_one_step_per_service_then_directory_then_panel(make_deletion_app):
    app = make_deletion_app(connectors=("cloud",))
    request_id = open_request(app, "alice")
    steps = load(app, request_id).steps
    assert [(s.kind, s.service_slug, s.mode) for s in steps] == [
        ("service", "mail", "manual"),
        ("service", "cloud", "automatic"),
        ("service", "pad", "manual"),
        ("directory", None, "automatic"),
        ("panel", None, "automatic"),
    ]
    mail_step = steps[0]
    assert "doveadm" in (mail_step.instructions or "")


def test_only_one_active_request_per_account_is_a_database_rule(make_deletion_app):
    app = make_deletion_app()
    request_id = open_request(app, "alice")
    first = load(app, request_id)
    with pytest.raises(IntegrityError), session_scope(app) as session:
        session.add(
            DeletionRequest(
                account_id=first.account_id,
                state="approved",
                requested_at=utcnow(),
                grace_until=utcnow(),
            )
        )
    # A closed one next to the active one is fine.
    with session_scope(app) as session:
        session.add(
            DeletionRequest(
                account_id=first.account_id,
                state="cancelled",
                requested_at=utcnow(),
                grace_until=utcnow(),
            )
        )


def test_second_request_while_one_is_active_is_refused(make_deletion_app):
    app = make_deletion_app()
    open_request(app, "alice")
    with pytest.raises(requests.AlreadyActive):
        open_request(app, "alice")


def test_unknown_states_are_rejected_by_the_database(make_deletion_app):
    app = make_deletion_app()
    request_id = open_request(app, "alice")
    with pytest.raises(IntegrityError), session_scope(app) as session:
        session.execute(
            update(DeletionRequest)
            .where(DeletionRequest.id == request_id)
            .values(state="half-deleted")
        )
    with pytest.raises(IntegrityError), session_scope(app) as session:
        session.execute(
            update(DeletionStep).where(DeletionStep.request_id == request_id).values(state="maybe")
        )


def test_cannot_approve_during_the_grace_period(make_deletion_app):
    app = make_deletion_app(DELETION_GRACE_DAYS=7)
    request_id = open_request(app, "alice")
    with pytest.raises(requests.NotDue):
        approve(app, request_id)
    assert load(app, request_id).state == "requested"


def test_cannot_cancel_once_processing_started_nor_approve_a_cancelled_request(
    make_deletion_app,
):
    app = make_deletion_app()
    started = open_request(app, "alice")
    approve(app, started)
    with pytest.raises(requests.NotCancellable), session_scope(app) as session:
        requests.cancel_deletion(session, session.get(DeletionRequest, started), actor_id=None)
    cancelled = open_request(app, "zoe")
    with app.app_context(), session_scope(app) as session:
        requests.cancel_deletion(session, session.get(DeletionRequest, cancelled), actor_id=None)
    with pytest.raises(requests.WrongState):
        approve(app, cancelled)
    assert load(app, cancelled).state == "cancelled"


def test_automatic_steps_run_in_order_and_manual_steps_wait_for_staff(make_deletion_app):
    app = make_deletion_app(connectors=("cloud",))
    folder = give_files(app, "alice")
    request_id = open_request(app, "alice")
    approve(app, request_id)
    report = run(app, request_id)
    assert not folder.exists()
    assert report.waiting_manual == 2 and report.done == 1 and not report.completed
    steps = steps_by_name(app, request_id)
    assert steps["cloud"].state == "done"
    # The directory waits for every service, manual ones included.
    assert steps["directory"].state == "pending"
    assert steps["panel"].state == "pending"
    for slug in ("mail", "pad"):
        with app.app_context(), session_scope(app) as session:
            step = session.get(DeletionStep, steps[slug].id)
            requests.mark_manual_step_done(session, step, actor_id=None, comment="doveadm ran")
    report = run(app, request_id)
    assert report.completed
    req = load(app, request_id)
    assert req.state == "completed"
    assert all(s.state == "done" for s in req.steps)
    assert app.extensions["panel_directory"].lookup("alice") is None


def _all_automatic_app(make_deletion_app, **config):
    return make_deletion_app(connectors=("mail", "cloud", "pad"), **config)


def test_two_runs_at_once_execute_each_step_exactly_once(make_deletion_app):
    app = _all_automatic_app(make_deletion_app, MAIL_FROM="panel@example.org")
    request_id = open_request(app, "zoe")
    approve(app, request_id)
    for slug in ("mail", "cloud", "pad"):
        connector(app, slug).pause = 0.2
    directory = app.extensions["panel_directory"]
    real_delete = directory.delete
    directory_calls = []

    def counting_delete(person):
        directory_calls.append(person.uid)
        return real_delete(person)

    directory.delete = counting_delete
    start = threading.Barrier(3)
    reports = []

    def worker():
        start.wait()
        reports.append(run(app, request_id))

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(reports) == 3
    for slug in ("mail", "cloud", "pad"):
        assert connector(app, slug).calls == ["zoe"], slug
    assert directory_calls == ["zoe"]
    assert sum(r.completed for r in reports) == 1
    assert load(app, request_id).state == "completed"
    with session_scope(app) as session:
        receipts = session.scalars(
            select(OutgoingMail).where(OutgoingMail.purpose == "deletion.receipt")
        ).all()
    assert len(receipts) == 1


def test_a_crash_during_a_step_is_resumed_later_without_redoing_finished_steps(
    make_deletion_app,
):
    app = _all_automatic_app(make_deletion_app)
    folder = give_files(app, "bob")
    request_id = open_request(app, "bob")
    approve(app, request_id)
    directory = app.extensions["panel_directory"]
    real_delete = directory.delete

    def power_cut(person):
        raise SystemExit("killed")  # not an Exception: nothing records an outcome

    directory.delete = power_cut
    with pytest.raises(SystemExit):
        run(app, request_id)
    steps = steps_by_name(app, request_id)
    assert [steps[s].state for s in ("mail", "cloud", "pad")] == ["done"] * 3
    assert not folder.exists()
    assert steps["directory"].state == "running"
    directory.delete = real_delete
    # While the claim is fresh, another run must not touch it (it might still be working).
    assert run(app, request_id).busy == 1
    assert steps_by_name(app, request_id)["directory"].state == "running"
    # Once older than the connector timeout, the crashed claim is taken over.
    with session_scope(app) as session:
        session.execute(
            update(DeletionStep)
            .where(DeletionStep.id == steps["directory"].id)
            .values(claimed_at=utcnow() - timedelta(hours=2))
        )
    assert run(app, request_id).completed
    for slug in ("mail", "cloud", "pad"):
        assert connector(app, slug).calls == ["bob"]
    final = steps_by_name(app, request_id)
    assert final["directory"].attempts == 2
    assert directory.lookup("bob") is None


def test_a_connector_that_hangs_fails_its_step_and_a_retry_completes(make_deletion_app):
    app = _all_automatic_app(make_deletion_app, DELETION_CONNECTOR_TIMEOUT=0.3)
    request_id = open_request(app, "alice")
    approve(app, request_id)
    hung = threading.Event()
    connector(app, "cloud").block = hung
    try:
        report = run(app, request_id)
    finally:
        hung.set()
    assert report.failed == 1 and not report.completed
    steps = steps_by_name(app, request_id)
    assert steps["cloud"].state == "failed"
    assert "did not answer in time" in (steps["cloud"].detail or "")
    assert steps["directory"].state == "pending"  # nothing after a failed service
    assert app.extensions["panel_directory"].lookup("alice") is not None
    connector(app, "cloud").block = None
    with app.app_context(), session_scope(app) as session:
        requests.retry_step(session, session.get(DeletionStep, steps["cloud"].id), actor_id=None)
    assert run(app, request_id).completed


def test_a_connector_error_is_shown_and_the_step_can_be_retried(make_deletion_app):
    app = _all_automatic_app(make_deletion_app)
    request_id = open_request(app, "alice")
    approve(app, request_id)
    connector(app, "pad").fail_with = "pad server answered 500"
    run(app, request_id)
    steps = steps_by_name(app, request_id)
    assert steps["pad"].state == "failed"
    assert steps["pad"].detail == "pad server answered 500"
    connector(app, "pad").fail_with = None
    with app.app_context(), session_scope(app) as session:
        requests.retry_step(session, session.get(DeletionStep, steps["pad"].id), actor_id=None)
    assert run(app, request_id).completed


def test_refusal_is_possible_until_something_ran(make_deletion_app):
    app = make_deletion_app()
    request_id = open_request(app, "alice")
    with app.app_context(), session_scope(app) as session:
        req = session.get(DeletionRequest, request_id)
        requests.refuse_deletion(session, req, actor_id=None, reason="Invoices under audit")
    assert load(app, request_id).refusal_reason == "Invoices under audit"
    other = open_request(app, "alice")  # refused is closed: a new request is allowed
    approve(app, other)
    run(app, other)  # the cloud step ran
    with pytest.raises(requests.WrongState), app.app_context(), session_scope(app) as session:
        requests.refuse_deletion(
            session, session.get(DeletionRequest, other), actor_id=None, reason="too late"
        )


def test_run_due_follows_the_approval_policy(make_deletion_app):
    app = _all_automatic_app(make_deletion_app, DELETION_APPROVAL="automatic")
    due_id = open_request(app, "alice")
    with app.app_context(), session_scope(app) as session:
        report = pipeline.run_due(session, app)
    assert report.approved == [due_id] and report.completed == [due_id]
    staff_app = make_deletion_app(connectors=("cloud",), DELETION_APPROVAL="automatic")
    manual_id = open_request(staff_app, "zoe")  # mail and pad are manual here
    with staff_app.app_context(), session_scope(staff_app) as session:
        report = pipeline.run_due(session, staff_app)
    assert report.waiting_staff == [manual_id]
    assert load(staff_app, manual_id).state == "requested"


def test_run_due_leaves_requests_in_their_grace_period_alone(make_deletion_app):
    app = _all_automatic_app(
        make_deletion_app, DELETION_APPROVAL="automatic", DELETION_GRACE_DAYS=3
    )
    request_id = open_request(app, "alice")
    with app.app_context(), session_scope(app) as session:
        report = pipeline.run_due(session, app)
    assert report.approved == [] and load(app, request_id).state == "requested"
    with app.app_context(), session_scope(app) as session:
        report = pipeline.run_due(session, app, now=utcnow() + timedelta(days=3, minutes=1))
    assert report.completed == [request_id]


def test_the_tombstone_keeps_no_personal_data(make_deletion_app):
    app = _all_automatic_app(make_deletion_app, SMTP_URL=None)
    give_files(app, "zoe")
    request_id = open_request(app, "zoe")
    approve(app, request_id)
    assert run(app, request_id).completed
    personal = ["zoe", "Zoé Lefèvre-Nguyễn", "zoe@demo.chatons.org", "uid=zoe"]
    with session_scope(app) as session:
        # The receipt is out once sent; what stays in the database is the tombstone.
        session.execute(OutgoingMail.__table__.delete())
        rows = [
            *(r._asdict() for r in session.execute(select(DeletionRequest.__table__))),
            *(r._asdict() for r in session.execute(select(DeletionStep.__table__))),
            *(r._asdict() for r in session.execute(select(AuditEvent.__table__))),
        ]
    dump = json.dumps(rows, default=str, ensure_ascii=False).casefold()
    for value in personal:
        assert value.casefold() not in dump, value
    tombstone = load(app, request_id)
    assert tombstone.state == "completed" and tombstone.completed_at is not None
    assert [s.state for s in tombstone.steps] == ["done"] * 5
    assert tombstone.account_id is None
