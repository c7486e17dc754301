"""Public disclosures rendered from hoster.toml: hosting, services, charter, ChatonsInfos, JSON;
the federation's files, their checker, and the closing plan."""

import logging

from flask import Blueprint, Flask

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


def init_app(app: Flask) -> None:
    from app import tasks
    from app.hosting.cli import chatonsinfos_group, closing_group

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

    app.cli.add_command(chatonsinfos_group)
    app.cli.add_command(closing_group)
    tasks.register_periodic_task(
        app, "chatonsinfos.federation", _daily_federation, tasks.crontab(minute="17", hour="4")
    )
    tasks.register_periodic_task(
        app, "closing.reminders", _daily_reminders, tasks.crontab(minute="0", hour="9")
    )
