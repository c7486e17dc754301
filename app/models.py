"""Imports every model so Alembic and tests see the whole schema through one metadata."""

from app.accounts.models import Account
from app.audit import AuditEvent
from app.db import Base
from app.legal.models import TermsAcceptance, TermsVersion
from app.mail import OutgoingMail

metadata = Base.metadata

__all__ = [
    "Account",
    "AuditEvent",
    "OutgoingMail",
    "TermsAcceptance",
    "TermsVersion",
    "metadata",
]
