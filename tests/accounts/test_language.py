"""The language chosen with the switch is the person's: kept on the account, used for the
pages after every sign-in and for every mail to them."""

from __future__ import annotations

from sqlalchemy import select

from app.accounts.models import Account
from app.db import session_scope
from helpers import csrf_token, do_login


def sign_in(app, login: str, **headers: str):
    client = app.test_client()
    client.environ_base.update(
        {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
    )
    response = do_login(client, login, "demo")
    assert response.status_code == 302
    return client


def sign_out(client) -> None:
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})


def test_the_language_chosen_is_kept_for_the_next_sign_in_on_another_browser(make_app):
    app = make_app()
    bob = sign_in(app, "bob")  # the directory says English
    assert '<html lang="en">' in bob.get("/").get_data(as_text=True)
    bob.get("/language/fr?next=/")
    sign_out(bob)
    with session_scope(app) as session:
        account = session.scalars(select(Account).where(Account.uid == "bob")).one()
        assert account.chosen_language == "fr"
        assert account.language == "en"  # the directory's value is still mirrored as is
    again = sign_in(app, "bob", **{"Accept-Language": "en"})
    page = again.get("/").get_data(as_text=True)
    assert '<html lang="fr">' in page
    assert "Bienvenue, Bob Smith." in page


def test_welcome_is_in_the_language_of_the_page_it_appears_on(make_app):
    app = make_app()
    # A French browser, an English-speaking person (the directory's preferredLanguage).
    bob = sign_in(app, "bob", **{"Accept-Language": "fr"})
    page = bob.get("/").get_data(as_text=True)
    assert '<html lang="en">' in page
    assert "Welcome, Bob Smith." in page
    assert "Bienvenue" not in page


def test_a_choice_made_before_signing_in_is_stored_on_the_account(make_app):
    app = make_app()
    client = app.test_client()
    client.get("/language/en?next=/login")
    assert do_login(client, "alice", "demo").status_code == 302  # the directory says French
    assert '<html lang="en">' in client.get("/").get_data(as_text=True)
    with session_scope(app) as session:
        account = session.scalars(select(Account).where(Account.uid == "alice")).one()
        assert account.chosen_language == "en"


def test_mail_follows_the_language_chosen_not_the_directorys(make_app, smtp):
    app = make_app(SMTP_URL=smtp.url, DELETION_GRACE_DAYS=7)
    bob = sign_in(app, "bob")
    bob.get("/language/fr?next=/")
    token = csrf_token(bob, "/account/deletion")
    response = bob.post(
        "/account/deletion",
        data={"confirm_login": "bob", "receipt_to": "bob@example.net", "csrf_token": token},
    )
    assert response.status_code == 302
    subjects = [m["Subject"] for m in smtp.messages]
    assert any("Votre demande de suppression" in s for s in subjects), subjects
