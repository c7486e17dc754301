"""Public pages kept for visitors: the same bytes for everyone who has no session, never a
page made for someone, and each language its own."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, template_rendered

FR = {"Accept-Language": "fr"}
EN = {"Accept-Language": "en"}


@contextmanager
def renderings(app: Flask) -> Iterator[list[str]]:
    seen: list[str] = []

    def rendered(_sender: Any, template: Any, **_extra: Any) -> None:
        seen.append(template.name)

    template_rendered.connect(rendered, app)
    try:
        yield seen
    finally:
        template_rendered.disconnect(rendered, app)


def test_a_visitor_gets_the_hosting_page_rendered_for_the_visitor_before(app, client):
    first = client.get("/hosting", headers=FR)
    assert first.status_code == 200
    with renderings(app) as seen:
        again = app.test_client().get("/hosting", headers=FR)
    assert again.status_code == 200
    assert seen == []
    assert again.get_data() == first.get_data()
    # Shared caches must keep one copy per language, and none for people with a cookie.
    assert {"Cookie", "Accept-Language"} <= set(again.vary)
    assert again.headers["Content-Security-Policy"] == first.headers["Content-Security-Policy"]
    assert "Set-Cookie" not in again.headers


def test_each_language_has_its_own_page(app):
    french = app.test_client().get("/services", headers=FR).get_data(as_text=True)
    english = app.test_client().get("/services", headers=EN).get_data(as_text=True)
    assert app.test_client().get("/services", headers=EN).get_data(as_text=True) == english
    assert 'lang="fr"' in french
    assert 'lang="en"' in english


def test_a_signed_in_person_gets_a_page_made_for_them(app, client, login_as):
    visitors = client.get("/hosting", headers=FR).get_data(as_text=True)
    assert "csrf_token" not in visitors
    person = login_as("alice")
    page = person.get("/hosting", headers=FR).get_data(as_text=True)
    assert 'action="/logout"' in page
    assert "csrf_token" in page
    assert "Cookie" in person.get("/hosting", headers=FR).vary


def test_a_visitor_who_chose_a_language_reads_it_not_the_browsers(app, client):
    assert 'lang="fr"' in app.test_client().get("/charter", headers=FR).get_data(as_text=True)
    client.get("/language/en")  # the switch keeps the choice in a session
    page = client.get("/charter", headers=FR).get_data(as_text=True)
    assert 'lang="en"' in page


def test_a_page_that_put_something_in_the_session_is_not_kept(app):
    from app.pagecache import CACHE, cached_for_visitors
    from app.security import public_endpoint

    @app.get("/test-token")
    @public_endpoint
    @cached_for_visitors(lambda: 1)
    def with_token() -> str:
        from flask_wtf.csrf import generate_csrf

        return generate_csrf()

    first = app.test_client().get("/test-token").get_data(as_text=True)
    second = app.test_client().get("/test-token").get_data(as_text=True)
    assert first != second  # each visitor got a token of their own
    assert len(app.extensions[CACHE]._pages) == 0


def test_a_new_version_renders_the_page_again(app, monkeypatch):
    from app.disclosure import views

    app.test_client().get("/hosting", headers=FR)
    monkeypatch.setattr(views, "local_today", lambda _zone: "the next day")
    with renderings(app) as seen:
        assert app.test_client().get("/hosting", headers=FR).status_code == 200
    assert seen == ["hosting/hosting.html"]
