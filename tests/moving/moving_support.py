"""Helpers of the moving-house tests, meant for reuse with real connectors after merge.

- `make_export_zip(client, uid, path)`: the real export of a person, as she downloads it.
- `start_upload(app, uid, path)` / `run_import(app, job_id)`: what the pages and the worker
  do, without HTTP (the queue runs tasks at once in tests).
- `FakeImporter`: an Importer that writes every part under a folder, idempotent by key.
- `hostile_zip(path, ...)`: hand-made archives with a manifest that matches, or not.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.accounts.models import Account
from app.connectors.base import DataItem, StepResult
from app.connectors.importing import (
    IMPORTED,
    REFUSED,
    SKIPPED,
    ImportItem,
    ImportPart,
    ImportProgress,
    Malformed,
    PartKind,
)
from app.db import session_scope
from app.moving import jobs
from app.moving.models import ImportJob
from app.moving.services import start_import
from helpers import csrf_token


def make_export_zip(client: FlaskClient, path: Path) -> Path:
    """Download the signed-in person's export as a browser does, to `path`."""
    with client.session_transaction() as session:
        from app.db import utcnow

        session["reauth_at"] = utcnow().isoformat()
    token = csrf_token(client, "/account/export")
    response = client.post("/account/export", data={"csrf_token": token})
    assert response.status_code == 200, response.status_code
    path.write_bytes(response.get_data())
    return path


def account_id(app: Flask, uid: str) -> int:
    with session_scope(app) as session:
        found = session.scalar(select(Account.id).where(Account.uid == uid))
        assert found is not None, f"{uid} never signed in"
        return int(found)


def start_upload(app: Flask, uid: str, archive: Path) -> int:
    """An uploaded archive handed to the worker, which checks it and makes the plan."""
    with app.app_context():
        with session_scope(app) as session:
            job = start_import(session, account_id(app, uid), archive=archive)
            job_id = job.id
        jobs.check_job(app, job_id)
    return job_id


def confirm(app: Flask, job_id: int) -> None:
    from app.moving.services import confirm_import

    with app.app_context(), session_scope(app) as session:
        job = session.get(ImportJob, job_id)
        assert job is not None
        confirm_import(session, job)


def run_import(app: Flask, job_id: int) -> ImportJob:
    """What the worker does with a confirmed job; the job as it ended, detached."""
    with app.app_context():
        jobs.run_job(app, job_id)
        return load_job(app, job_id)


def load_job(app: Flask, job_id: int) -> ImportJob:
    with app.app_context(), session_scope(app) as session:
        job = session.get(ImportJob, job_id)
        assert job is not None
        _ = list(job.parts)
        session.expunge_all()
        return job


def use_importer(app: Flask, connector: Any) -> None:
    """Make `connector` the service connector of its slug in this app."""
    app.extensions.setdefault("panel_connectors", {})[connector.slug] = connector


@dataclass
class FakeImporter:
    """Writes each item under `root/<kind>/<part name>/`, matched on its key like a real
    connector: an item already there is skipped. `stop_after` items written, it raises
    (a worker dying halfway), once."""

    slug: str
    root: Path
    imports: frozenset[PartKind] = frozenset({"files"})
    room: int | None = None
    stop_after: int | None = None
    written: list[str] = field(default_factory=list)

    def inventory(self, person: Any) -> list[DataItem]:
        return []

    def export(self, person: Any) -> Iterator[Any]:
        return iter(())

    def delete(self, person: Any) -> StepResult:
        return StepResult(True, "")

    def available_bytes(self, person: Any) -> int | None:
        return self.room

    def _target(self, part: ImportPart, item: ImportItem) -> Path:
        if part.kind == "files":
            return self.root / "files" / item.key
        name = hashlib.sha256(item.key.encode()).hexdigest()[:16]
        return self.root / part.kind / (part.name or "_") / name

    def import_(self, person: Any, part: ImportPart, progress: ImportProgress) -> None:
        for item in part.items:
            if isinstance(item, Malformed):
                progress.done(item, REFUSED, item.reason)
                continue
            target = self._target(part, item)
            if target.exists():
                progress.done(item, SKIPPED)
                continue
            if self.stop_after is not None and len(self.written) >= self.stop_after:
                self.stop_after = None
                raise RuntimeError("worker killed")
            target.parent.mkdir(parents=True, exist_ok=True)
            if item.open is not None:
                with item.open() as stream:
                    data = stream.read()
            else:
                data = item.data or b""
            target.write_bytes(data)
            self.written.append(item.key)
            progress.done(item, IMPORTED)


def tree(root: Path) -> dict[str, str]:
    """Every file under root by relative path, with its SHA-256."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# Hand-made archives ------------------------------------------------------------------------


def manifest_for(files: dict[str, bytes], **extra: Any) -> bytes:
    manifest: dict[str, Any] = {
        "manifest_version": 1,
        "created_at": "2026-12-01T10:00:00+00:00",
        "hoster": "Old",
        "account": "alice",
        "services": [],
        "files": [
            {"path": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
             "format": "", "service": name.split("/")[1] if name.startswith("services/") else ""}
            for name, data in files.items()
        ],
    }  # fmt: skip
    manifest.update(extra)
    return json.dumps(manifest).encode()


def archive_bytes(
    files: dict[str, bytes],
    *,
    manifest: bytes | None = None,
    extra_members: Iterable[tuple[zipfile.ZipInfo | str, bytes]] = (),
    compression: int = zipfile.ZIP_STORED,
    with_manifest: bool = True,
) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        for info, data in extra_members:
            archive.writestr(info, data)
        if with_manifest:
            archive.writestr(
                "manifest.json", manifest if manifest is not None else manifest_for(files)
            )
    return buffer.getvalue()
