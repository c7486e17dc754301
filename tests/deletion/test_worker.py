"""Deletion steps run in the task worker, outside the staff member's request."""

from __future__ import annotations

import html
import re

from deletion.deletion_support import give_files, load, open_request

from app import tasks
from helpers import csrf_token, do_login


def text(response) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def signed_in(app, login: str):
    client = app.test_client()
    assert do_login(client, login, "demo").status_code == 302
    return client


def post(client, path: str, token_from: str):
    return client.post(path, data={"csrf_token": csrf_token(client, token_from)})


def run_worker_once(app) -> int:
    """What `flask worker` does for each queued task, in this process."""
    huey = tasks.queue(app)
    done = 0
    while (task := huey.dequeue()) is not None:
        huey.execute(task)
        done += 1
    return done


def test_approval_queues_the_steps_and_the_page_follows_them(make_deletion_app, tmp_path):
    app = make_deletion_app(
        connectors=("cloud",), QUEUE_URL=f"sqlite:///{tmp_path / 'queue.sqlite3'}"
    )
    folder = give_files(app, "alice")
    request_id = open_request(app, "alice")
    staff = signed_in(app, "camille")
    page = f"/staff/deletions/{request_id}"

    response = post(staff, f"{page}/approve", token_from=page)
    assert response.status_code == 302
    # The request returned before the connector ran: nothing is deleted yet.
    assert folder.exists()
    waiting = staff.get(page)
    assert waiting.headers["Refresh"] == "5"
    assert "se recharge" in text(waiting)
    assert "Refresh" not in staff.get(f"{page}?refresh=off").headers

    assert run_worker_once(app) == 1
    assert not folder.exists()
    cloud = next(s for s in load(app, request_id).steps if s.service_slug == "cloud")
    assert cloud.state == "done"
    # Only manual steps are left: nothing for the worker, the page stops reloading.
    finished = staff.get(page)
    assert "Refresh" not in finished.headers
    assert "se recharge" not in text(finished)


def test_worker_command_refuses_immediate_mode(make_deletion_app):
    app = make_deletion_app(QUEUE_URL="immediate")
    result = app.test_cli_runner().invoke(args=["worker"])
    assert result.exit_code != 0
    assert "immediate" in result.output
