"""The hoster's profile for the app: hoster.toml (or the demo) loaded at start-up."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask, current_app

from app.profile.model import HosterProfile, ProfileError
from app.profile.parsing import parse_profile

DEMO_FILE = Path(__file__).resolve().parent / "demo.toml"


def load_profile(path: Path) -> HosterProfile:
    try:
        text = path.read_text(encoding="utf-8")
        updated_at = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except FileNotFoundError as exc:
        raise ProfileError(
            f"{path} does not exist: set PANEL_HOSTER_FILE to your hoster.toml."
        ) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path} is not valid TOML: {exc}") from exc
    try:
        return parse_profile(data, updated_at=updated_at)
    except ProfileError as exc:
        raise ProfileError(f"{path}: {exc}") from exc


def init_app(app: Flask) -> None:
    configured = app.config.get("HOSTER_FILE")
    if configured:
        path = Path(configured)
    else:
        default = Path(app.instance_path) / "hoster.toml"
        if default.exists():
            path = default
        elif app.config["ENV"] == "production":
            raise ProfileError(
                f"{default} does not exist: write your hoster.toml there "
                "(see docs/hoster.example.toml) or set PANEL_HOSTER_FILE."
            )
        else:
            path = DEMO_FILE
    profile = load_profile(path)
    app.extensions["panel_hoster"] = profile
    # The demo's connectors reach servers that may not run here (flask doctor says so).
    app.extensions["panel_hoster_is_demo"] = path.resolve() == DEMO_FILE
    app.config["BABEL_DEFAULT_TIMEZONE"] = profile.timezone
    if profile.organisation.name:
        app.config["HOSTER_NAME"] = profile.organisation.name


def current_profile() -> HosterProfile:
    profile: HosterProfile = current_app.extensions["panel_hoster"]
    return profile
