"""Transfer codes: let another panel download a person's export once, server to server.

A person moving to another CHATON creates a code on /account/export and types it into the
new panel, which fetches `/account/export/transfer` with it (app/moving/transfer.py), so
that gigabytes never pass through her phone. A code:

- allows one thing only, a single download of her export; it never signs anybody in;
- is valid for TRANSFER_CODE_HOURS (24) hours, used once, and revocable until then;
- is stored as the SHA-256 of its normalised text (like session cookies); the code itself
  is shown once, on the page that created it, and never stored, logged or audited.

Services take explicit arguments and never commit (the view's request does).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, ForeignKey, Index, String, delete, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from app import audit
from app.accounts.models import Account
from app.connectors.base import ArchiveEntry, DataItem
from app.connectors.panel import json_bytes
from app.db import Base, UTCDateTime, rows_changed, utcnow

if TYPE_CHECKING:
    from app.accounts.attention import ProbeParameters

# 20 random bytes (160 bits) as 32 base32 letters, shown in groups of four.
CODE_BYTES = 20
GROUP = 4
# The longest text worth hashing: a code with its dashes and some spaces around it.
MAX_CODE_LENGTH = 128


class TransferCode(Base):
    __tablename__ = "transfer_code"
    __table_args__ = (Index("ix_transfer_code_account_id_expires_at", "account_id", "expires_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    # SHA-256 (hex) of the normalised code; the code itself is never stored.
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The address of the server that downloaded the export (shown to the person).
    used_from: Mapped[str | None] = mapped_column(String(64))

    def valid_at(self, now: datetime) -> bool:
        return self.used_at is None and self.revoked_at is None and self.expires_at > now


class CodeNotFound(Exception):
    """No code of this account with this id (a foreign id looks the same)."""


def new_code() -> str:
    """A fresh code, e.g. `ABCD-EFGH-…` (8 groups of 4 letters and digits 2-7)."""
    letters = base64.b32encode(secrets.token_bytes(CODE_BYTES)).decode("ascii").rstrip("=")
    return "-".join(letters[i : i + GROUP] for i in range(0, len(letters), GROUP))


def normalise(code: str) -> str:
    """What the person may have typed or pasted, as the letters only: case, spaces and
    dashes do not matter."""
    return "".join(c for c in code.upper() if c.isalnum())


def code_hash(code: str) -> str:
    """The stored form of a code."""
    return hashlib.sha256(normalise(code[:MAX_CODE_LENGTH]).encode("ascii", "replace")).hexdigest()


def create_code(
    session: Session, account: Account, *, hours: int, address: str | None
) -> tuple[str, TransferCode]:
    """A new code for `account` (audited); the caller shows the code once and commits."""
    code = new_code()
    now = utcnow()
    row = TransferCode(
        account_id=account.id,
        code_hash=code_hash(code),
        created_at=now,
        expires_at=now + timedelta(hours=hours),
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        "export.transfer_code_created",
        account_id=account.id,
        actor_id=account.id,
        code=row.id,
        expires_at=row.expires_at.isoformat(),
        address=address,
    )
    return code, row


def valid_codes(
    session: Session, account_id: int, *, now: datetime | None = None
) -> list[TransferCode]:
    """The account's codes that can still be used, soonest expiry first."""
    now = now or utcnow()
    return list(
        session.scalars(
            select(TransferCode)
            .where(
                TransferCode.account_id == account_id,
                TransferCode.used_at.is_(None),
                TransferCode.revoked_at.is_(None),
                TransferCode.expires_at > now,
            )
            .order_by(TransferCode.expires_at, TransferCode.id)
        )
    )


def valid_code_probe(parameters: ProbeParameters) -> ColumnElement[bool]:
    """The account page's probe: the same conditions as `valid_codes`, as an EXISTS."""
    return (
        select(TransferCode.id)
        .where(
            TransferCode.account_id == parameters.account_id,
            TransferCode.used_at.is_(None),
            TransferCode.revoked_at.is_(None),
            TransferCode.expires_at > parameters.now,
        )
        .exists()
    )


def revoke_code(session: Session, account: Account, code_id: int) -> bool:
    """Revoke one of the account's codes. False if it was already unusable (used, expired,
    revoked: nothing to do); CodeNotFound if it is not hers."""
    row = session.get(TransferCode, code_id)
    if row is None or row.account_id != account.id:
        raise CodeNotFound(code_id)
    now = utcnow()
    revoked = session.execute(
        update(TransferCode)
        .where(
            TransferCode.id == row.id,
            TransferCode.used_at.is_(None),
            TransferCode.revoked_at.is_(None),
            TransferCode.expires_at > now,
        )
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    if not rows_changed(revoked):
        return False
    audit.record(
        session,
        "export.transfer_code_revoked",
        account_id=account.id,
        actor_id=account.id,
        code=row.id,
    )
    return True


def consume_code(
    session: Session, code: str, *, address: str | None, client: str | None = None
) -> Account | None:
    """The account whose valid code this is, the code marked used, and the transfer audited;
    None for a code that is unknown, wrong, expired, revoked or already used.

    Every refusal runs the same one UPDATE that matches no row, so they cannot be told
    apart, and the UPDATE … WHERE used_at IS NULL lets one request only win a code. The
    caller commits before sending the first byte.
    """
    presented = code_hash(code)
    now = utcnow()
    used = session.execute(
        update(TransferCode)
        .where(
            TransferCode.code_hash == presented,
            TransferCode.used_at.is_(None),
            TransferCode.revoked_at.is_(None),
            TransferCode.expires_at > now,
        )
        .values(used_at=now, used_from=(address or "")[:64] or None)
        .execution_options(synchronize_session=False)
    )
    if rows_changed(used) != 1:
        return None
    row = session.scalars(select(TransferCode).where(TransferCode.code_hash == presented)).one()
    # The database found the row by its hash; compare once more without timing leaks.
    if not hmac.compare_digest(row.code_hash, presented):  # pragma: no cover - defensive
        return None
    account = session.get(Account, row.account_id)
    if account is None:  # pragma: no cover - the code goes with its account (cascade)
        return None
    audit.record(
        session,
        "export.transferred",
        account_id=account.id,
        actor_id=None,
        code=row.id,
        address=address,
        client=(client or "")[:200] or None,
    )
    return account


class TransferCodesSection:
    """The codes' share of the panel's data: exported (when, until when, used by which
    address; never the code) and deleted with the account."""

    name = "transfer-codes"

    def inventory(self, session: Session, account: Account) -> list[DataItem]:
        return [
            DataItem(
                service="panel",
                kind=_(
                    "Transfer codes you created: when, until when, and the address of the "
                    "server that used each one (never the code itself)"
                ),
                location=_("The panel's database"),
                retention=_("Until your account is deleted"),
                exported=True,
            )
        ]

    def export(self, session: Session, account: Account) -> Iterator[ArchiveEntry]:
        rows = session.scalars(
            select(TransferCode)
            .where(TransferCode.account_id == account.id)
            .order_by(TransferCode.created_at, TransferCode.id)
        )
        data = [
            {
                "created_at": r.created_at.isoformat(),
                "expires_at": r.expires_at.isoformat(),
                "revoked_at": r.revoked_at.isoformat() if r.revoked_at else None,
                "used_at": r.used_at.isoformat() if r.used_at else None,
                "used_from": r.used_from,
            }
            for r in rows
        ]
        if not data:
            return
        yield ArchiveEntry(
            path="transfer-codes.json",
            chunks=[json_bytes(data)],
            format="JSON",
            description=_("The transfer codes you created, and which server used them."),
        )

    def delete(self, session: Session, account: Account) -> None:
        session.execute(delete(TransferCode).where(TransferCode.account_id == account.id))
