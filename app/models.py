"""Imports every model so Alembic and tests see the whole schema through one metadata."""

from app.accounts.models import Account
from app.audit import AuditEvent
from app.db import Base
from app.mail import OutgoingMail
from app.support.models import Attachment, CannedReply, Ticket, TicketMessage

metadata = Base.metadata

__all__ = [
    "Account",
    "Attachment",
    "AuditEvent",
    "CannedReply",
    "OutgoingMail",
    "Ticket",
    "TicketMessage",
    "metadata",
]
