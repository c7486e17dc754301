"""Sign-in, sign-out, overview, activity, language and re-authentication through HTTP."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from app.accounts.models import Account
from app.audit import AuditEvent
from app.db import utcnow
from helpers import csrf_token, do_login


def test_anonymous_visitor_is_sent_to_login_with_next(client):
    response = client.get("/account/activity")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/account/activity")


def test_demo_login_page_shows_demo_banner_with_credentials(client):
    page = client.get("/login").get_data(as_text=True)
    assert "Mode démonstration" in page
    assert "<code>camille</code>" in page and "<code>demo</code>" in page


def test_user_signs_in_and_sees_their_overview(client, db_session):
    response = do_login(client, "zoe", "demo")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    page = client.get("/").get_data(as_text=True)
    assert "Zoé Lefèvre-Nguyễn" in page
    assert "zoe@demo.chatons.org" in page
    account = db_session.scalar(select(Account).where(Account.uid == "zoe"))
    assert account is not None and account.last_login_at is not None and not account.is_staff


def test_wrong_password_and_unknown_login_get_the_same_message(client):
    wrong = do_login(client, "alice", "nope").get_data(as_text=True)
    unknown = do_login(client, "nobody", "nope").get_data(as_text=True)
    message = "Cet identifiant et ce mot de passe ne correspondent pas"
    assert message in wrong and message in unknown


def test_empty_password_is_refused_beside_the_field(client):
    response = do_login(client, "alice", "")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="password-error"' in page and "Saisissez votre mot de passe." in page
    assert client.get("/account/activity").status_code == 302  # still signed out


def test_failed_login_is_audited_without_the_password(client, db_session):
    do_login(client, "alice", "hunter2-secret")
    event = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "login.failed"))
    assert event is not None and event.login == "alice"
    assert "hunter2" not in (event.details or "")


def test_user_sees_failed_attempts_on_their_activity_page(client, login_as):
    login_as("alice")  # the account exists from the first sign-in on
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    do_login(client, "alice", "wrong")
    do_login(client, "alice", "demo")
    page = client.get("/account/activity").get_data(as_text=True)
    assert "Tentative de connexion échouée" in page
    assert "Connexion" in page


def test_logout_is_post_only_and_ends_the_session(client, login_as):
    login_as("alice")
    assert client.get("/logout").status_code == 405
    token = csrf_token(client, "/")
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302
    assert client.get("/account/activity").status_code == 302


def test_logout_without_csrf_token_is_refused(client, login_as):
    login_as("alice")
    assert client.post("/logout").status_code == 400
    assert client.get("/").status_code == 200


def test_session_cookie_is_httponly_and_samesite(client):
    response = do_login(client, "alice", "demo")
    [cookie] = [c for c in response.headers.getlist("Set-Cookie") if "panel_session=" in c]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_session_is_rotated_at_login(client):
    client.get("/login")
    with client.session_transaction() as session:
        session["planted"] = "by-attacker"
    do_login(client, "alice", "demo")
    with client.session_transaction() as session:
        assert "planted" not in session


def test_next_only_redirects_to_local_paths(app):
    for target in (
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "javascript:alert(1)",
    ):
        response = do_login(app.test_client(), "alice", "demo", next=target)
        assert response.headers["Location"] == "/", target
    response = do_login(app.test_client(), "alice", "demo", next="/account/activity")
    assert response.headers["Location"] == "/account/activity"


def test_staff_sees_staff_area_and_others_get_403(client, login_as):
    login_as("alice")
    assert client.get("/staff/").status_code == 403
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    login_as("camille")
    page = client.get("/").get_data(as_text=True)
    assert "badge" in page and "Équipe" in page
    assert client.get("/staff/").status_code == 200


def test_language_switch_and_accept_language(client):
    assert "Se connecter" in client.get("/login").get_data(as_text=True)
    english = client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert "Sign in" in english.get_data(as_text=True)
    token = csrf_token(client)
    client.post("/language", data={"lang": "en", "csrf_token": token, "next": "/login"})
    page = client.get("/login").get_data(as_text=True)
    assert '<html lang="en">' in page and "Sign in" in page


def test_account_language_from_the_directory_is_used(client, login_as):
    login_as("bob")  # preferredLanguage: en
    assert '<html lang="en">' in client.get("/").get_data(as_text=True)


def test_login_is_throttled_per_login(make_app):
    app = make_app(LOGIN_LIMIT_PER_LOGIN="3 per minute")
    client = app.test_client()
    codes = [do_login(client, "alice", "wrong").status_code for _ in range(4)]
    assert codes[:3] == [422, 422, 422]
    assert codes[3] == 429
    assert "Trop de tentatives" in do_login(client, "alice", "demo").get_data(as_text=True)
    # Another login from the same address is not blocked by alice's counter.
    assert do_login(client, "zoe", "demo").status_code == 302


def test_login_is_throttled_per_address(make_app):
    app = make_app(LOGIN_LIMIT_PER_ADDRESS="2 per minute")
    client = app.test_client()
    assert do_login(client, "alice", "x").status_code == 422
    assert do_login(client, "bob", "x").status_code == 422
    assert do_login(client, "zoe", "demo").status_code == 429


def test_reauthentication_page_accepts_only_the_right_password(client, login_as):
    login_as("alice")
    with client.session_transaction() as session:
        session["reauth_at"] = (utcnow() - timedelta(hours=1)).isoformat()
    token = csrf_token(client, "/account/confirm")
    wrong = client.post("/account/confirm", data={"password": "nope", "csrf_token": token})
    assert wrong.status_code == 422
    ok = client.post(
        "/account/confirm",
        data={"password": "demo", "csrf_token": token, "next": "/account/activity"},
    )
    assert ok.headers["Location"] == "/account/activity"


def test_oversized_request_gets_413_page(make_app):
    app = make_app(MAX_CONTENT_LENGTH=1024)
    client = app.test_client()
    response = client.post("/login", data={"login": "a" * 5000, "password": "x"})
    assert response.status_code == 413
    assert "Trop volumineux" in response.get_data(as_text=True)


def test_unknown_page_gets_translated_404(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "Page introuvable" in response.get_data(as_text=True)


def test_unexpected_error_shows_500_page_without_trace(make_app):
    app = make_app()

    @app.route("/boom")
    def boom():
        raise RuntimeError("secret internals")

    app.view_functions["boom"].public = True
    response = app.test_client().get("/boom")
    assert response.status_code == 500
    page = response.get_data(as_text=True)
    assert "secret internals" not in page and "Traceback" not in page
    assert "Quelque chose s'est mal passé" in page


def test_security_headers_on_every_page(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_healthz_reports_database_and_directory(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "checks": {"database": "ok", "directory": "ok"}}


def test_language_links_switch_and_return_to_the_page(client):
    response = client.get("/language/en?next=/login")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert '<html lang="en">' in client.get("/login").get_data(as_text=True)
    assert client.get("/language/xx?next=/login").status_code == 302
    assert '<html lang="en">' in client.get("/login").get_data(as_text=True)
    away = client.get("/language/fr?next=https://evil.example/")
    assert away.headers["Location"] == "/"


def test_visitors_of_public_pages_get_no_cookie(client):
    for path in ("/incidents", "/hosting", "/services", "/legal/terms", "/charter"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "Set-Cookie" not in response.headers, path


def test_first_sign_ins_in_parallel_share_one_account(app, db_session, monkeypatch):
    """Two first sign-ins of one person race: the loser finds the winner's row, no 500."""
    from app.accounts import services
    from app.directory import Person

    person = Person("alice", "uid=alice,ou=people", "Alice", "alice@example.org", "fr")
    other = app.extensions["panel_db"].sessions()
    winner = services.sync_account(other, person, is_staff=False)
    other.commit()
    other.close()
    # This request looked before the other one committed: it saw no account.
    real_find = services.find_account
    looks: list[str] = []

    def find_late(session, uid):
        looks.append(uid)
        return None if len(looks) == 1 else real_find(session, uid)

    monkeypatch.setattr(services, "find_account", find_late)
    account = services.sync_account(db_session, person, is_staff=False)
    db_session.commit()
    assert account.id == winner.id and account.display_name == "Alice"
    assert db_session.scalar(select(func.count()).select_from(Account)) == 1


def test_password_saslprep_forbids_is_a_wrong_password_on_the_demo_directory(client):
    # Bidirectional text and U+202E cannot be sent in a bind: no outage page, just "wrong".
    for password in ("pass\u202eword", "\u05d0a", "\U000e0001"):
        response = do_login(client, "alice", password)
        assert response.status_code == 422, password


def test_a_password_the_directory_cannot_even_prepare_is_just_wrong(client, login_as):
    for password in ("\xad", "a\u0000b", "\U0003db83"):
        assert do_login(client, "alice", password).status_code == 422, repr(password)
    login_as("alice")
    token = csrf_token(client, "/account/confirm")
    response = client.post("/account/confirm", data={"password": "\xad", "csrf_token": token})
    assert response.status_code == 422


def test_the_account_page_templates_issue_no_queries(app, client, login_as):
    """The view gathers each card's data (terms, disruptions); the templates only show it."""
    from flask import before_render_template, template_rendered
    from sqlalchemy import event

    from app.db import session_scope
    from app.legal import services as legal

    with app.app_context(), session_scope(app) as session:
        legal.publish_version(
            session,
            "terms",
            {"fr": legal.DraftText("# Conditions\n\n## Objet\n\nLe service.\n", "Résumé.")},
            effective_on=(utcnow() + timedelta(days=3)).date(),
            zone=ZoneInfo(app.config["BABEL_DEFAULT_TIMEZONE"]),
        )
    login_as("alice")
    rendering = []
    in_templates = []

    def started(_app, template, context):
        rendering.append(template.name)

    def finished(_app, template, context):
        rendering.pop()

    def record(_conn, _cursor, statement, *_args):
        if rendering:
            in_templates.append((rendering[-1], statement))

    engine = app.extensions["panel_db"].engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        with (
            before_render_template.connected_to(started, app),
            template_rendered.connected_to(finished, app),
        ):
            response = client.get("/")
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert response.status_code == 200
    assert "Une nouvelle version" in response.get_data(as_text=True)  # the terms card is there
    assert in_templates == []
