"""Permanent account deletion: the user's request, the staff pipeline, the cron command."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Blueprint, Flask

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from app.accounts.attention import Attention

bp = Blueprint("deletion", __name__)

from app.deletion import views  # noqa: E402,F401


def init_app(app: Flask) -> None:
    """Settings, CLI, staff queue line, the panel data section and audit labels."""
    from flask_babel import gettext as _
    from flask_babel import lazy_gettext as _l

    import config as panel_config
    from app import audit
    from app.accounts.attention import register_attention
    from app.connectors.base import register_panel_section
    from app.deletion import jobs
    from app.deletion.cli import register_cli
    from app.deletion.queue import count_waiting_for_staff
    from app.deletion.requests import active_request_probe
    from app.deletion.section import DeletionSection
    from app.staff import StaffQueue, register_queue

    app.config.setdefault("DELETION_GRACE_DAYS", 7)
    app.config.setdefault("DELETION_APPROVAL", "staff")
    app.config.setdefault("DELETION_CONNECTOR_TIMEOUT", 600)
    app.config.setdefault("DELETION_DEADLINE_DAYS", 30)
    try:
        grace = int(app.config["DELETION_GRACE_DAYS"])
        timeout = float(app.config["DELETION_CONNECTOR_TIMEOUT"])
        deadline = int(app.config["DELETION_DEADLINE_DAYS"])
    except (TypeError, ValueError) as exc:
        raise panel_config.ConfigError(
            "PANEL_DELETION_GRACE_DAYS and PANEL_DELETION_DEADLINE_DAYS must be whole numbers "
            "of days, PANEL_DELETION_CONNECTOR_TIMEOUT a number of seconds."
        ) from exc
    if grace < 0 or timeout <= 0 or deadline < 1:
        raise panel_config.ConfigError(
            "PANEL_DELETION_GRACE_DAYS must be 0 or more, PANEL_DELETION_CONNECTOR_TIMEOUT "
            "more than 0 and PANEL_DELETION_DEADLINE_DAYS at least 1."
        )
    if app.config["DELETION_APPROVAL"] not in ("staff", "automatic"):
        raise panel_config.ConfigError("PANEL_DELETION_APPROVAL must be 'staff' or 'automatic'.")

    register_cli(app)
    jobs.register(app)
    register_attention(app, waiting_for_person, active_request_probe)
    register_panel_section(app, DeletionSection())
    register_queue(
        app,
        StaffQueue(
            label=lambda: str(_("Deletion requests waiting for staff")),
            count=lambda session: count_waiting_for_staff(
                session, int(app.config["DELETION_DEADLINE_DAYS"])
            ),
            endpoint="deletion.staff_queue",
        ),
    )
    audit.register_labels(
        {
            "deletion.requested": _l("Account deletion requested"),
            "deletion.cancelled": _l("Account deletion request cancelled"),
            "deletion.approved": _l("Account deletion approved; processing started"),
            "deletion.refused": _l("Account deletion request refused"),
            "deletion.step_done": _l("A deletion step was completed"),
            "deletion.step_failed": _l("A deletion step failed"),
            "deletion.step_retried": _l("A failed deletion step will be tried again"),
            "deletion.completed": _l("Account deletion completed"),
        }
    )


def waiting_for_person(session: Session, account: Any) -> list[Attention]:
    """The account page's line: a deletion on its way, with its date and a cancel button."""
    from flask import url_for
    from flask_babel import format_date
    from flask_babel import gettext as _

    from app.accounts.attention import Attention
    from app.deletion.requests import active_request, cancellable

    req = active_request(session, account.id)
    if req is None:
        return []
    page = (url_for("deletion.request_page"), _("Follow my deletion request"))
    if cancellable(req):
        return [
            Attention(
                _(
                    "Your account and its data will be deleted after %(date)s.",
                    date=format_date(req.grace_until, "long"),
                ),
                link=page,
                action=(url_for("deletion.cancel"), _("Cancel my deletion request")),
            )
        ]
    return [Attention(_("Your account is being deleted."), link=page)]
