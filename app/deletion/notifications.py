"""The mails a deletion request sends its person: requested, cancelled, refused, and the receipt."""

from __future__ import annotations

from typing import Any

from flask_babel import force_locale
from sqlalchemy.orm import Session

from app.deletion.models import DeletionRequest
from app.deletion.outcomes import describe_outcome_text
from app.deletion.steps import step_label
from app.mail import queue_mail


def queue_request_mail(
    session: Session,
    req: DeletionRequest,
    template: str,
    *,
    purpose: str,
    to: str | None = None,
    **ctx: Any,
) -> None:
    """Queue one of the request's mails, in the person's language, to the address recorded
    with the request (or `to`); it leaves when the caller commits."""
    address = to or req.receipt_email
    assert address
    with force_locale(req.subject_language or "fr"):
        queue_mail(
            session,
            to=address,
            template=template,
            purpose=purpose,
            request=req,
            step_label=step_label,
            describe_outcome=describe_outcome_text,
            **ctx,
        )
