"""Transparency pages: who sees what, and staff keeping the register and the canary."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import Account
from app.audit import AuditEvent
from app.transparency.models import AuthorityRequest, CanaryStatement

EN = {"Accept-Language": "en"}


def text_of(response: Any) -> str:
    body = response.get_data(as_text=True)
    main = body[body.index("<main") : body.index("</main>")]
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", main)))


def test_visitors_see_the_register_and_yearly_counts(
    client: Any, make_request: Callable[..., Any], make_canary: Callable[..., Any], today: date
) -> None:
    make_request(accounts_concerned=2)
    make_canary(statement="We have received no secret order so far.")
    response = client.get("/transparency", headers=EN)
    assert response.status_code == 200
    text = text_of(response)
    assert "Court or judge" in text
    assert "Article 60-1 of the code of criminal procedure" in text
    assert "Identify an account holder (subscriber data)" in text
    assert "We gave the name and sign-up date we hold." in text
    assert f"{today.year} 1 2 1 0 0" in text  # year, requests, accounts, complied, refused, pending
    assert "We have received no secret order so far." in text
    assert "Current" in text and "Stale" not in text


def test_an_empty_register_says_so(client: Any) -> None:
    text = text_of(client.get("/transparency", headers=EN))
    assert "No request from an authority has been received." in text
    assert "No warrant canary statement has been published." in text


def test_a_canary_past_its_date_is_marked_stale(
    client: Any, make_canary: Callable[..., Any], today: date
) -> None:
    make_canary(
        statement_date=today - timedelta(days=100), next_update_by=today - timedelta(days=1)
    )
    text = text_of(client.get("/transparency", headers=EN))
    assert "Stale: this statement should have been renewed by" in text


def test_signed_canary_is_shown_verbatim_and_downloadable(
    client: Any, make_canary: Callable[..., Any], signed_text: str
) -> None:
    make_canary(signed_text=signed_text, signing_key="ABCD 1234 EF56")
    body = client.get("/transparency", headers=EN).get_data(as_text=True)
    assert signed_text.strip() in html.unescape(body)
    assert "gpg --verify canary.txt" in body and "ABCD 1234 EF56" in body
    raw = client.get("/transparency/canary.txt")
    assert raw.status_code == 200
    assert raw.get_data(as_text=True) == signed_text
    assert raw.headers["Content-Type"] == "text/plain; charset=utf-8"


def test_register_can_be_limited_to_hosted_users(
    make_app: Callable[..., Flask], make_request: Callable[..., Any]
) -> None:
    from helpers import do_login

    app = make_app(TRANSPARENCY_PUBLIC=False)
    client = app.test_client()
    response = client.get("/transparency")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/transparency")
    assert client.get("/transparency/canary.txt").status_code == 302
    do_login(client, "alice", "demo")
    assert client.get("/transparency").status_code == 200


def test_staff_pages_are_for_staff_only(client: Any, login_as: Callable[..., Any]) -> None:
    paths = [
        "/staff/transparency",
        "/staff/transparency/requests/new",
        "/staff/transparency/canary",
    ]
    for path in paths:
        assert client.get(path).status_code == 302, path
    login_as("alice")
    for path in paths:
        assert client.get(path).status_code == 403, path


def _request_form(today: date, **overrides: Any) -> dict[str, Any]:
    form = {
        "received_on": (today - timedelta(days=2)).isoformat(),
        "authority_kind": "administrative",
        "legal_basis": "Article L. 34-1 of the postal and electronic communications code",
        "request_kind": "preservation",
        "summary": "Keep the connection logs of one service for one year.",
        "accounts_concerned": "3",
        "response": "pending",
        "response_summary": "",
        "answered_on": "",
    }
    form.update(overrides)
    return form


def test_staff_record_a_request_that_visitors_then_see(
    client: Any,
    login_as: Callable[..., Any],
    post_form: Callable[..., Any],
    db_session: Session,
    today: date,
) -> None:
    login_as("camille")
    response = post_form(
        "/staff/transparency/requests/new",
        _request_form(today),
        token_from="/staff/transparency/requests/new",
    )
    assert response.status_code == 302
    # Camille's directory language is French, so the panel answers her in French.
    page = client.get(response.headers["Location"])
    assert "est inscrite au registre" in page.get_data(as_text=True)
    item = db_session.scalars(select(AuthorityRequest)).one()
    camille = db_session.scalars(select(Account).where(Account.uid == "camille")).one()
    assert item.created_by_id == camille.id and item.response == "pending"
    event = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "transparency.request_recorded")
    ).one()
    assert event.actor_id == camille.id
    client.post("/logout", data={"csrf_token": _token(client)})
    text = text_of(client.get("/transparency", headers=EN))
    assert "Keep the connection logs of one service for one year." in text
    assert "Preserve data for later" in text and "Not answered yet" in text


def _token(client: Any) -> str:
    from helpers import csrf_token

    return csrf_token(client, "/hosting")


def test_staff_fill_in_the_answer_later(
    client: Any,
    login_as: Callable[..., Any],
    post_form: Callable[..., Any],
    make_request: Callable[..., Any],
    db_session: Session,
    today: date,
) -> None:
    item = make_request(response="pending", answered_on=None, response_summary=None)
    login_as("camille")
    path = f"/staff/transparency/requests/{item.id}"
    edit_page = client.get(path, headers=EN).get_data(as_text=True)
    assert "Identity of the holder of one mail address." in edit_page
    response = post_form(
        path,
        _request_form(
            today,
            received_on=item.received_on.isoformat(),
            response="refused",
            answered_on=today.isoformat(),
            response_summary="The request named no legal basis.",
        ),
        token_from=path,
    )
    assert response.status_code == 302
    db_session.expire_all()
    saved = db_session.get(AuthorityRequest, item.id)
    assert saved is not None and saved.response == "refused" and saved.answered_on == today
    history = text_of(client.get("/staff/transparency"))
    assert "Demande d'une autorité modifiée dans le registre" in history
    assert f"demande n° {item.id}" in history


def test_a_wrong_answer_date_is_shown_next_to_the_field(
    client: Any, login_as: Callable[..., Any], post_form: Callable[..., Any], today: date
) -> None:
    login_as("camille")
    response = post_form(
        "/staff/transparency/requests/new",
        _request_form(today, response="complied", answered_on=""),
        token_from="/staff/transparency/requests/new",
    )
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert 'id="answered_on-error"' in body
    assert "Indiquez la date de la réponse." in body


def test_unknown_request_is_not_found(client: Any, login_as: Callable[..., Any]) -> None:
    login_as("camille")
    assert client.get("/staff/transparency/requests/999").status_code == 404


def test_staff_publish_a_canary_statement(
    client: Any,
    login_as: Callable[..., Any],
    post_form: Callable[..., Any],
    db_session: Session,
    today: date,
    signed_text: str,
) -> None:
    login_as("camille")
    form_page = client.get("/staff/transparency/canary").get_data(as_text=True)
    assert "n&#39;a reçu aucune réquisition secrète" in form_page
    response = post_form(
        "/staff/transparency/canary",
        {
            "statement_date": today.isoformat(),
            "next_update_by": (today + timedelta(days=90)).isoformat(),
            "statement": "No secret order, no gag order.",
            "signed_text": signed_text,
            "signing_key": "ABCD 1234",
        },
        token_from="/staff/transparency/canary",
    )
    assert response.status_code == 302
    canary = db_session.scalars(select(CanaryStatement)).one()
    assert canary.signed_text == signed_text
    assert db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "transparency.canary_published")
    ).one()
    text = text_of(client.get("/transparency", headers=EN))
    assert "No secret order, no gag order." in text


def test_a_canary_due_soon_shows_on_the_staff_home(
    client: Any, login_as: Callable[..., Any], make_canary: Callable[..., Any], today: date
) -> None:
    make_canary(next_update_by=today + timedelta(days=3))
    login_as("camille")
    body = client.get("/staff/").get_data(as_text=True)
    row = re.search(r"Canari à renouveler</a></td><td>(\d+)</td>", body)
    assert row and row.group(1) == "1"
