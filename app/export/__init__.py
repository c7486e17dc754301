"""Export: what the panel holds about me (/account/data) and the streamed ZIP (/account/export)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask
from flask_babel import lazy_gettext as _l

bp = Blueprint("export", __name__)

# Settings of this feature; each can be overridden like any other (PANEL_EXPORT_LIMIT=...).
DEFAULTS: dict[str, Any] = {
    # Downloads per account (Flask-Limiter syntax); only started downloads count.
    "EXPORT_LIMIT": "5 per hour",
    # Send Content-Length (progress bar) when every size is known beforehand; service files
    # are then stored uncompressed. False deflates text-like service files instead.
    "EXPORT_CONTENT_LENGTH": True,
    # Directory attributes never exported, on top of the secrets app.directory drops.
    "EXPORT_DIRECTORY_DENY": (),
    # Default time limit (seconds) of `command` connectors; a connector can set `timeout`.
    "EXPORT_COMMAND_TIMEOUT": 600,
}


def init_app(app: Flask) -> None:
    from app import audit
    from app.connectors import registry
    from app.export import cli, views  # noqa: F401 - routes
    from app.hoster.profile import HosterProfile

    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)
    deny = app.config["EXPORT_DIRECTORY_DENY"]
    if isinstance(deny, str):
        app.config["EXPORT_DIRECTORY_DENY"] = tuple(a for a in deny.replace(",", " ").split() if a)
    profile: HosterProfile = app.extensions["panel_hoster"]
    registry.init_app(app, profile)
    app.register_blueprint(bp)
    app.cli.add_command(cli.export_group)
    audit.register_labels({"export.downloaded": _l("Downloaded a copy of all your data")})
