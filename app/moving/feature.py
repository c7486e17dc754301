"""Start-up of moving house: settings, the worker's tasks, staff queue, section, labels."""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app.accounts.attention import Attention
from app.features import Feature, WorkerTask
from app.moving import DEFAULTS, bp, check_settings, jobs, views  # noqa: F401 - routes
from app.moving.section import ImportsSection
from app.moving.services import active_job, active_job_probe
from app.moving.staff import count_needing_staff
from app.staff import StaffQueue


def waiting_for_person(session: Session, account: Any) -> list[Attention]:
    """The account page's line: an import waiting for her confirmation, or under way."""
    job = active_job(session, account.id)
    if job is None:
        return []
    page = (url_for("moving.job_page", job_id=job.id), _("See the import"))
    if job.state == "planned":
        return [
            Attention(
                _("The plan of your import is ready: nothing is written until you confirm it."),
                link=page,
            )
        ]
    return [Attention(_("Your data from another hoster is being imported."), link=page)]


FEATURE = Feature(
    name="moving",
    settings=DEFAULTS,
    init=check_settings,
    blueprints=(bp,),
    tasks=(WorkerTask(jobs.CHECK, jobs.check_job), WorkerTask(jobs.RUN, jobs.run_job)),
    attention=((waiting_for_person, active_job_probe),),
    panel_sections=lambda _app: (ImportsSection(),),
    staff_queues=(
        StaffQueue(
            label=lambda: str(_("Imports (moving house) in error")),
            count=count_needing_staff,
            endpoint="moving.staff_jobs",
        ),
    ),
    audit_labels={
        "moving.started": _l("Import of your data from another hoster started"),
        "moving.confirmed": _l("Import plan confirmed"),
        "moving.cancelled": _l("Import cancelled"),
        "moving.retried": _l("Import tried again by the team"),
        "moving.done": _l("Import finished"),
        "moving.failed": _l("Import stopped by an error"),
    },
)
