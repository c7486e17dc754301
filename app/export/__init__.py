"""Export: what the panel holds about me (/account/data) and the streamed ZIP (/account/export)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

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
