"""Back-channel logout tokens already acted on, so that a captured one cannot be replayed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime


class UsedLogoutToken(Base):
    """The SHA-256 of a logout token's issuer and jti, kept until the token is too old to be
    accepted anyway (then the row is forgotten)."""

    __tablename__ = "oidc_used_logout_tokens"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
