"""Support fixtures: an app with attachments under tmp_path, accounts and a ticket factory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from support.ticket_helpers import upload

from app.accounts.models import Account
from app.db import session_scope
from app.directory.demo import DEMO_PEOPLE_ROWS
from app.support import attachment_store, operations, queries
from app.support.settings import SupportSettings


@pytest.fixture
def attachment_dir(tmp_path: Path) -> Path:
    return tmp_path / "attachments"


@pytest.fixture
def support_config(attachment_dir: Path) -> dict[str, Any]:
    return {"SUPPORT_ATTACHMENT_DIR": str(attachment_dir)}


@pytest.fixture
def make_support_app(
    make_app: Callable[..., Flask], support_config: dict[str, Any]
) -> Callable[..., Flask]:
    def build(**overrides: Any) -> Flask:
        return make_app(**{**support_config, **overrides})

    return build


@pytest.fixture
def app(make_support_app: Callable[..., Flask]) -> Flask:
    """Overrides the shared `app`: attachments go to tmp_path, never to instance/."""
    return make_support_app()


@pytest.fixture
def accounts(app: Flask) -> Callable[[str], Account]:
    """The Account row of a demo person, created as a sign-in would."""

    def get(uid: str) -> Account:
        row = next(r for r in DEMO_PEOPLE_ROWS if r[0] == uid)
        with session_scope(app) as session:
            account = session.scalar(select(Account).where(Account.uid == uid))
            if account is None:
                account = Account(
                    uid=uid,
                    dn=f"uid={uid},ou=people,dc=demo,dc=chatons,dc=org",
                    display_name=row[1],
                    email=row[2],
                    language=row[3],
                    is_staff=row[4],
                )
                session.add(account)
                session.flush()
            session.expunge(account)
        return account

    return get


@pytest.fixture
def make_ticket(app: Flask, accounts: Callable[[str], Account]) -> Callable[..., int]:
    """Open a ticket through the service; returns its id."""

    def make(
        owner: str = "alice",
        *,
        subject: str = "Cannot sign in",
        body: str = "The cloud app says my password is wrong.",
        service: str = "cloud",
        category: str = "problem",
        files: list[tuple[str, bytes]] | None = None,
    ) -> int:
        account = accounts(owner)
        with app.test_request_context():
            store = attachment_store()
            settings = SupportSettings.from_config(app.config)
            with session_scope(app) as session:
                ticket = operations.open_ticket(
                    session,
                    store,
                    settings,
                    account=session.get(Account, account.id),  # type: ignore[arg-type]
                    subject=subject,
                    service=service,
                    category=category,
                    body=body,
                    uploads=[upload(n, d) for n, d in (files or [])],
                    known_services=["mail", "cloud", "pad"],
                )
                return ticket.id

    return make


@pytest.fixture
def staff_reply(app: Flask, accounts: Callable[[str], Account]) -> Callable[..., int]:
    """Answer (or note) as staff through the service; returns the message id."""

    def reply(
        ticket_id: int,
        body: str = "Try resetting your password.",
        *,
        internal: bool = False,
        then_state: str = "waiting_user",
        files: list[tuple[str, bytes]] | None = None,
        author: str = "camille",
    ) -> int:
        staff = accounts(author)
        with app.test_request_context():
            store = attachment_store()
            settings = SupportSettings.from_config(app.config)
            with session_scope(app) as session:
                message = operations.reply_as_staff(
                    session,
                    store,
                    settings,
                    ticket=queries.get_ticket(session, ticket_id),
                    author=session.get(Account, staff.id),  # type: ignore[arg-type]
                    body=body,
                    uploads=[upload(n, d) for n, d in (files or [])],
                    internal=internal,
                    then_state=then_state,
                )
                return message.id

    return reply


@pytest.fixture
def signed_in(client: FlaskClient, login_as: Callable[..., FlaskClient]) -> Callable[..., Any]:
    """Switch the one test client to another person (signs out first)."""

    def switch(uid: str | None) -> FlaskClient:
        client.delete_cookie("panel_session")
        if uid is not None:
            login_as(uid)
        return client

    return switch
