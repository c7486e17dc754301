"""Public disclosures rendered from hoster.toml: hosting, services, charter, ChatonsInfos, JSON;
the federation's files, their checker, and the closing plan."""

import logging

from flask import Blueprint, Flask
from sqlalchemy.orm import Session

bp = Blueprint("hosting", __name__)
log = logging.getLogger(__name__)

from app.hosting import views  # noqa: E402,F401

SETTINGS = {
    # The CHATONS federation file (chatons.properties): http(s) address or a local path.
    "FEDERATION_URL": None,
    # Where the CLI keeps what it read of the federation (default: instance/federation.json).
    "FEDERATION_CACHE_FILE": None,
}


def _daily_federation(app: Flask) -> None:
    from app.hosting.checker import FetchError
    from app.hosting.cli import refresh

    try:
        refresh(app)
    except FetchError as exc:  # the last good cache stays
        log.warning("federation file not read: %s", exc)


def _daily_reminders(app: Flask) -> None:
    from app.hosting.cli import remind

    remind(app)


def _own_file_errors(session: Session) -> int:
    """Errors the federation's crawler would find in our own files (0 when all is well)."""
    from flask import current_app

    from app.hosting import checker, publication

    start = current_app.url_for("hosting.organization_properties", _external=True)
    return checker.count(checker.crawl(start, publication.own_fetcher(session)))[0]


def init_app(app: Flask) -> None:
    from flask_babel import gettext as _

    from app import tasks
    from app.connectors.base import register_panel_section
    from app.hosting.cli import chatonsinfos_group, closing_group
    from app.hosting.closing import ClosingMailSection
    from app.staff import StaffQueue, register_queue

    for key, value in SETTINGS.items():
        app.config.setdefault(key, value)
    app.register_blueprint(bp)

    @app.context_processor
    def closing_context() -> dict[str, object]:
        from datetime import datetime
        from zoneinfo import ZoneInfo

        from app.hoster.profile import current_profile
        from app.hosting.closing import notices

        profile = current_profile()
        today = datetime.now(ZoneInfo(profile.timezone)).date()
        return {"closing_notices": notices(profile, today)}

    register_queue(
        app,
        StaffQueue(
            label=lambda: str(_("Errors in our ChatonsInfos files")),
            count=_own_file_errors,
            endpoint="hosting.staff_federation",
        ),
    )
    register_panel_section(app, ClosingMailSection())
    app.cli.add_command(chatonsinfos_group)
    app.cli.add_command(closing_group)
    tasks.register_periodic_task(
        app, "chatonsinfos.federation", _daily_federation, tasks.crontab(minute="17", hour="4")
    )
    tasks.register_periodic_task(
        app, "closing.reminders", _daily_reminders, tasks.crontab(minute="0", hour="9")
    )
