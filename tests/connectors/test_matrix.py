"""The `matrix` connector against a real Synapse (SQLite), through its admin API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from connectors.conftest import build, collect, person

import connector_servers as servers
from app.connectors import matrix
from app.connectors.base import ConnectorError
from app.connectors.matrix import MatrixConnector
from app.profile.model import ProfileError

PICTURE = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40


@pytest.fixture
def token_file(synapse: servers.Synapse, tmp_path: Path) -> Path:
    path = tmp_path / "synapse.token"
    path.write_text(synapse.admin_token + "\n")
    return path


def connector(server: servers.Synapse, token_file: Path, **kw: Any) -> MatrixConnector:
    options = {"url": server.url, "user_id": f"@{{uid}}:{servers.SYNAPSE_SERVER_NAME}",
               "token_file": str(token_file), **kw}  # fmt: skip
    chat: MatrixConnector = build(matrix, "chat", options)
    return chat


def test_export_holds_profile_devices_rooms_settings_and_the_media_files(
    synapse: servers.Synapse, token_file: Path
) -> None:
    room = servers.seed_matrix(synapse, "mexport", PICTURE)
    files, skipped = collect(connector(synapse, token_file).export(person("mexport")))
    assert skipped == {}
    profile = json.loads(files["services/chat/profile.json"])
    assert profile["name"] == "@mexport:test.local"
    rooms = json.loads(files["services/chat/rooms.json"])
    assert [(r["room_id"], r["name"]) for r in rooms] == [(room, "Garden of mexport")]
    settings = json.loads(files["services/chat/account_data.json"])
    assert settings["account_data"]["global"]["org.example.theme"] == {"dark": True}
    assert len(json.loads(files["services/chat/devices.json"])["devices"]) == 1
    connections = json.loads(files["services/chat/connections.json"])
    assert connections["user_id"] == "@mexport:test.local"
    assert "127.0.0.1" in json.dumps(connections["devices"])
    assert json.loads(files["services/chat/pushers.json"])["total"] == 0
    media = [p for p in files if p.startswith("services/chat/media/")]
    assert len(media) == 1 and media[0].endswith("-photo été.png")
    assert files[media[0]] == PICTURE


def test_inventory_counts_rooms_and_media(synapse: servers.Synapse, token_file: Path) -> None:
    servers.seed_matrix(synapse, "minventory")
    kinds = [i.kind for i in connector(synapse, token_file).inventory(person("minventory"))]
    assert kinds == [
        "Your Matrix account: profile, devices and settings",
        "1 room you joined",
        "1 file you sent",
    ]
    assert connector(synapse, token_file).inventory(person("nobody")) == []


def test_delete_erases_the_account_and_its_media_on_synapse(
    synapse: servers.Synapse, token_file: Path
) -> None:
    servers.seed_matrix(synapse, "mdelete")
    user = synapse.user_id("mdelete")
    media_id = servers.synapse_admin_get(synapse, f"/v1/users/{user}/media").json()["media"][0][
        "media_id"
    ]
    result = connector(synapse, token_file).delete(person("mdelete"))
    assert result.ok, result.detail
    assert "1 media files deleted" in result.detail
    assert any("stays reserved" in k for k in result.kept)
    account = servers.synapse_admin_get(synapse, f"/v2/users/{user}").json()
    assert account["deactivated"] is True and account["erased"] is True
    assert servers.synapse_admin_get(synapse, f"/v1/users/{user}/media").json()["total"] == 0
    assert servers.synapse_admin_get(synapse, f"/v1/media/test.local/{media_id}").status_code == 404
    again = connector(synapse, token_file).delete(person("mdelete"))
    assert again.ok, again.detail


def test_someone_without_a_matrix_account_has_nothing_to_export_or_delete(
    synapse: servers.Synapse, token_file: Path
) -> None:
    chat = connector(synapse, token_file)
    assert collect(chat.export(person("nobody"))) == ({}, {})
    assert chat.delete(person("nobody")).ok


def test_a_token_that_is_not_an_admins_is_refused(synapse: servers.Synapse, tmp_path: Path) -> None:
    plain = tmp_path / "plain.token"
    plain.write_text(synapse.register("mplain"))
    chat = connector(synapse, plain)
    with pytest.raises(ConnectorError, match="refused the panel's credentials"):
        list(chat.export(person("mplain")))
    with pytest.raises(ConnectorError):
        chat.check()
    result = chat.delete(person("mplain"))
    assert not result.ok and "HTTP 403" in result.detail


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"token_env": "HOME", "user_id": "@{uid}:x"}, "connector.url is missing"),
        ({"url": "https://x", "token_env": "HOME"}, "connector.user_id is missing"),
        ({"url": "https://x", "token_env": "HOME", "user_id": "{uid}"},
         "connector.user_id must look like"),
        ({"url": "https://x", "user_id": "@{uid}:x"}, "connector.token_file is missing"),
        ({"url": "https://x", "user_id": "@{uid}:x", "token_env": "HOME", "erase": False},
         "erase is not a known key"),
    ],
)  # fmt: skip
def test_options_are_checked_at_start_with_the_key_named(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ProfileError) as caught:
        build(matrix, "chat", options)
    assert message in str(caught.value)
