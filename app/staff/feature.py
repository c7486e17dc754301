"""Start-up of the staff home, and the outgoing mail's lines on it."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app import mail
from app.features import Feature
from app.staff import StaffQueue, bp

FEATURE = Feature(name="staff", blueprints=(bp,))

# Installed after every feature, so that the mail lines close the staff home's list.
MAIL_FEATURE = Feature(
    name="mail",
    staff_queues=(
        StaffQueue(
            label=lambda: str(_l("Mail not sent yet (SMTP failures)")),
            count=mail.count_unsent,
            endpoint="staff.home",
        ),
        StaffQueue(
            label=lambda: str(_l("Mail that could not be delivered")),
            count=mail.count_dead_letters,
            endpoint="staff.home",
        ),
    ),
)
