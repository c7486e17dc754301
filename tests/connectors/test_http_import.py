"""Moving house through the `http` protocol's import operation, against the reference
server in tools/: one PUT a file, written, already there, or refused with a reason."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest
import requests
from connectors.conftest import build, person
from connectors.test_http import SCHEMA

import connector_servers as servers
from app.connectors import http
from app.connectors.http import HttpConnector
from app.connectors.importing import CountingProgress, Importer, ImportItem, ImportPart, Malformed

WHEN = datetime(2021, 9, 1, 8, 0, tzinfo=UTC)


def item(path: str, content: bytes, sha: str | None = None) -> ImportItem:
    return ImportItem(
        name=path,
        key=path,
        size=len(content),
        open=lambda: io.BytesIO(content),
        mtime=WHEN,
        sha256=sha or hashlib.sha256(content).hexdigest(),
    )


def tree(*items: ImportItem | Malformed) -> ImportPart:
    return ImportPart("files", "", list(items), len(items), 0)


def connector_of(server: servers.Process, tmp_path: Path) -> HttpConnector:
    token = tmp_path / "tools.token"
    token.write_text(servers.TOKEN + "\n")
    options = {"url": server.url + "/panel-api", "token_file": str(token)}
    tools: HttpConnector = build(http, "tools", options)
    return tools


@pytest.fixture
def small_reference() -> Iterator[servers.Process]:
    """The reference server with room for 10 000 bytes."""
    server = servers.start_reference("--quota", "10000")
    yield server
    server.cleanup()


def outcomes(progress: CountingProgress) -> list[tuple[str, str, str]]:
    return [(o.item, o.outcome, o.reason) for o in progress.outcomes]


def test_files_come_in_once_with_their_times_and_a_different_one_is_never_replaced(
    reference: servers.Process, tmp_path: Path
) -> None:
    tools = connector_of(reference, tmp_path)
    assert isinstance(tools, Importer) and tools.imports == frozenset({"files"})
    alice = person("alice")
    assert tools.available_bytes(alice) is None  # nothing held yet: the service cannot say
    big = os.urandom(3 * 1024 * 1024 + 5)
    files = [item("notes.txt", b"hello"), item("photos/été/plage.jpg", big)]
    progress = CountingProgress()
    tools.import_(alice, tree(*files), progress)
    assert [o[1] for o in outcomes(progress)] == ["imported", "imported"]
    data = reference.home / "data" / "alice"
    assert (data / "photos/été/plage.jpg").read_bytes() == big
    assert (data / "notes.txt").stat().st_mtime == WHEN.timestamp()
    assert not list(data.glob(".import-*"))

    again = CountingProgress()
    tools.import_(alice, tree(*files), again)
    assert [o[1] for o in outcomes(again)] == ["skipped", "skipped"]

    other = CountingProgress()
    tools.import_(
        alice,
        tree(
            item("notes.txt", b"another text"),
            item("../bob/x.txt", b"x"),
            item("tampered.txt", b"x", sha="00" * 32),
            Malformed("broken.vcf", "invalid contact data"),
        ),
        other,
    )
    assert outcomes(other) == [
        ("notes.txt", "refused", http.IMPORT_CONFLICT),
        ("../bob/x.txt", "refused", http.IMPORT_UNSAFE_PATH),
        ("tampered.txt", "refused", http.IMPORT_REFUSED),
        ("broken.vcf", "refused", "invalid contact data"),
    ]
    assert (data / "notes.txt").read_bytes() == b"hello"
    assert not (data / "tampered.txt").exists()

    # The inventory now says how much room is left, as the schema describes it.
    room = tools.available_bytes(alice)
    assert isinstance(room, int) and room > 0
    auth = {"Authorization": f"Bearer {servers.TOKEN}"}
    document = requests.get(f"{reference.url}/panel-api/users/alice", headers=auth, timeout=5)
    jsonschema.validate(document.json(), {"$defs": SCHEMA["$defs"], "$ref": "#/$defs/inventory"})


def test_a_link_planted_in_the_services_folder_is_not_followed(
    reference: servers.Process, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    data = reference.home / "data" / "alice"
    data.mkdir(parents=True)
    (data / "escape").symlink_to(outside)
    progress = CountingProgress()
    connector_of(reference, tmp_path).import_(
        person("alice"), tree(item("escape/evil.txt", b"x")), progress
    )
    assert outcomes(progress) == [("escape/evil.txt", "refused", http.IMPORT_CONFLICT)]
    assert list(outside.iterdir()) == []


def test_no_room_left_on_the_service_refuses_the_file_and_the_next_still_comes_in(
    small_reference: servers.Process, tmp_path: Path
) -> None:
    tools = connector_of(small_reference, tmp_path)
    progress = CountingProgress()
    tools.import_(
        person("alice"),
        tree(item("big.bin", b"x" * 20_000), item("small.txt", b"fits")),
        progress,
    )
    assert outcomes(progress) == [
        ("big.bin", "refused", http.IMPORT_NO_ROOM),
        ("small.txt", "imported", ""),
    ]
    assert tools.available_bytes(person("alice")) == 10_000 - 4
