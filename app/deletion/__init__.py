"""Permanent account deletion: the user's request, the staff pipeline, the cron command."""

from __future__ import annotations

from flask import Blueprint, Flask

import config as panel_config

bp = Blueprint("deletion", __name__)

SETTINGS = {
    "DELETION_GRACE_DAYS": 7,
    "DELETION_APPROVAL": "staff",
    "DELETION_CONNECTOR_TIMEOUT": 600,
    "DELETION_DEADLINE_DAYS": 30,
}


def check_settings(app: Flask) -> None:
    """Refuse to start with settings the pipeline cannot work with, in one sentence."""
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
