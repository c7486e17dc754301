"""Imports every model so Alembic and tests see the whole schema through one metadata."""

from app.accounts.models import Account
from app.audit import AuditEvent
from app.db import Base
from app.incidents.models import Incident, IncidentService, IncidentUpdate
from app.mail import OutgoingMail

metadata = Base.metadata

__all__ = [
    "Account",
    "AuditEvent",
    "Incident",
    "IncidentService",
    "IncidentUpdate",
    "OutgoingMail",
    "metadata",
]
