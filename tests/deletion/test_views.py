"""The user's deletion page and the staff queue, through HTTP as people use them."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from deletion.deletion_support import connector, give_files, load, open_request
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from app.db import session_scope, utcnow
from app.deletion.models import DeletionRequest
from app.mail import OutgoingMail
from helpers import csrf_token, do_login

PAGE = "/account/deletion"


def signed_in(app, login: str) -> FlaskClient:
    client = app.test_client()
    response = do_login(client, login, "demo")
    assert response.status_code == 302
    return client


def post(client: FlaskClient, path: str, data: dict | None = None, token_from: str = PAGE):
    token = csrf_token(client, token_from)
    return client.post(path, data={**(data or {}), "csrf_token": token})


def requests_of(app) -> list[DeletionRequest]:
    with session_scope(app) as session:
        rows = session.scalars(select(DeletionRequest).order_by(DeletionRequest.id)).all()
        session.expunge_all()
        return list(rows)


def text(response) -> str:
    return html.unescape(re.sub(r"\s+", " ", response.get_data(as_text=True)))


def test_the_page_explains_per_service_what_is_deleted_and_what_is_kept(make_deletion_app):
    app = make_deletion_app(connectors=("cloud",))
    page = text(signed_in(app, "alice").get(PAGE))
    for expected in (
        "Courriel",
        "Par notre équipe, à la main.",  # manual deletion, done by the team
        "Cloud",
        "les sauvegardes les gardent 30 jours de plus",  # retention from hoster.toml
        "Les pads sont supprimés après un an sans modification.",
        "Votre identifiant est alice.",
        "Supprimer mon compte",
    ):
        assert expected in page, expected
    # The team's own steps (hoster.toml's manual_deletion) are for staff pages only.
    assert "doveadm" not in page and "Les pads sont anonymes" not in page


def test_the_export_is_offered_first_when_the_panel_has_it(make_deletion_app):
    app = make_deletion_app()
    page = signed_in(app, "alice").get(PAGE).get_data(as_text=True)
    assert 'href="/account/export"' in page
    assert page.index('href="/account/export"') < page.index('name="confirm_login"')


def test_asking_needs_a_recent_password(make_deletion_app):
    app = make_deletion_app()
    client = signed_in(app, "alice")
    with client.session_transaction() as session:
        session["reauth_at"] = (utcnow() - timedelta(minutes=30)).isoformat()
    page = client.get(PAGE).get_data(as_text=True)
    assert 'name="confirm_login"' not in page
    assert "/account/confirm?next=/account/deletion" in page
    response = post(client, PAGE, {"confirm_login": "alice"})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/account/confirm")
    assert requests_of(app) == []
    # After typing the password again, the form is there.
    post(
        client,
        "/account/confirm",
        {"password": "demo", "next": PAGE},
        token_from="/account/confirm",
    )
    assert 'name="confirm_login"' in client.get(PAGE).get_data(as_text=True)


@pytest.mark.parametrize("typed", ["", "bob", "Alice "])
def test_the_login_must_be_typed_exactly(make_deletion_app, typed):
    app = make_deletion_app()
    client = signed_in(app, "alice")
    response = post(client, PAGE, {"confirm_login": typed})
    assert response.status_code == 422
    assert 'class="error"' in response.get_data(as_text=True)
    assert requests_of(app) == []


def test_request_cancel_and_request_again_with_mails(make_deletion_app, smtp):
    app = make_deletion_app(SMTP_URL=smtp.url, DELETION_GRACE_DAYS=7)
    client = signed_in(app, "alice")
    response = post(client, PAGE, {"confirm_login": "alice"})
    assert response.status_code == 302
    page = text(client.get(PAGE))
    assert "Annuler ma demande de suppression" in page
    assert "Demande reçue" in page
    assert len(smtp.messages) == 1
    received = smtp.messages[0]
    assert received["To"] == "alice@demo.chatons.org"
    body = received.get_content()
    assert "http://localhost/account/deletion" in body  # the one-click cancel page
    assert str(requests_of(app)[0].id) in received["Subject"]

    response = post(client, "/account/deletion/cancel")
    assert response.status_code == 302
    assert requests_of(app)[0].state == "cancelled"
    assert len(smtp.messages) == 2
    assert "annulée" in smtp.messages[1]["Subject"]
    page = text(client.get(PAGE))
    assert "Vous avez annulé votre précédente demande" in page

    post(client, PAGE, {"confirm_login": "alice"})
    assert [r.state for r in requests_of(app)] == ["cancelled", "requested"]


def test_a_second_request_while_one_is_active_is_refused(make_deletion_app):
    app = make_deletion_app(DELETION_GRACE_DAYS=7)
    client = signed_in(app, "alice")
    post(client, PAGE, {"confirm_login": "alice"})
    token = csrf_token(client, "/account/activity")
    response = client.post(PAGE, data={"confirm_login": "alice", "csrf_token": token})
    assert response.status_code == 302
    assert "déjà une demande" in text(client.get(PAGE))
    assert len(requests_of(app)) == 1


def test_the_user_pages_stay_reachable_before_new_terms_are_accepted(app):
    for endpoint in ("deletion.request_page", "deletion.cancel"):
        assert getattr(app.view_functions[endpoint], "gate_exempt", False)


def test_staff_pages_are_for_staff_only(make_deletion_app):
    app = make_deletion_app()
    request_id = open_request(app, "zoe")
    anonymous = app.test_client()
    assert anonymous.get("/staff/deletions").status_code == 302
    user = signed_in(app, "alice")
    assert user.get("/staff/deletions").status_code == 403
    assert user.get(f"/staff/deletions/{request_id}").status_code == 403
    token = csrf_token(user, PAGE)
    assert (
        user.post(f"/staff/deletions/{request_id}/approve", data={"csrf_token": token}).status_code
        == 403
    )
    staff = signed_in(app, "camille")
    assert staff.get("/staff/deletions/99999").status_code == 404
    assert staff.get("/staff/deletions?show=everything").status_code == 404


def test_the_queue_shows_overdue_and_due_requests_first(make_deletion_app):
    app = make_deletion_app(DELETION_GRACE_DAYS=7)
    in_grace = open_request(app, "alice")
    due = open_request(app, "zoe")
    overdue = open_request(app, "bob")
    with session_scope(app) as session:
        session.execute(
            update(DeletionRequest)
            .where(DeletionRequest.id == due)
            .values(grace_until=utcnow() - timedelta(days=1))
        )
        session.execute(
            update(DeletionRequest)
            .where(DeletionRequest.id == overdue)
            .values(
                requested_at=utcnow() - timedelta(days=40),
                grace_until=utcnow() - timedelta(days=33),
            )
        )
    staff = signed_in(app, "camille")
    page = text(staff.get("/staff/deletions"))
    positions = [page.index(f'/staff/deletions/{i}"') for i in (overdue, due, in_grace)]
    assert positions == sorted(positions)
    assert "En retard" in page and "En attente de l'équipe" in page and "Délai de réflexion" in page
    home = text(staff.get("/staff/"))
    assert "Demandes de suppression en attente de l'équipe" in home
    assert re.search(r"/staff/deletions\">[^<]+</a></td><td>2</td>", home)


def test_staff_approve_mark_manual_steps_done_and_complete(make_deletion_app, smtp):
    app = make_deletion_app(SMTP_URL=smtp.url, connectors=("cloud",))
    folder = give_files(app, "alice")
    request_id = open_request(app, "alice")
    staff = signed_in(app, "camille")
    page = f"/staff/deletions/{request_id}"
    assert "Alice Martin" in text(staff.get(page))
    post(staff, f"{page}/approve", token_from=page)
    assert not folder.exists()
    steps = {s.service_slug or s.kind: s for s in load(app, request_id).steps}
    assert steps["cloud"].state == "done"
    shown = text(staff.get(page))
    assert "doveadm" in shown and "Marquer comme fait" in shown

    prefix = f"step-{steps['mail'].id}"
    token = csrf_token(staff, page)
    response = staff.post(
        f"{page}/steps/{steps['mail'].id}/done",
        data={f"{prefix}-csrf_token": token, f"{prefix}-comment": "  "},
    )
    assert response.status_code == 422
    assert "Dites ce que vous avez fait" in text(response)
    for slug in ("mail", "pad"):
        prefix = f"step-{steps[slug].id}"
        token = csrf_token(staff, page)
        response = staff.post(
            f"{page}/steps/{steps[slug].id}/done",
            data={f"{prefix}-csrf_token": token, f"{prefix}-comment": "Mailbox removed"},
        )
        assert response.status_code == 302
    tombstone = text(staff.get(page))
    assert "Terminée" in tombstone
    assert "Alice Martin" not in tombstone
    assert "Camille Dupont" in tombstone  # who approved and did the manual steps
    assert tombstone.count("Fait") >= 5
    assert do_login(app.test_client(), "alice", "demo").status_code == 422
    subjects = [m["Subject"] for m in smtp.messages]
    assert any("Reçu" in s for s in subjects)


def test_a_failed_step_is_visible_and_staff_can_retry_it(make_deletion_app):
    app = make_deletion_app(connectors=("mail", "cloud", "pad"))
    request_id = open_request(app, "alice")
    connector(app, "cloud").fail_with = "storage offline"
    staff = signed_in(app, "camille")
    page = f"/staff/deletions/{request_id}"
    post(staff, f"{page}/approve", token_from=page)
    shown = text(staff.get(page))
    assert "storage offline" in shown and "Échec" in shown and "Réessayer" in shown
    connector(app, "cloud").fail_with = None
    cloud = next(s for s in load(app, request_id).steps if s.service_slug == "cloud")
    post(staff, f"{page}/steps/{cloud.id}/retry", token_from=page)
    assert load(app, request_id).state == "completed"


def test_a_step_whose_service_is_gone_for_good_is_done_by_hand_and_the_request_ends(
    make_deletion_app, smtp
):
    app = make_deletion_app(SMTP_URL=smtp.url, connectors=("mail", "cloud", "pad"))
    request_id = open_request(app, "alice")
    connector(app, "cloud").fail_with = "storage offline"
    staff = signed_in(app, "camille")
    page = f"/staff/deletions/{request_id}"
    post(staff, f"{page}/approve", token_from=page)
    shown = text(staff.get(page))
    assert "Réessayer" in shown and "Fait à la main à la place" in shown
    cloud = next(s for s in load(app, request_id).steps if s.service_slug == "cloud")

    prefix = f"step-{cloud.id}"
    response = staff.post(
        f"{page}/steps/{cloud.id}/done",
        data={f"{prefix}-csrf_token": csrf_token(staff, page), f"{prefix}-comment": ""},
    )
    assert response.status_code == 422
    assert re.search(r"<details class=\"by-hand\" open>", response.get_data(as_text=True))
    response = staff.post(
        f"{page}/steps/{cloud.id}/done",
        data={
            f"{prefix}-csrf_token": csrf_token(staff, page),
            f"{prefix}-comment": "Folder removed on the old server",
        },
    )
    assert response.status_code == 302
    done = load(app, request_id)
    assert done.state == "completed"
    cloud = next(s for s in done.steps if s.service_slug == "cloud")
    assert cloud.comment == "Folder removed on the old server" and cloud.detail is None
    receipt = next(m for m in smtp.messages if "Reçu" in m["Subject"])
    assert "Cloud — supprimé par notre équipe" in receipt.get_content()


def test_the_panels_own_step_is_never_done_by_hand(make_deletion_app):
    app = make_deletion_app(connectors=("mail", "cloud", "pad"))
    request_id = open_request(app, "alice")
    connector(app, "cloud").fail_with = "storage offline"
    staff = signed_in(app, "camille")
    page = f"/staff/deletions/{request_id}"
    post(staff, f"{page}/approve", token_from=page)
    panel = next(s for s in load(app, request_id).steps if s.kind == "panel")
    prefix = f"step-{panel.id}"
    staff.post(
        f"{page}/steps/{panel.id}/done",
        data={f"{prefix}-csrf_token": csrf_token(staff, page), f"{prefix}-comment": "done"},
    )
    assert next(s for s in load(app, request_id).steps if s.kind == "panel").state != "done"


def test_refusal_reason_reaches_the_user(make_deletion_app, smtp):
    app = make_deletion_app(SMTP_URL=smtp.url, DELETION_GRACE_DAYS=7)
    user = signed_in(app, "alice")
    post(user, PAGE, {"confirm_login": "alice"})
    request_id = requests_of(app)[0].id
    staff = signed_in(app, "camille")
    page = f"/staff/deletions/{request_id}"
    response = post(staff, f"{page}/refuse", {"reason": ""}, token_from=page)
    assert response.status_code == 422
    post(staff, f"{page}/refuse", {"reason": "Unpaid invoice under legal hold"}, token_from=page)
    assert requests_of(app)[0].state == "refused"
    assert "Unpaid invoice under legal hold" in text(user.get(PAGE))
    assert "Unpaid invoice under legal hold" in smtp.messages[-1].get_content()
    # Refusing again, or approving a refused request, is not possible.
    approve_response = post(staff, f"{page}/approve", token_from=page)
    assert approve_response.status_code == 302
    assert requests_of(app)[0].state == "refused"


def test_cron_command_processes_due_requests(make_deletion_app):
    app = make_deletion_app(connectors=("mail", "cloud", "pad"), DELETION_APPROVAL="automatic")
    request_id = open_request(app, "bob")
    result = app.test_cli_runner().invoke(args=["deletions", "run-due"])
    assert result.exit_code == 0, result.output
    assert "completed 1" in result.output
    assert load(app, request_id).state == "completed"


def test_cron_command_exits_1_when_a_step_fails(make_deletion_app):
    app = make_deletion_app(connectors=("mail", "cloud", "pad"), DELETION_APPROVAL="automatic")
    request_id = open_request(app, "bob")
    connector(app, "mail").fail_with = "doveadm: mailbox locked"
    result = app.test_cli_runner().invoke(args=["deletions", "run-due"])
    assert result.exit_code == 1
    assert f"/staff/deletions/{request_id}" in result.output
    connector(app, "mail").fail_with = None
    result = app.test_cli_runner().invoke(args=["deletions", "run-due", "--retry-failed"])
    assert result.exit_code == 0, result.output
    assert load(app, request_id).state == "completed"


def test_deletion_completes_while_smtp_is_down_and_the_receipt_waits_visibly(
    make_deletion_app,
):
    from ldap_server import free_port

    app = make_deletion_app(
        connectors=("mail", "cloud", "pad"), SMTP_URL=f"smtp://127.0.0.1:{free_port()}"
    )
    request_id = open_request(app, "zoe")
    staff = signed_in(app, "camille")
    page = f"/staff/deletions/{request_id}"
    post(staff, f"{page}/approve", token_from=page)
    assert load(app, request_id).state == "completed"
    with session_scope(app) as session:
        queued = session.scalars(select(OutgoingMail)).all()
        purposes = {m.purpose: m for m in queued}
        assert "deletion.receipt" in purposes
        assert purposes["deletion.receipt"].recipient == "zoe@demo.chatons.org"
        assert purposes["deletion.receipt"].last_error
        count = session.scalar(select(func.count()).select_from(OutgoingMail))
    home = text(staff.get("/staff/"))
    assert re.search(rf"Courriels pas encore envoyés[^<]*</a></td><td>{count}</td>", home)


def test_with_no_grace_period_staff_can_approve_at_once(make_deletion_app):
    app = make_deletion_app(DELETION_GRACE_DAYS=0)
    request_id = open_request(app, "alice")
    staff = signed_in(app, "camille")
    page = f"/staff/deletions/{request_id}"
    assert "Approuver et lancer" in text(staff.get(page))
    post(staff, f"{page}/approve", token_from=page)
    assert load(app, request_id).state == "approved"  # manual steps wait
