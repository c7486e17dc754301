"""Start-up of the public disclosures: closing notices, staff queue, CLI, daily tasks."""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from app.disclosure import SETTINGS, bp, checker, publication, views  # noqa: F401 - routes
from app.disclosure.checker import FetchError
from app.disclosure.cli import chatonsinfos_group, closing_group, refresh, remind
from app.disclosure.closing import ClosingMailSection, notices
from app.features import Feature, WorkerTask
from app.profile.loading import current_profile
from app.staff import StaffQueue
from app.tasks import crontab

log = logging.getLogger("app.disclosure")


def _daily_federation(app: Flask) -> None:
    try:
        refresh(app)
    except FetchError as exc:  # the last good cache stays
        log.warning("federation file not read: %s", exc)


def _daily_reminders(app: Flask) -> None:
    remind(app)


def _own_file_errors(session: Session) -> int:
    """Errors the federation's crawler would find in our own files (0 when all is well)."""
    start = current_app.url_for("hosting.organization_properties", _external=True)
    return checker.count(checker.crawl(start, publication.own_fetcher(session)))[0]


def closing_context() -> dict[str, object]:
    profile = current_profile()
    today = datetime.now(ZoneInfo(profile.timezone)).date()
    return {"closing_notices": notices(profile, today)}


def _init(app: Flask) -> None:
    app.context_processor(closing_context)


FEATURE = Feature(
    name="hosting",
    settings=SETTINGS,
    init=_init,
    blueprints=(bp,),
    commands=(chatonsinfos_group, closing_group),
    tasks=(
        WorkerTask("chatonsinfos.federation", _daily_federation, crontab(minute="17", hour="4")),
        WorkerTask("closing.reminders", _daily_reminders, crontab(minute="0", hour="9")),
    ),
    staff_queues=(
        StaffQueue(
            label=lambda: str(_("Errors in our ChatonsInfos files")),
            count=_own_file_errors,
            endpoint="hosting.staff_federation",
        ),
    ),
    panel_sections=lambda _app: (ClosingMailSection(),),
)
