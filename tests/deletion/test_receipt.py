"""The deletion receipt: sent where the person asked, shown before the account goes, and
"by our team" only when the team deleted something by hand."""

from __future__ import annotations

import html
import re

from deletion.deletion_support import give_files, load
from flask.testing import FlaskClient
from sqlalchemy import select

from app.db import session_scope
from app.deletion.models import DeletionRequest
from helpers import csrf_token, do_login

PAGE = "/account/deletion"


def signed_in(app, login: str) -> FlaskClient:
    client = app.test_client()
    assert do_login(client, login, "demo").status_code == 302
    return client


def text(response) -> str:
    return html.unescape(re.sub(r"\s+", " ", response.get_data(as_text=True)))


def ask(client: FlaskClient, **fields: str):
    data = {"confirm_login": "alice", "csrf_token": csrf_token(client, PAGE), **fields}
    return client.post(PAGE, data=data)


def only_request(app) -> DeletionRequest:
    with session_scope(app) as session:
        found = session.scalars(select(DeletionRequest)).one()
        session.expunge_all()
        return found


def approve(app, staff: FlaskClient, request_id: int) -> None:
    page = f"/staff/deletions/{request_id}"
    token = csrf_token(staff, page)
    assert staff.post(f"{page}/approve", data={"csrf_token": token}).status_code == 302


def test_the_receipt_goes_to_the_outside_address_the_person_gave(make_deletion_app, smtp):
    app = make_deletion_app(SMTP_URL=smtp.url, connectors=("mail", "cloud", "pad"))
    alice = signed_in(app, "alice")
    page = text(alice.get(PAGE))
    # Her address is the hoster's mailbox, which the deletion erases: she is told so.
    assert "alice@demo.chatons.org est hébergée ici" in page
    assert ask(alice, receipt_to="Alice.Martin@example.net").status_code == 302
    request_id = only_request(app).id
    approve(app, signed_in(app, "camille"), request_id)
    assert load(app, request_id).state == "completed"
    sent = [m for m in smtp.messages if "Reçu" in m["Subject"]]
    assert [m["To"] for m in sent] == ["alice.martin@example.net"]
    assert "Votre compte alice et ses données ont été supprimés" in sent[0].get_content()
    # Once the receipt is queued, the outside address is erased like the rest.
    assert load(app, request_id).receipt_to is None


def test_an_address_on_the_hosters_own_domain_is_warned_about(make_deletion_app):
    app = make_deletion_app()
    alice = signed_in(app, "alice")
    response = ask(alice, receipt_to="alice.perso@demo.chatons.org")
    assert response.status_code == 422
    shown = text(response)
    assert "Cette adresse est chez demo.chatons.org" in shown
    assert 'name="receipt_anyway"' in shown
    with session_scope(app) as session:
        assert session.scalars(select(DeletionRequest)).all() == []
    # A subdomain of a service is the hoster's too.
    assert ask(alice, receipt_to="a@lists.cloud.demo.chatons.org").status_code == 422
    response = ask(alice, receipt_to="alice.perso@demo.chatons.org", receipt_anyway="y")
    assert response.status_code == 302
    assert only_request(app).receipt_to == "alice.perso@demo.chatons.org"


def test_a_malformed_receipt_address_is_refused_next_to_the_field(make_deletion_app):
    app = make_deletion_app()
    response = ask(signed_in(app, "alice"), receipt_to="a@b, c@d")
    assert response.status_code == 422
    assert "Saisissez une seule adresse" in text(response)


def test_the_receipt_is_on_the_page_ready_to_save_while_deletion_runs(make_deletion_app):
    # Mail is deleted by hand: the request waits for the team, and Alice can still sign in.
    app = make_deletion_app(connectors=("cloud", "pad"))
    give_files(app, "alice")
    alice = signed_in(app, "alice")
    assert alice.get(f"{PAGE}/receipt.txt").status_code == 404  # nothing asked yet
    assert ask(alice).status_code == 302
    assert alice.get(f"{PAGE}/receipt.txt").status_code == 404  # nothing deleted yet
    approve(app, signed_in(app, "camille"), only_request(app).id)
    page = text(alice.get(PAGE))
    assert "Votre reçu" in page
    page = re.sub(r"<[^>]+>", "", page)
    assert "Cloud — supprimé automatiquement le" in page
    assert "Courriel — pas encore supprimé" in page
    # The timeline does not say it is done, nor deleted where there was nothing.
    assert "Suppression de : Courriel" in page
    assert "Rien à supprimer vous concernant : Pads" in page
    saved = alice.get(f"{PAGE}/receipt.txt")
    assert saved.status_code == 200
    assert saved.mimetype == "text/plain"
    assert "attachment" in saved.headers["Content-Disposition"]
    body = saved.get_data(as_text=True)
    assert "Cloud — supprimé automatiquement le" in body
    assert "Courriel — pas encore supprimé" in body


def test_by_our_team_only_when_the_team_deleted_something(make_deletion_app, smtp):
    app = make_deletion_app(SMTP_URL=smtp.url, connectors=("cloud", "pad"))
    alice = signed_in(app, "alice")
    assert ask(alice, receipt_to="alice@example.net").status_code == 302
    request_id = only_request(app).id
    staff = signed_in(app, "camille")
    approve(app, staff, request_id)
    mail = next(s for s in load(app, request_id).steps if s.service_slug == "mail")
    page = f"/staff/deletions/{request_id}"
    prefix = f"step-{mail.id}"
    response = staff.post(
        f"{page}/steps/{mail.id}/done",
        data={
            f"{prefix}-csrf_token": csrf_token(staff, page),
            f"{prefix}-found": "nothing",
            f"{prefix}-comment": "No mailbox on the server",
        },
    )
    assert response.status_code == 302
    assert load(app, request_id).state == "completed"
    body = next(m for m in smtp.messages if "Reçu" in m["Subject"]).get_content()
    assert "supprimé par notre équipe" not in body
    assert "Courriel — rien à supprimer vous concernant" in body
    # Cloud held no folder for alice: the connector found nothing, and the receipt says so.
    assert "Cloud — rien à supprimer vous concernant" in body


def test_the_outside_address_is_in_the_persons_export(make_deletion_app):
    import json

    from app.accounts.models import Account
    from app.features import panel_sections

    app = make_deletion_app(DELETION_GRACE_DAYS=7)
    alice = signed_in(app, "alice")
    assert ask(alice, receipt_to="alice@example.net").status_code == 302
    section = next(s for s in panel_sections(app) if s.name == "deletion")
    with app.app_context(), session_scope(app) as session:
        account = session.scalars(select(Account).where(Account.uid == "alice")).one()
        entries = {e.path: b"".join(e.chunks) for e in section.export(session, account)}
    [exported] = json.loads(entries["panel/deletion/requests.json"])
    assert exported["receipt_to"] == "alice@example.net"
