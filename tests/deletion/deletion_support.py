"""Helpers of the deletion tests: a files-like connector and request factories."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select

from app.accounts.models import Account
from app.accounts.services import sync_account
from app.connectors.base import ConnectorError, StepResult, service_connectors
from app.db import session_scope
from app.deletion import pipeline, requests, steps
from app.deletion.models import DeletionRequest, DeletionStep
from app.directory import Person
from app.profile.loading import current_profile

PAGE_URL = "http://panel.test/account/deletion"


class FolderConnector:
    """Like the `files` connector: a person's data is the folder <root>/<uid>; delete removes it.

    The real `files` connector comes from the export branch; this stand-in keeps the tests
    of the deletion pipeline independent of it.
    """

    def __init__(self, slug: str, root: Path) -> None:
        self.slug = slug
        self.root = root
        self.calls: list[str] = []
        self.lock = threading.Lock()
        self.fail_with: str | None = None
        self.block: threading.Event | None = None
        self.pause = 0.0

    def folder(self, uid: str) -> Path:
        return self.root / uid

    def inventory(self, person: Person) -> list[Any]:
        return []

    def export(self, person: Person) -> Iterator[Any]:
        return iter(())

    def delete(self, person: Person) -> StepResult:
        with self.lock:
            self.calls.append(person.uid)
        if self.block is not None:
            self.block.wait(30)
        if self.pause:
            threading.Event().wait(self.pause)
        if self.fail_with:
            raise ConnectorError(self.fail_with)
        target = self.folder(person.uid)
        if not target.exists():
            return StepResult(ok=True, detail=f"{target} was already empty.")
        count = sum(1 for p in target.rglob("*") if p.is_file())
        shutil.rmtree(target)
        return StepResult(
            ok=True,
            detail=f"{count} files removed from {target}.",
            kept=("Backups keep the files 30 days more.",),
        )


def connector(app: Flask, slug: str = "cloud") -> FolderConnector:
    found = service_connectors(app)[slug]
    assert isinstance(found, FolderConnector)
    return found


def give_files(app: Flask, uid: str, slug: str = "cloud") -> Path:
    folder = connector(app, slug).folder(uid)
    (folder / "photos").mkdir(parents=True, exist_ok=True)
    (folder / "notes.txt").write_text("my notes")
    (folder / "photos" / "cat.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    return folder


def open_request(app: Flask, uid: str) -> int:
    """Mirror the person (as a sign-in would) and ask for deletion; returns the request id."""
    with app.test_request_context(), session_scope(app) as session:
        person = app.extensions["panel_directory"].lookup(uid)
        assert person is not None, uid
        account = sync_account(session, person, is_staff=False)
        req = requests.request_deletion(
            session,
            account,
            confirm_login=uid,
            plan=requests.plan_services(current_profile(), service_connectors(app)),
            settings=requests.DeletionSettings.from_config(app.config),
            page_url=PAGE_URL,
        )
        return req.id


def approve(app: Flask, request_id: int, actor_id: int | None = None) -> None:
    with app.app_context(), session_scope(app) as session:
        req = session.get(DeletionRequest, request_id)
        assert req is not None
        requests.approve_deletion(session, req, actor_id=actor_id)


def run(app: Flask, request_id: int, **kw: Any) -> pipeline.RunReport:
    with app.app_context(), session_scope(app) as session:
        return pipeline.run_request(session, app, request_id, **kw)


def load(app: Flask, request_id: int) -> DeletionRequest:
    with session_scope(app) as session:
        req = session.get(DeletionRequest, request_id)
        assert req is not None
        list(req.steps)
        session.expunge_all()
        return req


def steps_by_name(app: Flask, request_id: int) -> dict[str, DeletionStep]:
    return {steps.step_name(s): s for s in load(app, request_id).steps}


def account_of(app: Flask, uid: str) -> Account | None:
    with session_scope(app) as session:
        found = session.scalar(select(Account).where(Account.uid == uid))
        if found is not None:
            session.expunge(found)
        return found
