"""Imports every model so Alembic and tests see the whole schema through one metadata."""

from app.accounts.models import Account
from app.audit import AuditEvent
from app.db import Base
from app.deletion.models import DeletionRequest, DeletionStep
from app.incidents.models import Incident, IncidentService, IncidentUpdate
from app.legal.models import TermsAcceptance, TermsVersion
from app.mail import OutgoingMail
from app.support.models import Attachment, CannedReply, Ticket, TicketMessage
from app.transparency.models import AuthorityRequest, CanaryStatement

metadata = Base.metadata

__all__ = [
    "Account",
    "Attachment",
    "AuditEvent",
    "AuthorityRequest",
    "CanaryStatement",
    "CannedReply",
    "DeletionRequest",
    "DeletionStep",
    "Incident",
    "IncidentService",
    "IncidentUpdate",
    "OutgoingMail",
    "TermsAcceptance",
    "TermsVersion",
    "Ticket",
    "TicketMessage",
    "metadata",
]
