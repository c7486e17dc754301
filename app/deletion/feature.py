"""Start-up of deletion: settings, cron command, worker tasks, staff queue, section, labels."""

from __future__ import annotations

from typing import Any

from flask import current_app, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app.accounts.attention import Attention
from app.deletion import SETTINGS, bp, check_settings, jobs, statistics, views  # noqa: F401
from app.deletion.cli import deletions_group
from app.deletion.queue import count_waiting_for_staff
from app.deletion.requests import active_request, active_request_probe, cancellable
from app.deletion.section import DeletionSection
from app.features import Feature, WorkerTask
from app.staff import StaffQueue
from app.tasks import crontab


def waiting_for_person(session: Session, account: Any) -> list[Attention]:
    """The account page's line: a deletion on its way, with its date and a cancel button."""
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


def _count_waiting_for_staff(session: Session) -> int:
    return count_waiting_for_staff(session, int(current_app.config["DELETION_DEADLINE_DAYS"]))


FEATURE = Feature(
    name="deletion",
    settings=SETTINGS,
    init=check_settings,
    blueprints=(bp,),
    commands=(deletions_group,),
    tasks=(
        WorkerTask(jobs.RUN_REQUEST, jobs.run_request_job),
        WorkerTask(jobs.RUN_DUE, jobs.run_due_job, crontab(minute="*/5")),
    ),
    attention=((waiting_for_person, active_request_probe),),
    panel_sections=lambda _app: (DeletionSection(),),
    staff_queues=(
        StaffQueue(
            label=lambda: str(_("Deletion requests waiting for staff")),
            count=_count_waiting_for_staff,
            endpoint="deletion.staff_queue",
        ),
    ),
    statistics=statistics.STATISTICS,
    audit_labels={
        "deletion.requested": _l("Account deletion requested"),
        "deletion.cancelled": _l("Account deletion request cancelled"),
        "deletion.approved": _l("Account deletion approved; processing started"),
        "deletion.refused": _l("Account deletion request refused"),
        "deletion.step_done": _l("A deletion step was completed"),
        "deletion.step_failed": _l("A deletion step failed"),
        "deletion.step_retried": _l("A failed deletion step will be tried again"),
        "deletion.completed": _l("Account deletion completed"),
    },
)
