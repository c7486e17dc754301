"""Fixtures of the connector tests: real servers on loopback (Dovecot, Radicale, Xandikos,
sabre/dav, Apache mod_dav, wsgidav, Synapse, the http reference server), a person, archive
helpers."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from conftest import missing_tool
from flask import Flask

import connector_servers as servers
from app.connectors.base import Skipped
from app.connectors.imap import encode_mailbox_name
from app.connectors.options import ConnectorOptions
from app.directory import Person
from helpers import profile_without_local_servers
from imap_server import Dovecot, add_messages
from imap_server import dovecot as dovecot
from mail_samples import big_folder, samples

BIG_FOLDER = "Gros dossier"
BIG_BYTES = 100 * 1024 * 1024

MAIL_SERVICE = """
[[services]]
slug = "post"
name = "Mail"
host = "main"
data_location = "server main, Dovecot"
[services.software]
name = "Dovecot"
licence = "MIT"
[services.connector]
{connector}
"""


def toml_table(values: dict[str, Any]) -> str:
    return "\n".join(f"{key} = {json.dumps(value)}" for key, value in values.items())


@pytest.fixture
def imap_app(
    make_app: Callable[..., Flask], tmp_path: Path, dovecot: Dovecot
) -> Callable[..., Flask]:
    """The demo panel plus a `post` service whose connector is this Dovecot."""

    def build(config: dict[str, Any] | None = None, **connector: Any) -> Flask:
        table = dovecot.settings(**connector)
        text = profile_without_local_servers()
        text += MAIL_SERVICE.format(connector=toml_table(table))
        path = tmp_path / "hoster.toml"
        path.write_text(text, encoding="utf-8")
        return make_app(HOSTER_FILE=str(path), **(config or {}))

    return build


def seed(server: Dovecot, user: str) -> dict[str, list[bytes]]:
    """A fresh mailbox with the sample folders; returns what was put in it."""
    server.reset(user)
    content = samples()
    for folder, messages in content.items():
        add_messages(server, user, encode_mailbox_name(folder), messages)
    return content


@pytest.fixture
def alice_mail(dovecot: Dovecot) -> dict[str, list[bytes]]:
    return seed(dovecot, "alice")


@pytest.fixture(scope="session")
def big_mail(dovecot: Dovecot) -> str:
    """bob has a 100 MiB folder (seeded once per session)."""
    dovecot.reset("bob")
    add_messages(dovecot, "bob", encode_mailbox_name(BIG_FOLDER), big_folder(BIG_BYTES))
    return BIG_FOLDER


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


@pytest.fixture
def xandikos() -> Iterator[servers.Process]:
    """A fresh Xandikos whose principal is alice (it has one principal and no sign-in)."""
    if not servers.xandikos_available():
        missing_tool("Xandikos is not installed: apt-get install xandikos")
    server = servers.start_xandikos("alice")
    yield server
    server.cleanup()


@pytest.fixture(params=["basic", "digest"])
def sabredav(request: pytest.FixtureRequest) -> Iterator[servers.Process]:
    """A fresh sabre/dav (php -S) with Basic, then with Digest authentication."""
    if not servers.sabredav_available():
        missing_tool("sabre/dav is missing: apt-get install php-cli php-sabre-dav php-sqlite3")
    server = servers.start_sabredav(request.param)
    yield server
    server.cleanup()


@pytest.fixture(params=["basic", "digest"])
def apache(request: pytest.FixtureRequest) -> Iterator[servers.Process]:
    """A fresh Apache httpd with mod_dav on /files only, Basic then Digest."""
    if not servers.apache_available():
        missing_tool("Apache httpd is not installed: apt-get install apache2")
    server = servers.start_apache(request.param)
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
