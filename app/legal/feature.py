"""Start-up of the terms feature: acceptance gate, CLI, export section, staff queue, labels."""

from __future__ import annotations

from typing import Any

from flask import Flask, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.orm import Session

from app.accounts.attention import Attention
from app.db import get_session, utcnow
from app.features import Feature
from app.legal import bp, services
from app.legal.cache import init_state, terms_state
from app.legal.cli import terms_group
from app.legal.section import LegalSection
from app.legal.views import DOCUMENT_TITLES
from app.security import here, view_flag
from app.staff import StaffQueue


def acceptance_gate() -> ResponseReturnValue | None:
    """Send a signed-in user to /legal/accept while new terms in effect are not accepted.

    Public pages and views marked `@gate_exempt` (export, deletion, support, sign-out…)
    stay reachable, so nobody is locked in with their data. No version in effect: no gate.
    """
    endpoint = request.endpoint
    if endpoint is None or view_flag(endpoint, "public") or view_flag(endpoint, "gate_exempt"):
        return None
    if not current_user.is_authenticated:
        return None
    if not terms_state().needs_acceptance(get_session(), current_user.id, utcnow()):
        return None
    target = here() if request.method == "GET" else None
    return redirect(url_for("legal.accept", next=target))


def overview_context(session: Session, account: Any) -> dict[str, Any]:
    """What the account overview lists: my acceptances, and versions announced for later."""
    state = terms_state()
    return {
        "legal_overview": {
            "acceptances": state.acceptances(session, account.id),
            "upcoming": state.snapshot(session).upcoming(utcnow()),
        }
    }


def waiting_for_person(session: Session, account: Any) -> list[Attention]:
    """The account page's lines: terms to accept now, and new versions announced."""
    state = terms_state()
    now = utcnow()
    items = []
    if state.needs_acceptance(session, account.id, now):
        items.append(
            Attention(
                _("New terms are in effect and wait for your acceptance."),
                link=(url_for("legal.accept"), _("Read and accept them")),
            )
        )
    for version in state.snapshot(session).upcoming(now):
        items.append(
            Attention(
                _(
                    "A new version of “%(title)s” takes effect on %(date)s.",
                    title=DOCUMENT_TITLES[version.document],
                    date=format_date(version.effective_at, "long"),
                ),
                link=(
                    url_for("legal.diff", document=version.document)
                    + f"?from={version.number - 1}&to={version.number}"
                    if version.number > 1
                    else url_for("legal.version", document=version.document, number=version.number),
                    _("See what changes"),
                ),
            )
        )
    return items


def legal_context() -> dict[str, Any]:
    return {"legal_document_titles": DOCUMENT_TITLES}


def _init(app: Flask) -> None:
    init_state(app)
    app.before_request(acceptance_gate)
    app.context_processor(legal_context)


FEATURE = Feature(
    name="legal",
    init=_init,
    blueprints=(bp,),
    commands=(terms_group,),
    attention=(waiting_for_person,),
    overview=(overview_context,),
    panel_sections=lambda _app: (LegalSection(),),
    staff_queues=(
        StaffQueue(
            label=lambda: str(_("Terms versions announced, not in effect yet")),
            count=services.count_upcoming,
            endpoint="legal.staff_index",
        ),
    ),
    audit_labels={
        "legal.published": _l("Published a new version of the terms"),
        "legal.accepted": _l("Accepted a new version of the terms"),
    },
)
