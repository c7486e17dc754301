"""Support's settings (SUPPORT_*), its limits, and the errors its services raise."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_BODY_BYTES = 100 * 1024
MAX_SUBJECT_CHARS = 200
PAGE_SIZE = 25
COUNT_CAP = 1000
NEEDS_STAFF = ("new", "waiting_staff")
OPEN_STATES = ("new", "waiting_staff", "waiting_user")


@dataclass(frozen=True)
class SupportSettings:
    """The SUPPORT_* settings, read once from the app config by the caller."""

    max_files: int = 3
    max_file_bytes: int = 5 * 1024 * 1024
    allowed_types: tuple[str, ...] = ()
    staff_email: str | None = None
    mail_include_text: bool = False
    auto_close_days: int = 14
    staff_mail_group_minutes: int = 10

    @classmethod
    def from_config(cls, config: Any) -> SupportSettings:
        return cls(
            max_files=int(config["SUPPORT_ATTACHMENT_MAX_FILES"]),
            max_file_bytes=int(config["SUPPORT_ATTACHMENT_MAX_BYTES"]),
            allowed_types=tuple(config["SUPPORT_ATTACHMENT_TYPES"]),
            staff_email=config.get("SUPPORT_STAFF_EMAIL") or None,
            mail_include_text=bool(config["SUPPORT_MAIL_INCLUDE_TEXT"]),
            auto_close_days=int(config["SUPPORT_AUTO_CLOSE_DAYS"]),
            staff_mail_group_minutes=int(config["SUPPORT_STAFF_MAIL_GROUP_MINUTES"]),
        )


class SupportError(Exception):
    """A request the panel refuses; `errors` maps form field names to messages."""

    def __init__(self, errors: dict[str, list[Any]]) -> None:
        super().__init__("; ".join(str(m) for msgs in errors.values() for m in msgs))
        self.errors = errors


class TicketNotFound(Exception):
    """No such ticket for this person (foreign ids look exactly like missing ones)."""
