"""Issue 8's "done when", through HTTP in demo mode, with every feature's real data and the
real `files` connector: nothing the panel or the services held about the person survives."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import func, select

from app.accounts.models import Account
from app.connectors.base import register_connector
from app.connectors.files import FilesConnector
from app.db import session_scope
from app.deletion.models import DeletionRequest
from app.legal.models import TermsAcceptance
from app.support.models import Ticket
from helpers import csrf_token, do_login

TOKEN = re.compile(r'name="([\w-]*csrf_token)"[^>]*value="([^"]+)"')


def form_token(client, path: str) -> dict[str, str]:
    page = client.get(path).get_data(as_text=True)
    return dict(TOKEN.findall(page)[:1])


def test_request_cancel_request_again_then_staff_delete_everything(make_app, smtp, tmp_path):
    app = make_app(DELETION_GRACE_DAYS=0, SMTP_URL=smtp.url)
    files_root = tmp_path / "cloud"
    register_connector(
        app,
        FilesConnector("cloud", name="Cloud", path="{uid}", base_dir=files_root),
    )
    folder: Path = files_root / "zoe"
    (folder / "Photos").mkdir(parents=True)
    (folder / "Photos" / "chaton.txt").write_text("miaou")
    assert app.test_cli_runner().invoke(args=["terms", "seed-demo"]).exit_code == 0

    zoe = app.test_client()
    assert do_login(zoe, "zoe", "demo").status_code == 302
    assert zoe.get("/").headers["Location"].startswith("/legal/accept")
    page = zoe.get("/legal/accept").get_data(as_text=True)
    versions = re.search(r'name="versions"[^>]*value="([^"]*)"', page).group(1)
    zoe.post(
        "/legal/accept", data={"csrf_token": csrf_token(zoe, "/legal/accept"), "versions": versions}
    )
    assert zoe.get("/").status_code == 200
    opened = zoe.post(
        "/support/new",
        data={
            "csrf_token": csrf_token(zoe, "/support/new?service=cloud"),
            "subject": "Quota",
            "service": "cloud",
            "category": "question",
            "body": "Can I get more space?",
        },
    )
    assert opened.status_code == 302

    def ask() -> None:
        token = csrf_token(zoe, "/account/deletion")
        response = zoe.post("/account/deletion", data={"csrf_token": token, "confirm_login": "zoe"})
        assert response.status_code == 302

    ask()
    cancel = zoe.post("/account/deletion/cancel", data=form_token(zoe, "/account/deletion"))
    assert cancel.status_code == 302
    ask()
    with session_scope(app) as session:
        request_id = session.scalar(
            select(DeletionRequest.id).where(DeletionRequest.state == "requested")
        )
    assert request_id is not None

    staff = app.test_client()
    assert do_login(staff, "camille", "demo").status_code == 302
    staff.post(
        "/legal/accept",
        data={"csrf_token": csrf_token(staff, "/legal/accept"), "versions": versions},
    )
    page_path = f"/staff/deletions/{request_id}"
    approved = staff.post(f"{page_path}/approve", data=form_token(staff, page_path))
    assert approved.status_code == 302
    page = staff.get(page_path).get_data(as_text=True)
    for step_id in re.findall(rf"{page_path}/steps/(\d+)/done", page):
        prefix = f"step-{step_id}"
        done = staff.post(
            f"{page_path}/steps/{step_id}/done",
            data={
                f"{prefix}-csrf_token": csrf_token(staff, page_path),
                f"{prefix}-comment": "Mailbox removed with doveadm",
            },
        )
        assert done.status_code == 302

    # Services, directory and the panel's own data: all gone.
    assert not folder.exists()
    assert app.extensions["panel_directory"].lookup("zoe") is None
    with session_scope(app) as session:
        assert session.scalar(select(Account).where(Account.uid == "zoe")) is None
        assert session.scalar(select(func.count()).select_from(Ticket)) == 0
        camille = session.scalar(select(Account.id).where(Account.uid == "camille"))
        owners = set(session.scalars(select(TermsAcceptance.account_id)))
        assert owners == {camille}  # zoe's acceptances went with her
        tombstone = session.get(DeletionRequest, request_id)
        assert tombstone is not None and tombstone.state == "completed"
        assert all(step.state == "done" for step in tombstone.steps)
    # The receipt reached the address given at request time.
    receipts = [m for m in smtp.messages if m["To"] == "zoe@demo.chatons.org"]
    assert len(receipts) >= 3  # received, cancelled, ... completed
    assert "zoe" not in staff.get(page_path).get_data(as_text=True).split("<main", 1)[1]
    assert do_login(app.test_client(), "zoe", "demo").status_code == 422
