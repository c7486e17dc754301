"""Imports every model so Alembic and tests see the whole schema through one metadata."""

from app.accounts.models import Account
from app.audit import AuditEvent
from app.db import Base

metadata = Base.metadata

__all__ = ["Account", "AuditEvent", "metadata"]
