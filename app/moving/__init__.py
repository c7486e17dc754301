"""Moving house (#23): bring a person's data in, from an export ZIP or from her old panel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, Flask

bp = Blueprint("moving", __name__)

GIB = 1024**3
# Settings of this feature; each can be overridden (PANEL_MOVING_MAX_ARCHIVE_BYTES=...).
DEFAULTS: dict[str, Any] = {
    # Largest archive accepted (upload or transfer), in bytes.
    "MOVING_MAX_ARCHIVE_BYTES": 20 * GIB,
    # Largest total of the archive's files once expanded, in bytes.
    "MOVING_MAX_EXPANDED_BYTES": 64 * GIB,
    # A file expanding more than this many times its stored size is a zip bomb.
    "MOVING_MAX_RATIO": 200,
    # Most files (and folders) in one archive: checking holds their list in memory
    # (about 1.4 KiB each, measured).
    "MOVING_MAX_FILES": 200_000,
    # Where archives wait while they are checked and imported (default: instance/moving).
    "MOVING_UPLOAD_DIR": None,
    # Progress is written every so many items or seconds, whichever comes first.
    "MOVING_PROGRESS_ITEMS": 200,
    "MOVING_PROGRESS_SECONDS": 2.0,
    # Fetching from an old panel over plain http://, or from a loopback or private address
    # (tests, the demo, two panels on one private network): off in production.
    "MOVING_ALLOW_HTTP": False,
    "MOVING_ALLOW_PRIVATE_ADDRESSES": False,
}


def init_app(app: Flask) -> None:
    """Settings, the worker's tasks, the staff queue, the panel data section, audit labels."""
    from flask_babel import gettext as _
    from flask_babel import lazy_gettext as _l

    import config as panel_config
    from app import audit
    from app.accounts.attention import register_attention
    from app.connectors.base import register_panel_section
    from app.moving import jobs, views  # noqa: F401 - routes
    from app.moving.section import ImportsSection
    from app.moving.services import active_job_probe
    from app.moving.staff import count_needing_staff
    from app.staff import StaffQueue, register_queue

    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)
    if not app.config["MOVING_UPLOAD_DIR"]:
        app.config["MOVING_UPLOAD_DIR"] = str(Path(app.instance_path) / "moving")
    try:
        for key in ("MOVING_MAX_ARCHIVE_BYTES", "MOVING_MAX_EXPANDED_BYTES", "MOVING_MAX_RATIO",
                    "MOVING_MAX_FILES", "MOVING_PROGRESS_ITEMS"):  # fmt: skip
            app.config[key] = int(app.config[key])
            if app.config[key] < 1:
                raise ValueError(key)
        app.config["MOVING_PROGRESS_SECONDS"] = float(app.config["MOVING_PROGRESS_SECONDS"])
    except (TypeError, ValueError) as exc:
        raise panel_config.ConfigError(
            "PANEL_MOVING_MAX_ARCHIVE_BYTES, PANEL_MOVING_MAX_EXPANDED_BYTES, "
            "PANEL_MOVING_MAX_RATIO, PANEL_MOVING_MAX_FILES and PANEL_MOVING_PROGRESS_ITEMS "
            "must be whole numbers "
            "above 0, PANEL_MOVING_PROGRESS_SECONDS a number of seconds."
        ) from exc
    app.register_blueprint(bp)
    jobs.register(app)
    register_attention(app, waiting_for_person, active_job_probe)
    register_panel_section(app, ImportsSection())
    register_queue(
        app,
        StaffQueue(
            label=lambda: str(_("Imports (moving house) in error")),
            count=count_needing_staff,
            endpoint="moving.staff_jobs",
        ),
    )
    audit.register_labels(
        {
            "moving.started": _l("Import of your data from another hoster started"),
            "moving.confirmed": _l("Import plan confirmed"),
            "moving.cancelled": _l("Import cancelled"),
            "moving.retried": _l("Import tried again by the team"),
            "moving.done": _l("Import finished"),
            "moving.failed": _l("Import stopped by an error"),
        }
    )


def waiting_for_person(session: Any, account: Any) -> list[Any]:
    """The account page's line: an import waiting for her confirmation, or under way."""
    from flask import url_for
    from flask_babel import gettext as _

    from app.accounts.attention import Attention
    from app.moving.services import active_job

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
