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
    # Transfer codes (another panel downloads the export once, server to server):
    # requests to /account/export/transfer per client address, and how long a code lasts.
    "TRANSFER_LIMIT": "10 per hour",
    "TRANSFER_CODE_HOURS": 24,
}


def init_app(app: Flask) -> None:
    from app import audit
    from app.accounts.attention import register_attention
    from app.connectors import registry
    from app.connectors.base import register_panel_section
    from app.export import cli, transfer, transfer_views, views  # noqa: F401 - routes
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
    register_panel_section(app, transfer.TransferCodesSection())
    register_attention(app, transfer_views.codes_waiting, transfer.valid_code_probe)
    audit.register_labels(
        {
            "export.downloaded": _l("Downloaded a copy of all your data"),
            "export.transfer_code_created": _l("Created a transfer code for another panel"),
            "export.transfer_code_revoked": _l("Revoked a transfer code"),
            "export.transferred": _l("Another panel downloaded your data with a transfer code"),
        }
    )
