"""The acceptance gate: who is sent to /legal/accept, what stays reachable, what is recorded."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from app.db import utcnow
from app.security import gate_exempt
from helpers import csrf_token, do_login


def page(response) -> str:
    return response.get_data(as_text=True)


def test_without_any_version_in_effect_nobody_is_gated(login_as, client, publish, zone):
    publish(effective_on=utcnow().astimezone(zone).date() + timedelta(days=2))
    login_as("alice")
    response = client.get("/")
    assert response.status_code == 200
    assert "Une nouvelle version de «\u202fConditions générales d'utilisation\u202f»" in page(
        response
    )


def test_a_user_who_never_accepted_lands_on_the_gate_with_the_full_text(login_as, client, publish):
    publish(summary="Première version.")
    login_as("alice")
    response = client.get("/")
    assert response.status_code == 302
    assert response.location == "/legal/accept?next=/"
    html = page(client.get(response.location))
    assert "Nouvelles conditions à accepter" in html
    assert "Nous gardons vos données un an." in html
    assert "C'est la première fois" in html
    assert '<h3 id="terms-section-conditions">' in html  # the text's headings under the h2


def test_visitors_are_not_gated(client, publish):
    publish()
    assert client.get("/legal/terms").status_code == 200
    response = client.get("/account/activity")
    assert response.status_code == 302 and "/login" in response.location
    assert client.get("/").status_code == 200  # the visitors' home


def test_exempt_and_public_pages_stay_reachable_while_gated(login_as, client, publish):
    publish()
    login_as("alice")
    assert client.get("/").status_code == 302
    for path in ("/account/activity", "/legal/terms", "/legal/terms/history", "/legal/accept"):
        assert client.get(path).status_code == 200, path
    token = csrf_token(client, "/legal/accept")
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302 and response.location.endswith("/login")


def test_staff_pages_are_gated_too(login_as, client, publish):
    publish()
    login_as("camille")
    response = client.get("/staff/")
    assert response.status_code == 302
    assert response.location.startswith("/legal/accept")


def test_accepting_returns_to_the_page_asked_for_and_lists_acceptances(login_as, client, publish):
    publish("terms")
    publish("privacy", fr="## Données\n\nClause.\n")
    login_as("camille")
    gate = client.get("/staff/")
    assert gate.location == "/legal/accept?next=/staff/"
    html = page(client.get(gate.location))
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
    versions = re.search(r'id="versions" name="versions" type="hidden" value="([^"]*)"', html)
    next_value = re.search(r'id="next" name="next" type="hidden" value="([^"]*)"', html)
    response = client.post(
        "/legal/accept",
        data={"csrf_token": token, "versions": versions.group(1), "next": next_value.group(1)},
    )
    assert response.status_code == 302 and response.location == "/staff/"
    assert client.get("/staff/").status_code == 200
    activity = page(client.get("/account/activity"))
    assert activity.count("Nouvelle version des conditions acceptée") == 2
    overview = client.get("/")
    assert overview.status_code == 200
    html = page(overview)
    assert "Conditions que vous avez acceptées" in html
    assert 'href="/legal/terms/1"' in html and 'href="/legal/privacy/1"' in html


def test_accept_never_redirects_off_site(login_as, client, publish, accept_terms):
    publish()
    login_as("alice")
    html = page(client.get("/legal/accept"))
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
    versions = re.search(r'name="versions"[^>]*value="([^"]*)"', html).group(1)
    response = client.post(
        "/legal/accept",
        data={"csrf_token": token, "versions": versions, "next": "//evil.example/"},
    )
    assert response.location == "/"


def test_the_form_of_a_version_replaced_meanwhile_is_refused(login_as, client, publish):
    publish()
    login_as("alice")
    html = page(client.get("/legal/accept"))
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
    versions = re.search(r'name="versions"[^>]*value="([^"]*)"', html).group(1)
    publish(fr="Texte changé pendant la lecture.", summary="Changement.")
    response = client.post("/legal/accept", data={"csrf_token": token, "versions": versions})
    assert response.status_code == 409
    html = page(response)
    assert "Les conditions ont changé pendant votre lecture" in html
    assert "Texte changé pendant la lecture." in html
    assert client.get("/").status_code == 302


def test_a_tampered_acceptance_form_records_nothing(login_as, client, publish):
    publish()
    login_as("alice")
    token = csrf_token(client, "/legal/accept")
    for versions in ("", "²", "abc,1x", "99999999999999999999", "1,2,3"):
        response = client.post("/legal/accept", data={"csrf_token": token, "versions": versions})
        assert response.status_code == 409, versions
    assert client.get("/").status_code == 302


def test_a_new_version_shows_the_diff_against_the_one_accepted(
    login_as, client, publish, accept_terms
):
    publish(fr="Nous gardons vos données un an.\n")
    login_as("alice")
    accept_terms()
    assert client.get("/").status_code == 200
    publish(fr="Nous gardons vos données six mois.\n", summary="Durée réduite.")
    publish(fr="Nous gardons vos données trois mois.\n", summary="Encore réduite.")
    response = client.get("/")
    assert response.location == "/legal/accept?next=/"
    html = page(client.get(response.location))
    assert "Vous aviez accepté la version 1." in html
    assert "<del>un an.</del> <ins>trois mois.</ins>" in html
    assert "Durée réduite." in html and "Encore réduite." in html  # the skipped version too


def _app_with_exit_pages(make_app, endpoints):
    app = make_app()

    def exit_page() -> str:
        return "exit page"

    for endpoint, path in endpoints:
        if endpoint not in app.view_functions:  # stand in for a feature not installed
            app.add_url_rule(path, endpoint, gate_exempt(exit_page))
    return app


@pytest.mark.parametrize(
    ("endpoints", "expected"),
    [
        (
            [
                ("export.export_page", "/account/export"),
                ("deletion.request_page", "/account/deletion"),
            ],
            ['href="/account/export"', 'href="/account/deletion"'],
        ),
    ],
    ids=["export-and-deletion"],
)
def test_the_gate_offers_a_way_out_with_what_is_installed(make_app, publish, endpoints, expected):
    app = _app_with_exit_pages(make_app, endpoints)
    publish()
    client = app.test_client()
    assert do_login(client, "alice", "demo").status_code == 302
    html = page(client.get("/legal/accept"))
    for link in expected:
        assert link in html
    for _endpoint, path in endpoints:
        assert client.get(path).status_code == 200  # exempt pages of other features stay open


def test_the_done_when_scenario(client, login_as, publish, post_form, accept_terms):
    """Staff publish v2; alice lands on the gate with the diff; accepts; visitors see it all."""
    publish(fr="## Données\n\nNous gardons vos données un an.\n", summary="Première version.")
    login_as("alice")
    accept_terms()
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})

    login_as("camille")
    accept_terms()
    draft = {
        "summary_fr": "Durée de conservation réduite.",
        "body_fr": "## Données\n\nNous gardons vos données six mois.\n",
    }
    path = "/staff/legal/terms/publish"
    review = page(post_form(path, {**draft, "action": "review"}, token_from=path))
    assert "2 personnes ayant un compte devront accepter cette version" in review
    token = re.search(r'name="confirm" value="([^"]+)"', review)
    assert token
    response = post_form(
        path, {**draft, "action": "publish", "confirm": token.group(1)}, token_from=path
    )
    assert response.status_code == 302
    client.post("/logout", data={"csrf_token": csrf_token(client, "/legal/terms")})

    login_as("alice")
    gate = client.get("/", follow_redirects=True)
    html = page(gate)
    assert "Nouvelles conditions à accepter" in html
    assert "<del>un an.</del> <ins>six mois.</ins>" in html
    accept_terms()
    overview = page(client.get("/"))
    assert 'href="/legal/terms/1"' in overview and 'href="/legal/terms/2"' in overview
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})

    history = page(client.get("/legal/terms/history"))
    assert "Durée de conservation réduite." in history
    diff = page(client.get("/legal/terms/diff?from=1&to=2"))
    assert "<del>un an.</del> <ins>six mois.</ins>" in diff


def test_the_gate_keeps_the_url_prefix_in_its_redirect(login_as, client, publish):
    publish(summary="Première version.")
    login_as("alice")
    response = client.get("/?tab=1", base_url="http://localhost/panel")
    assert response.status_code == 302
    assert response.location == "/panel/legal/accept?next=/panel/?tab%3D1"


def test_an_english_reader_accepting_for_the_first_time_is_told_the_translation_lags(
    login_as, client, publish
):
    publish(fr="## Objet\n\nUn an.\n", en="## Purpose\n\nA year.\n")
    publish(fr="## Objet\n\nSix mois.\n", en="## Purpose\n\nA year.\n")
    login_as("bob")  # reads English
    html = page(client.get("/legal/accept", headers={"Accept-Language": "en"}))
    assert "A year." in html
    assert "this English translation was not updated" in html
    assert "/legal/terms/diff?from=1&amp;to=2" in html


# The terms state kept in memory (app/legal/cache.py) -------------------------------------


def _terms_statements(app, client, path="/"):
    from sqlalchemy import event

    seen = []

    def record(_conn, _cursor, statement, *_args):
        if "terms_" in statement:
            seen.append(statement)

    engine = app.extensions["panel_db"].engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        response = client.get(path)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return response, seen


def test_once_accepted_the_gate_reads_no_terms_table(app, login_as, client, publish, accept_terms):
    # The newest version id is read again every LEGAL_VERSION_SECONDS (2 s), as designed; on
    # a machine busy with parallel test workers two requests can be that far apart.
    app.extensions["panel_terms_state"].version.ttl = 3600
    publish()
    login_as("alice")
    accept_terms()
    client.get("/")  # the state is read again after the acceptance
    response, seen = _terms_statements(app, client, "/")
    assert response.status_code == 200
    assert seen == []


def test_a_version_published_in_this_process_gates_at_once(login_as, client, publish):
    login_as("alice")
    assert client.get("/").status_code == 200  # state read: nothing in effect
    publish()
    response = client.get("/")
    assert response.status_code == 302 and response.location.startswith("/legal/accept")


def test_a_version_published_by_another_process_gates_after_the_check(
    make_app, publish, database_url
):
    from sqlalchemy import create_engine, insert

    from app.legal.models import TermsVersion

    app = make_app(LEGAL_VERSION_SECONDS=0)
    client = app.test_client()
    do_login(client, "alice", "demo")
    assert client.get("/").status_code == 200
    # Written by another instance: this process is not told, it finds the new newest id.
    other = create_engine(database_url)
    with other.begin() as conn:
        conn.execute(
            insert(TermsVersion).values(
                document="terms",
                number=1,
                body_fr="# Conditions\n\nTexte.\n",
                summary_fr="Résumé.",
                effective_at=utcnow() - timedelta(minutes=1),
                published_at=utcnow() - timedelta(minutes=1),
            )
        )
    other.dispose()
    response = client.get("/")
    assert response.status_code == 302 and response.location.startswith("/legal/accept")


def test_an_acceptance_made_through_another_instance_is_never_stale(
    app, make_app, login_as, client, publish, database_url
):
    """This worker remembered "must accept"; the person accepted through another one."""
    from sqlalchemy import create_engine, insert, select

    from app.accounts.models import Account
    from app.legal.models import TermsAcceptance

    version = publish()
    login_as("alice")
    assert client.get("/").status_code == 302
    other = create_engine(database_url)
    with other.begin() as conn:
        account_id = conn.scalar(select(Account.id).where(Account.uid == "alice"))
        conn.execute(
            insert(TermsAcceptance).values(
                account_id=account_id, version_id=version.id, accepted_at=utcnow()
            )
        )
    other.dispose()
    assert client.get("/").status_code == 200
