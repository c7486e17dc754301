"""Fixtures of the connector tests: real servers on loopback, a person, archive helpers."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from conftest import missing_tool

import connector_servers as servers
from app.connectors.base import Skipped
from app.connectors.options import ConnectorOptions
from app.directory import Person


def person(uid: str = "alice") -> Person:
    return Person(uid=uid, dn=f"uid={uid},ou=people,dc=example,dc=org",
                  display_name=uid.title(), email=f"{uid}@example.org", language="en")  # fmt: skip


def collect(items: Any) -> tuple[dict[str, bytes], dict[str, str]]:
    """Read a connector's export: file contents by path, skipped paths with their reasons."""
    files: dict[str, bytes] = {}
    skipped: dict[str, str] = {}
    for item in items:
        if isinstance(item, Skipped):
            skipped[item.path] = item.reason
        else:
            files[item.path] = b"".join(item.chunks)
    return files, skipped


@pytest.fixture
def reference() -> Iterator[servers.Process]:
    """The http protocol's reference server (tools/), its data folder at home/data."""
    server = servers.start_reference()
    yield server
    server.cleanup()


@pytest.fixture(scope="session")
def radicale() -> Iterator[servers.Process]:
    if not servers.radicale_available():
        missing_tool("Radicale is not installed: pip install -e '.[test]'")
    server = servers.start_radicale()
    yield server
    server.cleanup()


@pytest.fixture(scope="session")
def wsgidav() -> Iterator[servers.Process]:
    if not servers.wsgidav_available():
        missing_tool("wsgidav is not installed: pip install -e '.[test]'")
    server = servers.start_wsgidav()
    yield server
    server.cleanup()


@pytest.fixture(scope="session")
def synapse() -> Iterator[servers.Synapse]:
    """Synapse on SQLite with an admin; started once, it takes seconds (tests/README)."""
    if not servers.synapse_available():
        missing_tool("Synapse is not installed: pip install -e '.[test]'")
    server = servers.start_synapse()
    yield server
    server.cleanup()


def build(module: Any, slug: str, options: dict[str, Any]) -> Any:
    """A connector built from a [services.connector] table as the registry does."""
    service = SimpleNamespace(slug=slug, name=slug.title(), data_location=None, retention=None)
    reader = ConnectorOptions(options, f"services.{slug}.connector")
    connector = module.build(service, reader, None)
    reader.finish()
    return connector
