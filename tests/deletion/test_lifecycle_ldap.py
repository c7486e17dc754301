"""The whole life of a deletion against the real slapd, SMTP server and a files-like connector."""

from __future__ import annotations

import html
import json
import re
import secrets
from collections.abc import Iterator
from datetime import timedelta

import pytest
from deletion.deletion_support import (
    approve,
    connector,
    give_files,
    load,
    open_request,
    run,
    steps_by_name,
)
from flask import Flask
from flask.testing import FlaskClient
from ldap3 import BASE, MODIFY_REPLACE
from sqlalchemy import select, update

from app.accounts.models import Account
from app.audit import AuditEvent
from app.db import session_scope, utcnow
from app.deletion import requests
from app.deletion.models import DeletionRequest, DeletionStep
from app.mail import OutgoingMail
from helpers import csrf_token, do_login
from ldap_server import GROUPS, PASSWORD, PEOPLE

pytestmark = pytest.mark.ldap

PAGE = "/account/deletion"
STAFF_LOGIN = "staffnames"  # member of cn=staff in the test directory


class Throwaway:
    def __init__(self, uid: str, dn: str, name: str, email: str, groups: list[str]) -> None:
        self.uid, self.dn, self.name, self.email, self.groups = uid, dn, name, email, groups


@pytest.fixture
def throwaway(slapd) -> Iterator[Throwaway]:
    """A person made for this test, member of a groupOfNames and a posixGroup."""
    uid = f"erasable{secrets.token_hex(3)}"
    name = "Ersatz Personne-Effaçable"
    email = f"{uid}@example.org"
    dn = slapd.add_person(uid, cn=name, mail=email, language="fr")
    team = f"cn=team-{uid},{GROUPS}"
    posix = f"cn=posix-{uid},{GROUPS}"
    with slapd.admin() as conn:
        conn.add(
            team, ["groupOfNames"], {"cn": f"team-{uid}", "member": [dn, f"uid=alice,{PEOPLE}"]}
        )
        conn.add(
            posix,
            ["posixGroup"],
            {"cn": f"posix-{uid}", "gidNumber": 6001, "memberUid": [uid, "alice"]},
        )
    yield Throwaway(uid, dn, name, email, [team, posix])
    slapd.delete_entry(dn)
    for group in (team, posix):
        slapd.delete_entry(group)


def entry(slapd, dn: str) -> dict | None:
    with slapd.admin() as conn:
        conn.raise_exceptions = False
        if not conn.search(dn, "(objectClass=*)", BASE, attributes=["*"]):
            return None
        return {
            k: list(v) if isinstance(v, list) else [v]
            for k, v in conn.entries[0].entry_attributes_as_dict.items()
        }


def sign_in(app: Flask, login: str, password: str = PASSWORD) -> FlaskClient:
    client = app.test_client()
    response = do_login(client, login, password)
    assert response.status_code == 302, response.get_data(as_text=True)[-800:]
    return client


def post(client: FlaskClient, path: str, data: dict | None = None, token_from: str = PAGE):
    return client.post(path, data={**(data or {}), "csrf_token": csrf_token(client, token_from)})


def page_text(client: FlaskClient, path: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", client.get(path).get_data(as_text=True)))


def test_full_lifecycle_against_the_real_directory(make_deletion_app, slapd, smtp, throwaway):
    who = throwaway
    app = make_deletion_app(**slapd.settings(), SMTP_URL=smtp.url, DELETION_GRACE_DAYS=7)
    folder = give_files(app, who.uid)
    user = sign_in(app, who.uid)

    # Ask, change one's mind, ask again.
    assert post(user, PAGE, {"confirm_login": who.uid}).status_code == 302
    assert post(user, "/account/deletion/cancel").status_code == 302
    assert post(user, PAGE, {"confirm_login": who.uid}).status_code == 302
    with session_scope(app) as session:
        states = session.scalars(select(DeletionRequest.state).order_by(DeletionRequest.id)).all()
        request_id = session.scalar(
            select(DeletionRequest.id).where(DeletionRequest.state == "requested")
        )
    assert states == ["cancelled", "requested"]
    # The receipt goes where the user said at request time, whatever the directory says later.
    with slapd.admin() as conn:
        conn.modify(who.dn, {"mail": [(MODIFY_REPLACE, [f"new-{who.email}"])]})

    staff = sign_in(app, STAFF_LOGIN)
    staff_page = f"/staff/deletions/{request_id}"
    assert "Délai de réflexion" in page_text(staff, "/staff/deletions")
    post(staff, f"{staff_page}/approve", token_from=staff_page)
    assert load(app, request_id).state == "requested"  # grace period not over
    with session_scope(app) as session:
        session.execute(
            update(DeletionRequest)
            .where(DeletionRequest.id == request_id)
            .values(grace_until=utcnow() - timedelta(minutes=1))
        )
    post(staff, f"{staff_page}/approve", token_from=staff_page)
    assert not folder.exists()
    assert entry(slapd, who.dn) is not None  # the directory waits for the manual steps
    assert "Suppression en cours" not in page_text(user, PAGE)
    assert "ne peut plus être annulée" in page_text(user, PAGE)

    for step in load(app, request_id).steps:
        if step.mode == "manual":
            prefix = f"step-{step.id}"
            response = staff.post(
                f"{staff_page}/steps/{step.id}/done",
                data={
                    f"{prefix}-csrf_token": csrf_token(staff, staff_page),
                    f"{prefix}-comment": "Done by hand with the admin tools",
                },
            )
            assert response.status_code == 302

    # Entry and memberships gone; other members untouched.
    assert entry(slapd, who.dn) is None
    team, posix = (entry(slapd, g) for g in who.groups)
    assert who.dn.lower() not in [m.lower() for m in team["member"]]
    assert any(m.startswith("uid=alice,") for m in team["member"])
    assert posix["memberUid"] == ["alice"]

    tombstone = load(app, request_id)
    assert tombstone.state == "completed"
    assert [s.state for s in tombstone.steps] == ["done"] * 5

    # Three kinds of mail, with the right content, to the captured address.
    assert [m["To"] for m in smtp.messages] == [who.email] * 4
    received, cancelled, received_again, receipt = smtp.messages
    assert "http://localhost/account/deletion" in received.get_content()
    assert f"n° {request_id}" in received_again["Subject"]
    assert "annulée" in cancelled["Subject"]
    assert receipt["Subject"].startswith("Reçu")
    body = receipt.get_content()
    for expected in (
        f"{who.uid}",
        "Cloud — supprimé automatiquement",
        "Courriel — supprimé par notre équipe",
        "Fiche de l'annuaire",
        "les sauvegardes les gardent 30 jours de plus",  # hoster.toml, in French
        "Backups keep the files 30 days more.",
        str(request_id),
    ):
        assert expected in body, body

    # Nothing personal survives in the tombstone or the audit trail.
    with session_scope(app) as session:
        rows = [
            *(r._asdict() for r in session.execute(select(DeletionRequest.__table__))),
            *(r._asdict() for r in session.execute(select(DeletionStep.__table__))),
            *(r._asdict() for r in session.execute(select(AuditEvent.__table__))),
            *(r._asdict() for r in session.execute(select(OutgoingMail.__table__))),
        ]
        assert session.scalar(select(Account).where(Account.uid == who.uid)) is None
    dump = json.dumps(rows, default=str, ensure_ascii=False).casefold()
    for value in (who.uid, who.name, who.email, who.dn):
        assert value.casefold() not in dump, value

    # The staff still see the proof: every step, when and by whom.
    proof = page_text(staff, staff_page)
    assert "Effacée : cette trace ne garde aucune donnée personnelle." in proof
    assert who.name not in proof and who.uid not in proof
    assert proof.count("Staff staffnames") >= 3  # approved, and the two manual steps

    # The login is gone for good; the old session is dead too.
    assert do_login(app.test_client(), who.uid, PASSWORD).status_code == 422
    assert user.get(PAGE).status_code == 302


def test_a_new_account_with_the_same_login_starts_empty(make_deletion_app, slapd, throwaway):
    who = throwaway
    app = make_deletion_app(
        connectors=("mail", "cloud", "pad"), **slapd.settings(), DELETION_GRACE_DAYS=0
    )
    give_files(app, who.uid)
    first = sign_in(app, who.uid)
    post(first, PAGE, {"confirm_login": who.uid})
    with session_scope(app) as session:
        request_id = session.scalar(select(DeletionRequest.id))
    approve(app, request_id)
    assert run(app, request_id).completed
    assert entry(slapd, who.dn) is None

    slapd.add_person(who.uid, cn="Someone Else Entirely", mail=f"other-{who.email}")
    newcomer = sign_in(app, who.uid)
    # The deleted person's old browser session does not open the newcomer's account.
    assert first.get(PAGE).status_code == 302
    page = page_text(newcomer, PAGE)
    assert "Tapez votre identifiant pour confirmer" in page
    assert "précédente demande" not in page
    activity = page_text(newcomer, "/account/activity")
    assert "1 événement" in activity
    assert "suppression" not in activity.casefold()
    assert not connector(app, "cloud").folder(who.uid).exists()  # no files reappear
    with session_scope(app) as session:
        account = session.scalar(select(Account).where(Account.uid == who.uid))
        assert account.display_name == "Someone Else Entirely"
        assert (
            session.scalar(select(DeletionRequest).where(DeletionRequest.account_id == account.id))
            is None
        )


def test_directory_unreachable_fails_the_step_visibly_and_a_retry_succeeds(
    make_deletion_app, slapd, throwaway
):
    who = throwaway
    app = make_deletion_app(connectors=("mail", "cloud", "pad"), **slapd.settings(LDAP_TIMEOUT=1))
    request_id = open_request(app, who.uid)
    approve(app, request_id)
    slapd.stop()
    try:
        report = run(app, request_id)
    finally:
        slapd.start()
    assert report.failed == 1 and not report.completed
    steps = steps_by_name(app, request_id)
    assert [steps[s].state for s in ("mail", "cloud", "pad")] == ["done"] * 3
    assert steps["directory"].state == "failed"
    assert "directory could not be reached" in (steps["directory"].detail or "")
    assert steps["panel"].state == "pending"
    assert load(app, request_id).state == "approved"
    assert entry(slapd, who.dn) is not None

    # Later (ldap3 remembers a dead server for a few seconds: a new process, as cron is).
    app = make_deletion_app(connectors=("mail", "cloud", "pad"), **slapd.settings())
    staff = sign_in(app, STAFF_LOGIN)
    staff_page = f"/staff/deletions/{request_id}"
    shown = page_text(staff, staff_page)
    assert "Échec" in shown and "L'annuaire est injoignable" in shown  # in the reader's language
    post(staff, f"{staff_page}/steps/{steps['directory'].id}/retry", token_from=staff_page)
    assert load(app, request_id).state == "completed"
    assert entry(slapd, who.dn) is None
    assert steps_by_name(app, request_id)["directory"].attempts == 2


def test_refused_request_keeps_everything(make_deletion_app, slapd, throwaway):
    who = throwaway
    app = make_deletion_app(**slapd.settings(), DELETION_GRACE_DAYS=0)
    folder = give_files(app, who.uid)
    request_id = open_request(app, who.uid)
    with app.app_context(), session_scope(app) as session:
        requests.refuse_deletion(
            session, session.get(DeletionRequest, request_id), actor_id=None, reason="Legal hold"
        )
    with app.app_context(), session_scope(app) as session, pytest.raises(requests.WrongState):
        requests.approve_deletion(session, session.get(DeletionRequest, request_id), actor_id=None)
    assert folder.exists() and entry(slapd, who.dn) is not None
