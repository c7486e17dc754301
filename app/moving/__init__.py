"""Moving house (#23): bring a person's data in, from an export ZIP or from her old panel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, Flask

import config as panel_config

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


def check_settings(app: Flask) -> None:
    """Default folder, and whole numbers above 0 where the limits need them."""
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
