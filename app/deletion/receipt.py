"""The deletion receipt: what was deleted, how and when, and where the receipt may safely go.

One description of a request's steps serves the receipt mail, the copy on the person's
page (to print or download while they can still sign in) and its text file. Its wording is
after the fact ("deleted on …") and says "by our team" only when a staff member recorded
deleting something by hand; a service that held nothing says so.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from app.deletion.models import DeletionRequest, DeletionStep
from app.profile.model import HosterProfile

# What a manual step records when staff found nothing to delete (an outcome in outcomes.py).
NOTHING_BY_HAND = "Nothing to delete: checked by hand."
# Outcomes of automatic steps that found nothing (connectors' own words, in English).
_NOTHING = re.compile(r"nothing to delete|already gone|already empty|is not known", re.IGNORECASE)

# How a step ended, for the reader.
AUTOMATIC = "automatic"  # deleted by a program
BY_TEAM = "team"  # a staff member deleted data by hand
NOTHING = "nothing"  # checked: there was nothing of the person's to delete
PENDING = "pending"  # not done yet


@dataclass(frozen=True)
class ReceiptLine:
    step: DeletionStep
    how: str
    when: datetime | None


def how_done(step: DeletionStep) -> str:
    if step.state != "done":
        return PENDING
    if step.comment is not None:  # only mark_manual_step_done writes a comment
        return NOTHING if step.detail == NOTHING_BY_HAND else BY_TEAM
    if step.detail and _NOTHING.search(step.detail):
        return NOTHING
    return AUTOMATIC


def receipt_lines(req: DeletionRequest) -> list[ReceiptLine]:
    return [ReceiptLine(step, how_done(step), step.finished_at) for step in req.steps]


def receipt_ready(req: DeletionRequest) -> bool:
    """The person's page offers the receipt once deletion has started (approved)."""
    return req.state in ("approved", "completed")


# Where the receipt may go -------------------------------------------------------------------


def _host(value: str | None) -> str | None:
    if not value:
        return None
    if "@" in value and "//" not in value:
        return value.rpartition("@")[2].strip().lower().rstrip(".") or None
    host = urlsplit(value).hostname
    return host.lower().rstrip(".") if host else None


def hoster_domains(
    profile: HosterProfile, *, mail_from: str | None, person_email: str | None
) -> set[str]:
    """The domains whose mailboxes may be the hoster's: its services', its own sender's, the
    organisation's, and the person's current address's (which the deletion may erase)."""
    found = {_host(mail_from), _host(person_email)}
    organisation = profile.organisation
    found.update({_host(organisation.website), _host(organisation.contact_email)})
    found.update(_host(service.url) for service in profile.services)
    # Names only: an address at an IP literal is nobody's mailbox here.
    return {d for d in found if d and "." in d and not d.replace(".", "").isdigit()}


def on_hoster_domain(address: str, domains: Iterable[str]) -> str | None:
    """The hoster domain `address` belongs to (same domain, a parent or a subdomain of it)."""
    domain = _host(address)
    if not domain:
        return None
    for known in sorted(domains):
        if domain == known or domain.endswith("." + known) or known.endswith("." + domain):
            return domain
    return None
