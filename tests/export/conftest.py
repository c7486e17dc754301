"""Fixtures of the export tests: a hoster.toml with real folders, downloads as ZipFile."""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from helpers import csrf_token, profile_without_local_servers

STAMP = 1_700_000_000  # 2023-11-14T22:13:20Z, a fixed modification time
HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """ZIP64 tests stream gigabytes: they run in CI and when asked for (`pytest -m slow`)."""
    if "slow" in (config.getoption("markexpr") or "") or os.environ.get("CI"):
        return
    skip = pytest.mark.skip(reason="streams gigabytes: run with pytest -m slow tests/export")
    for item in items:
        if "slow" in item.keywords and HERE in Path(str(item.path)).parents:
            item.add_marker(skip)


@pytest.fixture
def files_root(tmp_path: Path) -> Path:
    root = tmp_path / "cloud-data"
    root.mkdir()
    return root


@pytest.fixture
def write_file(files_root: Path) -> Callable[..., Path]:
    """write_file("alice", "Documents/a.txt", b"...") in the cloud folder of alice."""

    def write(uid: str, relative: str, content: bytes = b"hello\n", mtime: int = STAMP) -> Path:
        path = files_root / uid / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        os.utime(path, (mtime, mtime))
        return path

    return write


@pytest.fixture
def hoster_file(tmp_path: Path, files_root: Path) -> Callable[..., Path]:
    """The demo hoster.toml with the cloud folder in tmp, plus extra [[services]] blocks."""

    def write(extra: str = "") -> Path:
        text = profile_without_local_servers().replace(
            'path = "instance/demo-files/{uid}"', f'path = "{files_root}/{{uid}}"'
        )
        path = tmp_path / "hoster.toml"
        path.write_text(text + "\n" + extra, encoding="utf-8")
        return path

    return write


@pytest.fixture
def app(make_app: Callable[..., Flask], hoster_file: Callable[..., Path]) -> Flask:
    """The demo panel, its cloud service's folder in tmp (client, live_server use it)."""
    return make_app(HOSTER_FILE=str(hoster_file()))


@dataclass
class FakeEntryPoint:
    name: str
    factory: Any

    def load(self) -> Any:
        return self.factory


@pytest.fixture
def plugins(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Third-party connector types, as if installed under `chatons_panel.connectors`."""
    from app.connectors import registry

    found: dict[str, Any] = {}

    def entry_points(group: str) -> list[FakeEntryPoint]:
        assert group == "chatons_panel.connectors"
        return [FakeEntryPoint(name, factory) for name, factory in found.items()]

    monkeypatch.setattr(registry, "entry_points", entry_points)
    return found


@dataclass
class Download:
    response: Any
    body: bytes

    @property
    def zip(self) -> zipfile.ZipFile:
        return zipfile.ZipFile(io.BytesIO(self.body))

    def manifest(self) -> dict[str, Any]:
        import json

        return dict(json.loads(self.zip.read("manifest.json")))

    def service(self, slug: str) -> dict[str, Any]:
        return next(s for s in self.manifest()["services"] if s["service"] == slug)

    def text(self, name: str) -> str:
        return self.zip.read(name).decode("utf-8")


@pytest.fixture
def sign_in() -> Callable[[FlaskClient, str], FlaskClient]:
    from helpers import do_login

    def login(client: FlaskClient, uid: str) -> FlaskClient:
        response = do_login(client, uid, "demo")
        assert response.status_code == 302
        return client

    return login


@pytest.fixture
def download() -> Callable[[FlaskClient], Download]:
    """POST the export form as a browser would and read the whole streamed body."""

    def fetch(client: FlaskClient) -> Download:
        token = csrf_token(client, "/account/export")
        response = client.post("/account/export", data={"csrf_token": token})
        assert response.status_code == 200, response.status_code
        return Download(response, response.get_data())

    return fetch
