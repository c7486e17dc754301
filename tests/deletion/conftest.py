"""Fixtures of the deletion tests (helpers live in deletion_support.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from deletion.deletion_support import FolderConnector
from flask import Flask

from app.connectors.base import register_connector


@pytest.fixture
def make_deletion_app(make_app: Callable[..., Flask], tmp_path: Path) -> Callable[..., Flask]:
    """An app with folder connectors registered for the given service slugs."""

    def build(connectors: tuple[str, ...] = ("cloud",), **config: Any) -> Flask:
        config.setdefault("DELETION_GRACE_DAYS", 0)
        app = make_app(**config)
        for slug in connectors:
            root = tmp_path / f"files-{slug}"
            root.mkdir(exist_ok=True)
            register_connector(app, FolderConnector(slug, root))
        return app

    return build
