"""Reply addresses and threading headers of ticket mail (support+<ticket>.<token>@domain).

The token is an HMAC of the ticket and its recipient (the requester's account, a visitor's
contact address for a ticket from the public contact form, or "staff" for the team
mailbox) with the panel's secret key: nothing is stored, a guessed or
copied-to-another-ticket address is refused, and changing SECRET_KEY retires them all.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from email.utils import make_msgid
from typing import Any

TOKEN_CHARS = 16  # 80 bits, lowercase base32: survives MTAs that lowercase local parts
STAFF = "staff"


@dataclass(frozen=True)
class ReplyTarget:
    ticket_id: int
    token: str


def _token(secret: str, ticket_id: int, recipient: str) -> str:
    digest = hmac.new(
        secret.encode(), f"support-reply:{ticket_id}:{recipient}".encode(), hashlib.sha256
    ).digest()
    return base64.b32encode(digest).decode().lower()[:TOKEN_CHARS]


def reply_address(config: Any, ticket_id: int, recipient: int | str) -> str | None:
    """The address a mail about this ticket to this recipient should be answered to."""
    support = config.get("SUPPORT_REPLY_ADDRESS")
    if not support:
        return None
    local, _, domain = str(support).partition("@")
    token = _token(str(config["SECRET_KEY"]), ticket_id, str(recipient))
    return f"{local}+{ticket_id}.{token}@{domain}"


def parse_address(config: Any, address: str) -> ReplyTarget | None:
    """The ticket and token of one of our reply addresses, or None."""
    support = config.get("SUPPORT_REPLY_ADDRESS")
    if not support:
        return None
    local, _, domain = str(support).partition("@")
    pattern = re.compile(
        rf"{re.escape(local)}\+(\d{{1,12}})\.([a-z2-7]{{{TOKEN_CHARS}}})@{re.escape(domain)}",
        re.IGNORECASE,
    )
    match = pattern.fullmatch(address.strip())
    if match is None:
        return None
    return ReplyTarget(ticket_id=int(match.group(1)), token=match.group(2).lower())


def requester_key(account_id: int | None, contact_email: str | None) -> str:
    """What a requester's tokens are made for: their account, or a visitor's address."""
    if account_id is not None:
        return str(account_id)
    return f"visitor:{contact_email}"


def recipient_of(config: Any, target: ReplyTarget, requester: int | str) -> str | None:
    """Whom the token was made for: "requester", "staff", or None when it is wrong."""
    secret = str(config["SECRET_KEY"])
    for role, recipient in (("requester", str(requester)), ("staff", STAFF)):
        if hmac.compare_digest(_token(secret, target.ticket_id, recipient), target.token):
            return role
    return None


def thread_root(ticket_id: int, domain: str) -> str:
    return f"<ticket-{ticket_id}@{domain}>"


def ticket_headers(config: Any, ticket_id: int, recipient: int | str) -> dict[str, str]:
    """Headers of every mail about a ticket: one thread per ticket, and the reply address."""
    domain = str(config.get("MAIL_FROM") or "localhost").rpartition("@")[2] or "localhost"
    root = thread_root(ticket_id, domain)
    headers = {
        "Message-ID": make_msgid(idstring=f"ticket-{ticket_id}", domain=domain),
        "In-Reply-To": root,
        "References": root,
    }
    address = reply_address(config, ticket_id, recipient)
    if address:
        headers["Reply-To"] = address
    return headers
