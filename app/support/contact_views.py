"""The public contact form: visitors open a ticket with an e-mail address, no account.

Off unless SUPPORT_CONTACT_FORM is set. Throttled per address and per client, with a
honeypot field for robots; the visitor sees a confirmation page and gets the ticket's
number by mail, and never a page of the ticket (see app/support/visitors.py).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Any

from flask import abort, current_app, g, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_login import current_user
from werkzeug.wrappers import Response

from app.accounts.throttle import KeyedThrottle
from app.db import discard_changes, get_session
from app.errors import retry_after
from app.extensions import limiter
from app.security import gate_exempt, public_endpoint
from app.support import bp, visitors
from app.support.forms import ContactForm
from app.support.settings import SupportError, SupportSettings

log = logging.getLogger(__name__)
SENT_KEY = "support_contact_sent"
# Field ids and names start with "contact-": the form sits on pages with other forms.
PREFIX = "contact"


def contact_form_enabled() -> bool:
    return bool(current_app.config.get("SUPPORT_CONTACT_FORM"))


def contact_form_for_visitors() -> bool:
    """Whether the home and support pages offer a visitor the contact form.

    They link to it rather than embed it: the form needs a CSRF token, so a session, and
    visitors who only read the public pages get no cookie at all.
    """
    return contact_form_enabled() and not current_user.is_authenticated


def _throttles(email: str) -> list[tuple[KeyedThrottle, str]] | None:
    if not limiter.enabled:
        return None
    config = current_app.config
    return [
        (
            KeyedThrottle(
                limiter.limiter, str(config["SUPPORT_CONTACT_LIMIT_PER_IP"]), "contact-client"
            ),
            request.remote_addr or "unknown",
        ),
        (
            KeyedThrottle(
                limiter.limiter,
                str(config["SUPPORT_CONTACT_LIMIT_PER_ADDRESS"]),
                "contact-address",
            ),
            # Counted by keyed digest: the limiter's storage (Redis, shared) should not hold
            # visitors' addresses, nor anything a list of addresses could be checked against.
            hmac.new(
                str(config["SECRET_KEY"]).encode(),
                f"contact:{email.strip().lower()}".encode(),
                hashlib.sha256,
            ).hexdigest(),
        ),
    ]


def _blocked(throttles: list[tuple[KeyedThrottle, str]] | None) -> float | None:
    if not throttles:
        return None
    resets = [t.blocked_until(key) for t, key in throttles]
    found = [r for r in resets if r is not None]
    return max(found) if found else None


def _count(throttles: list[tuple[KeyedThrottle, str]] | None) -> None:
    for throttle, key in throttles or []:
        throttle.hit(key)


@bp.route("/support/contact", methods=["GET", "POST"])
@public_endpoint
@gate_exempt
def contact() -> Any:
    if not contact_form_enabled():
        abort(404)
    if current_user.is_authenticated:
        # Members write from their account: their tickets are on their support page.
        return redirect(url_for("support.new_ticket"))
    form = ContactForm(prefix=PREFIX)
    if request.method == "GET":
        return render_template("support/contact.html", form=form)
    if not form.validate():  # the CSRF token; the service checks the fields
        return render_template("support/contact.html", form=form), 400
    throttles = _throttles(form.email.data or "")
    blocked = _blocked(throttles)
    if blocked is not None:
        g.panel_retry_at = blocked
        return render_template("support/contact.html", form=form, limit=retry_after()), 429
    if form.website.data:
        # A robot filled the hidden field: it sees the same confirmation, nothing is opened.
        log.info("contact form: honeypot field filled, nothing opened")
        _count(throttles)
        session[SENT_KEY] = {"id": None}
        return redirect(url_for("support.contact_sent", _anchor="main"))
    db = get_session()
    try:
        ticket = visitors.open_visitor_ticket(
            db,
            SupportSettings.from_config(current_app.config),
            email=form.email.data or "",
            subject=form.subject.data or "",
            body=form.body.data or "",
            language=str(get_locale() or ""),
        )
    except SupportError as exc:
        discard_changes()
        for name, messages in exc.errors.items():
            field = form._fields.get(name) or form._fields["body"]
            field.errors = [*field.errors, *(str(m) for m in messages)]
        form._errors = None
        return render_template("support/contact.html", form=form), 422
    _count(throttles)
    session[SENT_KEY] = {"id": ticket.id, "email": ticket.contact_email}
    return redirect(url_for("support.contact_sent", _anchor="main"))


@bp.route("/support/contact/sent")
@public_endpoint
@gate_exempt
def contact_sent() -> str | Response:
    sent = session.get(SENT_KEY)
    if not contact_form_enabled() or not isinstance(sent, dict):
        return redirect(url_for("support.index"))
    return render_template("support/contact_sent.html", sent=sent)
