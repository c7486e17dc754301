"""What waits for the person: each feature says what needs them, the account page lists it.

Features list a provider in their `Feature(attention=...)` (app/features.py), the way they
list staff queues; the account page shows the items, and nothing when there are none.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Attention:
    """One thing that needs the person, with where to act on it."""

    message: str
    link: tuple[str, str] | None = None  # (url, label)
    # A POST button (url, label) that acts at once, e.g. cancelling a deletion request.
    action: tuple[str, str] | None = None


AttentionProvider = Callable[[Session, Any], list[Attention]]


def register_attention(app: Flask, provider: AttentionProvider) -> None:
    app.extensions.setdefault("panel_attention", []).append(provider)


def attention_for(app: Flask, session: Session, account: Any) -> list[Attention]:
    items: list[Attention] = []
    for provider in app.extensions.get("panel_attention", []):
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
