"""Moving house into the `files` connector: the archive's tree under the person's root,
never through a link, never overwriting a different file, twice without a change."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask_babel import force_locale

from app.connectors import files as files_module
from app.connectors.files import FilesConnector
from app.connectors.importing import (
    CountingProgress,
    ImportCancelled,
    Importer,
    ImportItem,
    ImportPart,
    Malformed,
)
from app.directory import Person

ALICE = Person(uid="alice", dn="uid=alice", display_name="Alice", email=None, language=None)
WHEN = datetime(2022, 5, 1, 12, 0, 30, tzinfo=UTC)


def item(path: str, content: bytes, when: datetime = WHEN, sha: str | None = None) -> ImportItem:
    return ImportItem(
        name=path,
        key=path,
        size=len(content),
        open=lambda: io.BytesIO(content),
        mtime=when,
        sha256=sha or hashlib.sha256(content).hexdigest(),
    )


def tree(*items: ImportItem | Malformed) -> ImportPart:
    return ImportPart(
        "files", "", list(items), len(items), sum(getattr(i, "size", 0) for i in items)
    )


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Iterator[Flask]:
    application = make_app()
    with application.app_context(), force_locale("en"):
        yield application


@pytest.fixture
def connector(tmp_path: Path) -> FilesConnector:
    (tmp_path / "homes").mkdir()
    return FilesConnector(
        "cloud", name="Cloud", path=f"{tmp_path}/homes/{{uid}}", base_dir=tmp_path
    )


def outcomes(progress: CountingProgress) -> list[tuple[str, str, str]]:
    return [(o.item, o.outcome, o.reason) for o in progress.outcomes]


def test_the_tree_comes_in_with_its_folders_and_times_and_twice_changes_nothing(
    app: Flask, connector: FilesConnector, tmp_path: Path
) -> None:
    assert isinstance(connector, Importer) and connector.imports == frozenset({"files"})
    assert (connector.available_bytes(ALICE) or 0) > 0
    big = os.urandom(3 * files_module.CHUNK + 17)  # streamed in chunks
    part = [
        item("notes.txt", b"hello\n"),
        item("photos/2022/été.jpg", big),
        item("vide/", b""),
    ]
    progress = CountingProgress()
    connector.import_(ALICE, tree(*part), progress)
    assert [o[1] for o in outcomes(progress)] == ["imported"] * 3
    root = tmp_path / "homes" / "alice"
    assert (root / "notes.txt").read_bytes() == b"hello\n"
    assert (root / "photos/2022/été.jpg").read_bytes() == big
    assert (root / "photos/2022/été.jpg").stat().st_mtime == WHEN.timestamp()
    assert (root / "vide").is_dir()
    assert not [p for p in root.rglob(".*")]  # no temporary file left

    again = CountingProgress()
    connector.import_(ALICE, tree(*part), again)
    assert [o[1] for o in outcomes(again)] == ["skipped", "skipped", "imported"]
    assert sorted(p.name for p in root.rglob("*")) == [
        "2022",
        "notes.txt",
        "photos",
        "vide",
        "été.jpg",
    ]


def test_a_different_file_at_the_same_path_is_kept_beside_never_overwritten(
    app: Flask, connector: FilesConnector, tmp_path: Path
) -> None:
    root = tmp_path / "homes" / "alice"
    root.mkdir()
    (root / "cv.pdf").write_bytes(b"hers, newer")
    progress = CountingProgress()
    connector.import_(ALICE, tree(item("cv.pdf", b"from the old hoster")), progress)
    assert outcomes(progress) == [("cv.pdf", "imported", files_module.KEPT_BOTH)]
    assert (root / "cv.pdf").read_bytes() == b"hers, newer"
    assert (root / "cv (imported).pdf").read_bytes() == b"from the old hoster"
    again = CountingProgress()
    connector.import_(ALICE, tree(item("cv.pdf", b"from the old hoster")), again)
    assert outcomes(again) == [("cv.pdf", "skipped", "")]


def test_a_link_planted_in_the_root_never_leads_a_write_outside(
    app: Flask, connector: FilesConnector, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"bob's")
    root = tmp_path / "homes" / "alice"
    root.mkdir()
    (root / "escape").symlink_to(outside)
    (root / "secret.txt").symlink_to(outside / "secret.txt")
    progress = CountingProgress()
    connector.import_(
        ALICE,
        tree(
            item("escape/evil.txt", b"x"),
            item("escape/deeper/evil.txt", b"x"),
            item("secret.txt", b"overwritten?"),
            item("../outside/evil.txt", b"x"),
            item("/etc/evil.txt", b"x"),
            item("a/./b.txt", b"x"),
            Malformed("broken.ics", "invalid calendar data"),
            item("ok.txt", b"fine"),
        ),
        progress,
    )
    assert outcomes(progress) == [
        ("escape/evil.txt", "refused", files_module.LINK_IN_THE_WAY),
        ("escape/deeper/evil.txt", "refused", files_module.LINK_IN_THE_WAY),
        ("secret.txt", "refused", files_module.NOT_A_FILE),
        ("../outside/evil.txt", "refused", files_module.UNSAFE_PATH),
        ("/etc/evil.txt", "refused", files_module.UNSAFE_PATH),
        ("a/./b.txt", "refused", files_module.UNSAFE_PATH),
        ("broken.ics", "refused", "invalid calendar data"),
        ("ok.txt", "imported", ""),
    ]
    assert sorted(p.name for p in outside.rglob("*")) == ["secret.txt"]
    assert (outside / "secret.txt").read_bytes() == b"bob's"


def test_a_file_that_does_not_match_its_checksum_is_refused_and_leaves_nothing(
    app: Flask, connector: FilesConnector, tmp_path: Path
) -> None:
    progress = CountingProgress()
    connector.import_(ALICE, tree(item("a.txt", b"tampered", sha="0" * 64)), progress)
    assert outcomes(progress) == [("a.txt", "refused", files_module.CHECKSUM_MISMATCH)]
    assert list((tmp_path / "homes" / "alice").iterdir()) == []


def test_cancelling_stops_after_the_file_being_written(
    app: Flask, connector: FilesConnector, tmp_path: Path
) -> None:
    class Stop(CountingProgress):
        def done(self, item, outcome, reason=""):  # type: ignore[no-untyped-def]
            super().done(item, outcome, reason)
            raise ImportCancelled

    with pytest.raises(ImportCancelled):
        connector.import_(ALICE, tree(item("1.txt", b"1"), item("2.txt", b"2")), Stop())
    assert sorted(p.name for p in (tmp_path / "homes" / "alice").iterdir()) == ["1.txt"]
