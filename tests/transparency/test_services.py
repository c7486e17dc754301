"""Register and canary rules, checked without HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.audit import AuditEvent
from app.transparency import services
from app.transparency.models import AuthorityRequest


def details(today: date, **overrides: Any) -> services.RequestDetails:
    values: dict[str, Any] = {
        "received_on": today - timedelta(days=3),
        "authority_kind": "police",
        "legal_basis": "Article 77-1-1 of the code of criminal procedure",
        "request_kind": "identification",
        "summary": "Who signed up with one address.",
        "response": "pending",
        "response_summary": None,
        "answered_on": None,
        "accounts_concerned": 1,
    }
    values.update(overrides)
    return services.RequestDetails(**values)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"received_on": "tomorrow"}, "received_on"),
        ({"response": "complied"}, "answered_on"),
        ({"answered_on": "yesterday"}, "answered_on"),
        ({"response": "refused", "answered_on": "long ago"}, "answered_on"),
        ({"response": "refused", "answered_on": "tomorrow"}, "answered_on"),
        ({"accounts_concerned": -1}, "accounts_concerned"),
        ({"authority_kind": "mafia"}, "authority_kind"),
    ],
)
def test_inconsistent_entries_are_refused(
    db_session: Session, today: date, overrides: dict[str, Any], field: str
) -> None:
    named = {
        "tomorrow": today + timedelta(days=1),
        "yesterday": today - timedelta(days=1),
        "long ago": today - timedelta(days=400),
    }
    values = {k: named.get(v, v) if isinstance(v, str) else v for k, v in overrides.items()}
    with pytest.raises(services.TransparencyError) as caught:
        services.record_authority_request(
            db_session, details(today, **values), actor_id=None, today=today
        )
    assert caught.value.field == field
    assert db_session.scalars(select(AuthorityRequest)).first() is None


def test_the_database_refuses_an_answer_without_date(db_session: Session, today: date) -> None:
    db_session.add(
        AuthorityRequest(
            received_on=today,
            authority_kind="police",
            legal_basis="x",
            request_kind="other",
            summary="x",
            response="complied",
            accounts_concerned=0,
        )
    )
    with pytest.raises(IntegrityError):
        db_session.flush()


def test_recording_and_updating_are_audited_without_the_texts(
    db_session: Session, today: date
) -> None:
    item = services.record_authority_request(db_session, details(today), actor_id=None, today=today)
    services.update_authority_request(
        db_session,
        item.id,
        details(
            today,
            response="refused",
            answered_on=today,
            response_summary="No legal basis for this kind of data.",
        ),
        actor_id=None,
        today=today,
    )
    db_session.commit()
    events = db_session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [e.action for e in events] == [
        "transparency.request_recorded",
        "transparency.request_updated",
    ]
    changed = json.loads(events[1].details)
    assert changed["changed"] == ["answered_on", "response", "response_summary"]
    assert "No legal basis" not in events[1].details
    assert "Who signed up" not in events[0].details


def test_an_update_without_change_writes_nothing(db_session: Session, today: date) -> None:
    item = services.record_authority_request(db_session, details(today), actor_id=None, today=today)
    services.update_authority_request(
        db_session, item.id, details(today), actor_id=None, today=today
    )
    assert len(db_session.scalars(select(AuditEvent)).all()) == 1


def test_yearly_counts_group_by_year_received(
    make_request: Callable[..., Any], db_session: Session, today: date
) -> None:
    make_request(received_on=date(2023, 3, 1), answered_on=date(2023, 3, 2), accounts_concerned=3)
    make_request(
        received_on=date(2023, 11, 1),
        answered_on=date(2023, 11, 20),
        response="refused",
        accounts_concerned=2,
    )
    make_request(received_on=date(2024, 1, 5), response="pending", answered_on=None)
    years = services.yearly_counts(db_session)
    assert [(y.year, y.requests, y.accounts, y.complied, y.refused, y.pending) for y in years] == [
        (2024, 1, 1, 0, 0, 1),
        (2023, 2, 5, 1, 1, 0),
    ]


def test_canary_is_stale_only_after_its_promised_date(
    make_canary: Callable[..., Any], today: date
) -> None:
    canary = make_canary(next_update_by=today)
    assert not services.canary_is_stale(canary, today)
    assert services.canary_is_stale(canary, today + timedelta(days=1))


def test_newest_canary_statement_is_current(
    make_canary: Callable[..., Any], db_session: Session, today: date
) -> None:
    make_canary(
        statement_date=today - timedelta(days=100), next_update_by=today - timedelta(days=10)
    )
    newer = make_canary(statement_date=today, next_update_by=today + timedelta(days=90))
    current = services.current_canary(db_session)
    assert current is not None and current.id == newer.id


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"statement_date": 1}, "statement_date"),
        ({"next_update_by": 0}, "next_update_by"),
        ({"signed_text": "We promise.\n-----BEGIN PGP SIGNATURE-----\n"}, "signed_text"),
        ({"statement": "   "}, "statement"),
    ],
)
def test_inconsistent_canaries_are_refused(
    db_session: Session, today: date, overrides: dict[str, Any], field: str
) -> None:
    values: dict[str, Any] = {
        "statement_date": today,
        "next_update_by": today + timedelta(days=90),
        "statement": "No secret order.",
        "signed_text": None,
        "signing_key": None,
    }
    for key, value in overrides.items():
        values[key] = today + timedelta(days=value) if isinstance(value, int) else value
    with pytest.raises(services.TransparencyError) as caught:
        services.publish_canary(db_session, actor_id=None, today=today, **values)
    assert caught.value.field == field


def test_signed_text_is_kept_verbatim_with_unix_line_ends(
    db_session: Session, today: date, signed_text: str
) -> None:
    canary = services.publish_canary(
        db_session,
        statement_date=today,
        next_update_by=today + timedelta(days=90),
        statement="No secret order.",
        signed_text=signed_text.replace("\n", "\r\n"),
        signing_key=" 0123 4567 ",
        actor_id=None,
        today=today,
    )
    assert canary.signed_text == signed_text
    assert canary.signing_key == "0123 4567"


def test_canary_renewal_is_due_a_week_before(
    make_canary: Callable[..., Any], db_session: Session, today: date
) -> None:
    assert services.canary_needs_renewal(db_session, today) == 0
    make_canary(next_update_by=today + timedelta(days=8))
    assert services.canary_needs_renewal(db_session, today) == 0
    assert services.canary_needs_renewal(db_session, today + timedelta(days=1)) == 1


def test_staff_data_section_exports_and_unlinks_what_they_recorded(
    app: Any, db_session: Session, today: date
) -> None:
    import json as jsonlib

    from app.accounts.models import Account
    from app.features import panel_sections

    staff = Account(uid="camille", dn="uid=camille", display_name="Camille", is_staff=True)
    db_session.add(staff)
    db_session.flush()
    item = services.record_authority_request(
        db_session, details(today), actor_id=staff.id, today=today
    )
    services.publish_canary(
        db_session,
        statement_date=today,
        next_update_by=today + timedelta(days=90),
        statement="No secret order.",
        signed_text=None,
        signing_key=None,
        actor_id=staff.id,
        today=today,
    )
    db_session.commit()
    section = next(s for s in panel_sections(app) if s.name == "transparency")
    with app.test_request_context():
        assert len(section.inventory(db_session, staff)) == 1
        entries = list(section.export(db_session, staff))
    exported = jsonlib.loads(b"".join(entries[0].chunks))
    assert exported["authority_requests_recorded"][0]["number"] == item.id
    assert len(exported["canary_statements_published"]) == 1
    section.delete(db_session, staff)
    db_session.commit()
    db_session.expire_all()
    kept = db_session.get(AuthorityRequest, item.id)
    assert kept is not None and kept.created_by_id is None
    with app.test_request_context():
        assert section.inventory(db_session, staff) == []
