"""Factories of the transparency tests: register entries and canary statements."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask

from app.db import session_scope
from app.transparency import services
from app.transparency.models import AuthorityRequest, CanaryStatement


@pytest.fixture
def today(app: Flask) -> date:
    with app.app_context():
        return services.local_today("Europe/Paris")


@pytest.fixture
def make_request(app: Flask, today: date) -> Callable[..., AuthorityRequest]:
    """Add a register entry through the service; keyword arguments override the defaults."""

    def make(**overrides: Any) -> AuthorityRequest:
        values: dict[str, Any] = {
            "received_on": today - timedelta(days=10),
            "authority_kind": "judicial",
            "legal_basis": "Article 60-1 of the code of criminal procedure",
            "request_kind": "identification",
            "summary": "Identity of the holder of one mail address.",
            "response": "complied",
            "response_summary": "We gave the name and sign-up date we hold.",
            "answered_on": today - timedelta(days=5),
            "accounts_concerned": 1,
        }
        values.update(overrides)
        with app.app_context(), session_scope(app) as session:
            item = services.record_authority_request(
                session, services.RequestDetails(**values), actor_id=None, today=today
            )
            session.flush()
            session.expunge(item)
        return item

    return make


@pytest.fixture
def make_canary(app: Flask, today: date) -> Callable[..., CanaryStatement]:
    def make(**overrides: Any) -> CanaryStatement:
        values: dict[str, Any] = {
            "statement_date": today - timedelta(days=30),
            "next_update_by": today + timedelta(days=60),
            "statement": "We have received no secret order.",
            "signed_text": None,
            "signing_key": None,
        }
        values.update(overrides)
        with app.app_context(), session_scope(app) as session:
            canary = services.publish_canary(session, actor_id=None, today=today, **values)
            session.flush()
            session.expunge(canary)
        return canary

    return make


@pytest.fixture
def signed_text() -> str:
    """A clear-signed statement as gpg --clearsign writes it (the signature is not checked)."""
    return SIGNED


SIGNED = """-----BEGIN PGP SIGNED MESSAGE-----
Hash: SHA512

We have received no secret order.
-----BEGIN PGP SIGNATURE-----

iHUEARYKAB0WIQTexampleexampleexampleexampleexampleAAoJEExampleSig
=AbCd
-----END PGP SIGNATURE-----
"""
