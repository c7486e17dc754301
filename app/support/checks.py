"""Checks on what people send with a ticket: subject, text and attached files."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app.db import utcnow
from app.support.attachments import AttachmentStore, TooLarge, Upload, sniff_type
from app.support.models import Attachment, TicketMessage
from app.support.settings import MAX_BODY_BYTES, MAX_SUBJECT_CHARS, SupportError, SupportSettings
from app.text import one_line
from app.units import byte_size


def _text_problem(text: str) -> Any | None:
    if "\ufffd" in text:
        return _l(
            "Part of this text could not be read (it is not valid UTF-8). "
            "Copy it again from the original or remove the odd characters."
        )
    if any(unicodedata.category(ch) == "Cc" and ch not in "\t\n\r" for ch in text):
        return _l("This text contains invisible control characters. Remove them and try again.")
    return None


def check_body(body: str, errors: dict[str, list[Any]], name: str = "body") -> str:
    body = body.replace("\r\n", "\n").strip()
    if not body:
        errors.setdefault(name, []).append(_l("Write your message."))
    elif len(body.encode("utf-8")) > MAX_BODY_BYTES:
        errors.setdefault(name, []).append(
            _l("The message is too long: at most 100 KB of text. Attach a file instead.")
        )
    elif problem := _text_problem(body):
        errors.setdefault(name, []).append(problem)
    return body


def check_subject(subject: str, errors: dict[str, list[Any]]) -> str:
    subject = one_line(subject)
    if not subject:
        errors.setdefault("subject", []).append(_l("Give your request a short title."))
    elif len(subject) > MAX_SUBJECT_CHARS:
        errors.setdefault("subject", []).append(
            _l("The subject is too long: 200 characters at most.")
        )
    elif problem := _text_problem(subject):
        errors.setdefault("subject", []).append(problem)
    return subject


def check_uploads(
    uploads: Sequence[Upload], settings: SupportSettings, errors: dict[str, list[Any]]
) -> list[tuple[Upload, str]]:
    """Count, size and content type of each file, before anything is written."""
    accepted: list[tuple[Upload, str]] = []
    problems: list[Any] = []
    if len(uploads) > settings.max_files:
        problems.append(
            _l(
                "Too many files: at most %(num)s per message.",
                num=settings.max_files,
            )
        )
    for upload in uploads:
        if upload.over_limit or upload.received > settings.max_file_bytes:
            problems.append(
                _l(
                    "“%(name)s” is too large: at most %(size)s per file.",
                    name=upload.filename,
                    size=byte_size(settings.max_file_bytes),
                )
            )
            continue
        if upload.received == 0:
            problems.append(_l("“%(name)s” is empty.", name=upload.filename))
            continue
        kind = sniff_type(upload.head())
        if kind is None or kind not in settings.allowed_types:
            problems.append(
                _l(
                    "“%(name)s” is not a type of file we accept (its content was checked, "
                    "not its name). Accepted: pictures (PNG, JPEG, GIF, WebP), PDF, plain "
                    "text and OpenDocument files.",
                    name=upload.filename,
                )
            )
            continue
        accepted.append((upload, kind))
    if problems:
        errors.setdefault("attachments", []).extend(problems)
    return accepted


def store_attachments(
    session: Session,
    store: AttachmentStore,
    settings: SupportSettings,
    message: TicketMessage,
    accepted: list[tuple[Upload, str]],
) -> None:
    for upload, kind in accepted:
        try:
            name, size = store.save(upload.stream, settings.max_file_bytes)
        except TooLarge:
            raise SupportError(
                {
                    "attachments": [
                        _l(
                            "“%(name)s” is too large: at most %(size)s per file.",
                            name=upload.filename,
                            size=byte_size(settings.max_file_bytes),
                        )
                    ]
                }
            ) from None
        message.attachments.append(
            Attachment(
                ticket_id=message.ticket_id,
                filename=upload.filename,
                content_type=kind,
                size=size,
                storage_name=name,
                created_at=utcnow(),
            )
        )
