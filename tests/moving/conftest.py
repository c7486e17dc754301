"""Fixtures of the moving-house tests (helpers live in moving_support.py)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from helpers import do_login, profile_without_local_servers

STAMP = 1_700_000_000


@pytest.fixture
def files_root(tmp_path: Path) -> Path:
    root = tmp_path / "old-cloud"
    root.mkdir()
    return root


@pytest.fixture
def write_file(files_root: Path) -> Callable[..., Path]:
    def write(uid: str, relative: str, content: bytes = b"hello\n") -> Path:
        path = files_root / uid / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        os.utime(path, (STAMP, STAMP))
        return path

    return write


@pytest.fixture
def app(make_app: Callable[..., Flask], tmp_path: Path, files_root: Path) -> Flask:
    """The demo panel, its cloud (files) service's folder in tmp; small progress steps."""
    text = profile_without_local_servers().replace(
        'path = "instance/demo-files/{uid}"', f'path = "{files_root}/{{uid}}"'
    )
    hoster = tmp_path / "hoster.toml"
    hoster.write_text(text, encoding="utf-8")
    return make_app(
        HOSTER_FILE=str(hoster),
        MOVING_UPLOAD_DIR=str(tmp_path / "uploads"),
        MOVING_PROGRESS_ITEMS=2,
    )


@pytest.fixture
def signed_in(client: FlaskClient) -> Callable[[str], FlaskClient]:
    def sign_in(uid: str) -> FlaskClient:
        response = do_login(client, uid, "demo")
        assert response.status_code == 302
        return client

    return sign_in


@pytest.fixture
def fresh_reauth(client: FlaskClient) -> Callable[[], None]:
    def mark() -> None:
        from app.db import utcnow

        with client.session_transaction() as session:
            session["reauth_at"] = utcnow().isoformat()

    return mark
