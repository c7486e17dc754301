"""Imports every model so Alembic and tests see the whole schema through one metadata."""

from app.accounts.models import Account
from app.audit import AuditEvent
from app.db import Base
from app.deletion.models import DeletionRequest, DeletionStep
from app.disclosure.models import ClosingOptOut, ClosingReminder
from app.export.transfer import TransferCode
from app.incidents.models import Incident, IncidentService, IncidentUpdate
from app.incidents.notifications import IncidentMailing
from app.incidents.subscriptions import IncidentSubscription, SubscribedService
from app.legal.models import TermsAcceptance, TermsVersion
from app.mail import OutgoingMail
from app.moving.models import ImportJob, ImportPart
from app.oidc.models import UsedLogoutToken
from app.sessions.models import SessionRecord
from app.support.mail_models import MailInAnswer
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
    "ClosingOptOut",
    "ClosingReminder",
    "DeletionRequest",
    "DeletionStep",
    "ImportJob",
    "ImportPart",
    "Incident",
    "IncidentMailing",
    "IncidentService",
    "IncidentSubscription",
    "IncidentUpdate",
    "MailInAnswer",
    "OutgoingMail",
    "SessionRecord",
    "SubscribedService",
    "TermsAcceptance",
    "TermsVersion",
    "Ticket",
    "TicketMessage",
    "TransferCode",
    "UsedLogoutToken",
    "metadata",
]
