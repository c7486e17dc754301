"""What waits for the person: each feature says what needs them, the account page lists it.

Features list a provider in their `Feature(attention=...)` (app/features.py), the way they
list staff queues; the account page shows the items, and nothing when there are none.

What needs someone is rare (a ticket waiting for her answer, a deletion on its way, an
import, a transfer code), yet the account page asked each feature every time: one
statement each. A provider whose answer comes from the person's rows also gives a *probe*,
an EXISTS clause; the probes of every feature go to the database as one statement, and
only the providers whose probe found something are asked for their items.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from flask import Flask
from sqlalchemy import BindParameter, ColumnElement, Integer, Select, bindparam, select
from sqlalchemy.orm import Session

from app.db import UTCDateTime, core_rows, utcnow


@dataclass(frozen=True)
class Attention:
    """One thing that needs the person, with where to act on it."""

    message: str
    link: tuple[str, str] | None = None  # (url, label)
    # A POST button (url, label) that acts at once, e.g. cancelling a deletion request.
    action: tuple[str, str] | None = None


AttentionProvider = Callable[[Session, Any], list[Attention]]


class ProbeParameters(NamedTuple):
    """What a probe may compare with: the person's account id and the request's clock."""

    account_id: BindParameter[int]
    now: BindParameter[datetime]


# True whenever the provider may have items (it may say more: the provider still decides).
AttentionProbe = Callable[[ProbeParameters], ColumnElement[bool]]

PROVIDERS = "panel_attention"
PROBES = "panel_attention_probes"


@dataclass(frozen=True)
class _Probes:
    statement: Select[Any] | None
    columns: dict[int, int]  # provider's position -> column of the statement


def register_attention(
    app: Flask, provider: AttentionProvider, probe: AttentionProbe | None = None
) -> None:
    app.extensions.setdefault(PROVIDERS, []).append((provider, probe))
    app.extensions.pop(PROBES, None)


def _probes(app: Flask) -> _Probes:
    """The probes as one statement, built once: the same on every request."""
    found: _Probes | None = app.extensions.get(PROBES)
    if found is None:
        parameters = ProbeParameters(
            bindparam("account_id", type_=Integer()),
            bindparam("now", type_=UTCDateTime()),
        )
        clauses: list[Any] = []
        columns = {}
        for position, (_provider, probe) in enumerate(app.extensions.get(PROVIDERS, [])):
            if probe is not None:
                columns[position] = len(clauses)
                clauses.append(probe(parameters).label(f"probe_{position}"))
        found = _Probes(select(*clauses) if clauses else None, columns)
        app.extensions[PROBES] = found
    return found


def attention_for(app: Flask, session: Session, account: Any) -> list[Attention]:
    probes = _probes(app)
    flags: Any = ()
    if probes.statement is not None:
        # Booleans: no ORM execute needed (it cost a third of this call).
        flags = core_rows(
            session, probes.statement, {"account_id": account.id, "now": utcnow()}
        ).one()
    items: list[Attention] = []
    for position, (provider, _probe) in enumerate(app.extensions.get(PROVIDERS, [])):
        column = probes.columns.get(position)
        if column is None or flags[column]:
            items.extend(provider(session, account))
    return items


# What a feature shows in its own card on the account page (the terms accepted, the
# disruptions on the person's services). The view gathers it before rendering, so that the
# templates receive data and issue no queries.
OverviewProvider = Callable[[Session, Any], dict[str, Any]]


def register_overview(app: Flask, provider: OverviewProvider) -> None:
    app.extensions.setdefault("panel_overview", []).append(provider)


def overview_for(app: Flask, session: Session, account: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for provider in app.extensions.get("panel_overview", []):
        found.update(provider(session, account))
    return found
