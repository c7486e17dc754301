"""Saved replies: keeping them, and putting them into a draft (the requester's language,
placeholders filled).

A saved reply is plain text with placeholders in braces, filled from the ticket when a
staff member inserts it: `{name}` → the requester's name, `{ticket}` → "#12", and so on
(`PLACEHOLDERS`). Values are inserted as plain text (the draft is plain text, shown
escaped like any message), so a name with `<` or `{` in it stays as it is and is never
filled again. `{{` and `}}` write a literal brace. A visitor gave no name, and an e-mail
address is no name: `{name}` is then left empty, with the space before it, so "Bonjour
{name}," greets "Bonjour," — neutrally, never by address. An unknown placeholder, such as a
misspelt `{nmae}`, is left visible in the draft and named in a warning, so it is fixed
before sending rather than silently dropped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import Account
from app.db import utcnow
from app.support.checks import check_body
from app.support.models import (
    CannedReply,
)
from app.support.settings import SupportError

# Documented in docs/support.md; the descriptions are shown on the saved replies page.
PLACEHOLDERS = {
    "name": _l("the requester's name (empty for a visitor, who gave none)"),
    "ticket": _l("the ticket number, such as #12"),
    "subject": _l("the ticket's subject"),
    "service": _l("the service the ticket is about"),
    "staff": _l("your name (the staff member who sends the reply)"),
    "hoster": _l("the hoster's name"),
}
# The spaces before a placeholder go with it when it is filled with nothing.
PLACEHOLDER = re.compile(r"([ \t]*)(?:\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\})")
LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"


@dataclass(frozen=True)
class FilledReply:
    reply_id: int
    title: str
    text: str
    language: str  # the language of the text used: the requester's, or French
    unknown: tuple[str, ...]  # placeholders left as they were, in order of appearance


def unknown_placeholders(text: str) -> tuple[str, ...]:
    """Placeholders in `text` that are not in PLACEHOLDERS, each once."""
    found: list[str] = []
    for match in PLACEHOLDER.finditer(text):
        name = match.group(2)
        if name and name not in PLACEHOLDERS and name not in found:
            found.append(name)
    return tuple(found)


def fill_placeholders(text: str, values: Mapping[str, str]) -> str:
    """One pass over `text`: known placeholders replaced, unknown ones left as written."""

    def replace(match: re.Match[str]) -> str:
        whole, spaces, name = match.group(0), match.group(1), match.group(2)
        if name is None:
            return spaces + whole[len(spaces)]  # "{{" → "{", "}}" → "}"
        if name not in values or name not in PLACEHOLDERS:
            return whole
        return spaces + values[name] if values[name] else ""

    return PLACEHOLDER.sub(replace, text)


def greeting_name(display_name: str | None) -> str:
    """The name a saved reply greets with: the person's name, or nothing (neutral) when
    there is none or it is only an address (directories often put the mail in `cn`)."""
    name = " ".join((display_name or "").split())
    return "" if "@" in name else name


def reply_language(requester_language: str | None) -> str:
    """'en' for a requester who reads English, else French ('en-GB' counts as English)."""
    code = (requester_language or "").replace("_", "-").split("-")[0].lower()
    return code if code in LANGUAGES else DEFAULT_LANGUAGE


def reply_text(reply: CannedReply, language: str) -> tuple[str, str]:
    """The text in `language` when the reply has one, else the French text; and its language."""
    if language == "en" and reply.body_en:
        return reply.body_en, "en"
    return reply.body, DEFAULT_LANGUAGE


def fill_reply(reply: CannedReply, *, language: str, values: Mapping[str, str]) -> FilledReply:
    text, used = reply_text(reply, language)
    return FilledReply(
        reply_id=reply.id,
        title=reply.title,
        text=fill_placeholders(text, values),
        language=used,
        unknown=unknown_placeholders(text),
    )


def insert_into_draft(draft: str, text: str) -> str:
    """The draft with `text` added after it, a blank line between; nothing of it lost."""
    kept = draft.replace("\r\n", "\n").rstrip()
    return f"{kept}\n\n{text}" if kept else text


def save_canned_reply(
    session: Session,
    *,
    reply: CannedReply | None,
    title: str,
    body: str,
    actor: Account,
    body_en: str = "",
) -> CannedReply:
    """Add or change a saved reply: a French text, and an English one if given."""
    errors: dict[str, list[Any]] = {}
    title = " ".join(title.split())
    if not title:
        errors.setdefault("title", []).append(_l("Give the saved reply a title."))
    elif len(title) > 120:
        errors.setdefault("title", []).append(_l("The title is too long: 120 characters at most."))
    body = check_body(body, errors)
    english = check_body(body_en, errors, "body_en") if body_en.strip() else None
    if not errors:
        clash = session.scalar(
            select(CannedReply.id).where(
                CannedReply.title == title, CannedReply.id != (reply.id if reply else -1)
            )
        )
        if clash:
            errors.setdefault("title", []).append(_l("Another saved reply has this title."))
    if errors:
        raise SupportError(errors)
    if reply is None:
        reply = CannedReply(title=title, body=body)
        session.add(reply)
    reply.title = title
    reply.body = body
    reply.body_en = english
    reply.updated_at = utcnow()
    reply.updated_by_id = actor.id
    session.flush()
    return reply


def delete_canned_reply(session: Session, reply: CannedReply) -> None:
    session.delete(reply)


def canned_replies(session: Session) -> list[CannedReply]:
    return list(session.scalars(select(CannedReply).order_by(CannedReply.title)).all())
