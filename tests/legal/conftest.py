"""Fixtures of the terms tests: publishing versions and making accounts without HTTP."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask

from app.accounts.models import Account
from app.db import session_scope
from app.legal import services
from app.legal.models import TermsVersion

PARIS = ZoneInfo("Europe/Paris")

TERMS_V1 = """# Conditions

## Objet

Le service est fourni par l'association.

## Données personnelles

Nous gardons vos données un an.

## Suppression

Vous pouvez supprimer votre compte.
"""


@pytest.fixture
def zone() -> ZoneInfo:
    return PARIS


@pytest.fixture
def publish(app: Flask) -> Callable[..., TermsVersion]:
    """Publish a version through the service, committed; returns it (detached)."""

    def make(
        document: str = "terms",
        fr: str = TERMS_V1,
        *,
        summary: str = "Résumé des changements.",
        en: str | None = None,
        summary_en: str = "",
        effective_on: date | None = None,
        now: datetime | None = None,
        publisher: Account | None = None,
    ) -> TermsVersion:
        texts = {"fr": services.DraftText(fr, summary)}
        if en is not None:
            texts["en"] = services.DraftText(en, summary_en)
        with session_scope(app) as session:
            version = services.publish_version(
                session,
                document,
                texts,
                effective_on=effective_on,
                zone=PARIS,
                publisher=session.merge(publisher) if publisher else None,
                now=now,
            )
        return version

    return make


@pytest.fixture
def make_account(app: Flask) -> Callable[..., Account]:
    def make(uid: str = "alice", **fields: Any) -> Account:
        with session_scope(app) as session:
            account = Account(
                uid=uid,
                dn=f"uid={uid},ou=people,dc=demo,dc=chatons,dc=org",
                display_name=fields.pop("display_name", uid.title()),
                is_staff=fields.pop("is_staff", False),
                **fields,
            )
            session.add(account)
        return account

    return make


@pytest.fixture
def accept_terms(client) -> Callable[[], Any]:
    """Accept what the gate shows, through the gate's own form."""
    import re

    def accept() -> Any:
        html = client.get("/legal/accept").get_data(as_text=True)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
        versions = re.search(r'name="versions"[^>]*value="([^"]*)"', html)
        assert token and versions, "no acceptance form on /legal/accept"
        return client.post(
            "/legal/accept", data={"csrf_token": token.group(1), "versions": versions.group(1)}
        )

    return accept
