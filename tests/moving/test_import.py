"""Importing an export: the plan, a round trip, twice, cancel halfway, resume after a crash."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from email import message_from_bytes
from email.policy import default
from pathlib import Path
from typing import IO, Any

import pytest
from flask import Flask
from moving.moving_support import (
    FakeImporter,
    archive_bytes,
    confirm,
    load_job,
    make_export_zip,
    manifest_for,
    run_import,
    start_upload,
    tree,
    use_importer,
)
from sqlalchemy import update

from app.connectors.importing import ImportItem, Malformed
from app.db import session_scope
from app.moving.models import ImportJob
from app.moving.services import retry_import

FILES = {
    "Documents/notes.md": b"# Notes\n" * 40,
    "Photos/cat.png": b"\x89PNG fake image bytes",
    "deep/a/b/c.txt": b"deep\n",
    "Écrits/lettre été.txt": "Chère Zoé\n".encode(),
}


@pytest.fixture
def exported(app: Flask, signed_in: Any, write_file: Any, tmp_path: Path) -> Path:
    """Alice's real export (her cloud folder holds FILES), as an upload waiting on disk."""
    for name, data in FILES.items():
        write_file("alice", name, data)
    client = signed_in("alice")
    (tmp_path / "uploads").mkdir(exist_ok=True)
    return make_export_zip(client, tmp_path / "uploads" / "export.zip")


def _copy(path: Path, name: str) -> Path:
    copy = path.with_name(name)
    copy.write_bytes(path.read_bytes())
    return copy


def test_the_plan_says_where_each_part_goes_and_writes_nothing(
    app: Flask, exported: Path, tmp_path: Path
) -> None:
    new = FakeImporter("cloud", tmp_path / "new")
    use_importer(app, new)
    job = load_job(app, start_upload(app, "alice", exported))
    assert job.state == "planned", (job.error, job.error_values)
    by_source = {p.source_service: p for p in job.parts}
    cloud = by_source["cloud"]
    assert (cloud.kind, cloud.service_slug, cloud.state) == ("files", "cloud", "pending")
    assert cloud.items_total == len(FILES)
    assert cloud.bytes_total == sum(len(d) for d in FILES.values())
    assert (
        by_source["panel"].state == "left" and "old panel's own records" in by_source["panel"].note
    )
    assert by_source["directory"].state == "left"
    assert job.items_total == len(FILES)
    assert new.written == [] and not (tmp_path / "new").exists()
    assert exported.exists(), "the archive waits for her confirmation"


def test_round_trip_brings_every_file_with_its_checksum_then_twice_writes_nothing(
    app: Flask, exported: Path, files_root: Path, tmp_path: Path
) -> None:
    second = _copy(exported, "again.zip")
    new = FakeImporter("cloud", tmp_path / "new")
    use_importer(app, new)
    job_id = start_upload(app, "alice", exported)
    confirm(app, job_id)
    job = run_import(app, job_id)
    assert job.state == "done", (job.error, [p.error for p in job.parts])
    assert tree(tmp_path / "new" / "files") == tree(files_root / "alice")
    cloud = next(p for p in job.parts if p.service_slug == "cloud")
    assert (cloud.imported, cloud.skipped, cloud.refused) == (len(FILES), 0, 0)
    assert job.items_done == len(FILES)
    assert job.archive_path is None and not exported.exists()

    again = start_upload(app, "alice", second)
    confirm(app, again)
    job = run_import(app, again)
    cloud = next(p for p in job.parts if p.service_slug == "cloud")
    assert (job.state, cloud.imported, cloud.skipped) == ("done", 0, len(FILES))
    assert len(new.written) == len(FILES), "the second import wrote nothing"


def test_she_gets_a_mail_in_her_language_when_it_is_done(
    app: Flask, exported: Path, tmp_path: Path
) -> None:
    use_importer(app, FakeImporter("cloud", tmp_path / "new"))
    job_id = start_upload(app, "alice", exported)
    confirm(app, job_id)
    run_import(app, job_id)
    sent = [
        message_from_bytes(p.read_bytes(), policy=default)
        for p in (tmp_path / "mail").glob("*.eml")
    ]
    mine = [m for m in sent if m["To"] == "alice@demo.chatons.org"]
    assert mine, [m["Subject"] for m in sent]
    assert "importées" in str(mine[-1]["Subject"])
    body = mine[-1].get_content()
    assert f"/account/import/{job_id}" in body
    assert "4 importé" in body


class CancelAfter(FakeImporter):
    """The person presses "cancel" while the first items are written."""

    def __init__(self, app: Flask, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.app = app
        self.job_id = 0

    def import_(self, person: Any, part: Any, progress: Any) -> None:
        class Watch:
            def done(inner, item: Any, outcome: Any, reason: str = "") -> None:
                progress.done(item, outcome, reason)
                if len(self.written) == 1:
                    with session_scope(self.app) as session:
                        session.execute(
                            update(ImportJob)
                            .where(ImportJob.id == self.job_id)
                            .values(cancel_requested=True)
                        )

        super().import_(person, part, Watch())


def test_cancel_halfway_keeps_what_was_written_and_the_report_says_so(
    app: Flask, exported: Path, tmp_path: Path
) -> None:
    new = CancelAfter(app, "cloud", tmp_path / "new")
    use_importer(app, new)
    job_id = start_upload(app, "alice", exported)
    new.job_id = job_id
    confirm(app, job_id)
    job = run_import(app, job_id)
    assert job.state == "cancelled"
    cloud = next(p for p in job.parts if p.service_slug == "cloud")
    assert cloud.state == "cancelled"
    assert cloud.imported == 2 and len(new.written) == 2
    assert len(tree(tmp_path / "new")) == 2, "what was imported stays"
    assert not exported.exists(), "the archive is deleted when cancelled"


def test_a_job_killed_halfway_resumes_with_no_duplicates(
    app: Flask, exported: Path, tmp_path: Path
) -> None:
    new = FakeImporter("cloud", tmp_path / "new", stop_after=2)
    use_importer(app, new)
    job_id = start_upload(app, "alice", exported)
    confirm(app, job_id)
    job = run_import(app, job_id)
    assert job.state == "failed" and exported.exists(), "kept for a retry"
    cloud = next(p for p in job.parts if p.service_slug == "cloud")
    assert cloud.state == "failed" and "RuntimeError" in str(cloud.error_values)
    assert len(new.written) == 2

    with app.app_context(), session_scope(app) as session:
        row = session.get(ImportJob, job_id)
        assert row is not None
        retry_import(session, row, actor_id=row.account_id)
    job = run_import(app, job_id)
    assert job.state == "done"
    assert sorted(new.written) == sorted(set(new.written)) and len(new.written) == len(FILES)
    cloud = next(p for p in job.parts if p.service_slug == "cloud")
    assert (cloud.imported, cloud.skipped) == (len(FILES) - 2, 2)
    assert job.items_done == len(FILES)
    assert tree(tmp_path / "new" / "files") == {
        k: v for k, v in tree(exported.parent.parent / "old-cloud" / "alice").items()
    }


def test_an_import_too_big_for_the_room_left_is_refused_before_anything_is_written(
    app: Flask, exported: Path, tmp_path: Path
) -> None:
    new = FakeImporter("cloud", tmp_path / "new", room=10)
    use_importer(app, new)
    job = load_job(app, start_upload(app, "alice", exported))
    assert job.state == "failed"
    assert job.error is not None and "larger than the room left" in job.error
    assert new.written == [] and not exported.exists()


def test_without_a_service_taking_a_kind_the_plan_says_so(
    app: Flask, exported: Path, tmp_path: Path
) -> None:
    use_importer(app, FakeImporter("cloud", tmp_path / "new", imports=frozenset({"mail"})))
    job = load_job(app, start_upload(app, "alice", exported))
    cloud = next(p for p in job.parts if p.source_service == "cloud")
    assert cloud.state == "left" and cloud.note == "No service here takes %(what)s."
    assert cloud.note_values == {"what": "files"}


# Mail through a reader (the real one is app/moving/readers/mbox.py, merged separately) ----


def _fake_read_mbox(stream: IO[bytes], folder: str) -> Iterator[ImportItem | Malformed]:
    text = stream.read()
    for n, chunk in enumerate(text.split(b"\n\nFrom ")):
        if b"Message-ID" not in chunk:
            yield Malformed(f"{folder} #{n + 1}", "a message without headers")
            continue
        key = chunk.split(b"Message-ID: ", 1)[1].split(b"\n", 1)[0].decode()
        yield ImportItem(name=f"{folder} #{n + 1}", key=key, size=len(chunk), data=chunk)


@pytest.fixture
def fake_mbox_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("app.moving.readers.mbox")
    module.read_mbox = _fake_read_mbox  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "app.moving.readers.mbox", module)
    import app.moving.readers as readers

    monkeypatch.setattr(readers, "mbox", module, raising=False)


MBOX = (
    b"From a@x Mon Jan  1 00:00:00 2024\nMessage-ID: <1@x>\n\nHi\n\n"
    b"From b@x Mon Jan  1 00:00:00 2024\nMessage-ID: <2@x>\n\nHo\n\n"
    b"From c@x Mon Jan  1 00:00:00 2024\nbroken\n"
)


def test_mail_folders_go_to_the_service_taking_mail_and_bad_messages_are_named(
    app: Flask, signed_in: Any, tmp_path: Path, fake_mbox_reader: None
) -> None:
    signed_in("alice")
    mail = FakeImporter("mail", tmp_path / "mailbox", imports=frozenset({"mail"}))
    use_importer(app, mail)
    files = {"services/oldmail/Archives/2024.mbox": MBOX, "services/chat/rooms.json": b"[]"}
    manifest = manifest_for(
        files,
        services=[
            {"service": "oldmail", "connector": "imap"},
            {"service": "chat", "connector": "matrix"},
        ],
    )
    (tmp_path / "uploads").mkdir()
    archive = tmp_path / "uploads" / "mail.zip"
    archive.write_bytes(archive_bytes(files, manifest=manifest))
    job = load_job(app, start_upload(app, "alice", archive))
    assert job.state == "planned", (job.error, job.error_values)
    folder = next(p for p in job.parts if p.kind == "mail")
    assert (folder.name, folder.service_slug, folder.items_total) == ("Archives/2024", "mail", 3)
    chat = next(p for p in job.parts if p.source_service == "chat")
    assert chat.state == "left" and chat.note is not None and "Chat history" in chat.note
    confirm(app, job.id)
    job = run_import(app, job.id)
    folder = next(p for p in job.parts if p.kind == "mail")
    assert (folder.imported, folder.refused) == (2, 1)
    assert folder.refusals == [{"item": "Archives/2024 #3", "reason": "a message without headers"}]
    assert job.state == "done"


def test_an_archive_changed_after_its_check_fails_its_part_with_the_reason(
    app: Flask, signed_in: Any, tmp_path: Path
) -> None:
    signed_in("alice")
    new = FakeImporter("cloud", tmp_path / "new")
    use_importer(app, new)
    files = {"services/cloud/a.txt": b"hello\n"}
    (tmp_path / "uploads").mkdir()
    archive = tmp_path / "uploads" / "a.zip"
    archive.write_bytes(archive_bytes(files))
    job_id = start_upload(app, "alice", archive)
    confirm(app, job_id)
    archive.write_bytes(
        archive_bytes({"services/cloud/a.txt": b"HELLO\n"}, manifest=manifest_for(files))
    )
    job = run_import(app, job_id)
    cloud = next(p for p in job.parts if p.service_slug == "cloud")
    assert job.state == "failed" and cloud.state == "failed"
    assert cloud.error is not None and "does not match its checksum" in cloud.error
