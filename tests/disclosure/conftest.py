"""Fixtures of the hosting tests: the demo profile as data, and apps built from variants of it."""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from app.profile.loading import DEMO_FILE


def toml_dumps(data: dict[str, Any]) -> str:
    """A tiny TOML writer for the shapes hoster.toml uses (tables, arrays of tables, scalars)."""
    import json
    from datetime import date

    def scalar(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, list):
            return "[" + ", ".join(scalar(v) for v in value) + "]"
        return json.dumps(value, ensure_ascii=False)

    lines: list[str] = []

    def table(prefix: str, values: dict[str, Any], header: str | None) -> None:
        if header:
            lines.append(header)
        nested = []
        for key, value in values.items():
            if isinstance(value, dict):
                nested.append((key, value, False))
            elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
                nested.append((key, value, True))
            else:
                lines.append(f"{key} = {scalar(value)}")
        for key, value, is_array in nested:
            name = f"{prefix}.{key}" if prefix else key
            if is_array:
                for item in value:
                    table(name, item, f"[[{name}]]")
            else:
                table(name, value, f"[{name}]")

    table("", data, None)
    return "\n".join(lines) + "\n"


@pytest.fixture
def demo_data() -> dict[str, Any]:
    """The demo hoster.toml as a dict, a fresh copy each test may change."""
    return copy.deepcopy(tomllib.loads(DEMO_FILE.read_text(encoding="utf-8")))


@pytest.fixture
def app_with_profile(make_app: Callable[..., Flask], tmp_path: Path) -> Callable[..., Flask]:
    """Build the panel on a hoster.toml written from `data`."""

    def build(data: dict[str, Any], **config: Any) -> Flask:
        path = tmp_path / "hoster.toml"
        path.write_text(toml_dumps(data), encoding="utf-8")
        return make_app(HOSTER_FILE=str(path), **config)

    return build
