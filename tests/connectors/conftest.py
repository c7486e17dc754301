"""Fixtures of the connector tests: a real Dovecot and a panel whose `post` service uses it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from app.connectors.imap import encode_mailbox_name
from app.hoster.profile import DEMO_FILE
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
        text = DEMO_FILE.read_text(encoding="utf-8")
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
