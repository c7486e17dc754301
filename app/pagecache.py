"""Whole public pages for visitors, rendered once per page, language and version.

A visitor without a session cookie sees exactly the same `/hosting` as every other visitor
who reads the same language: no name, no flash message, no CSRF token (the layout asks for
one only when someone is signed in, and a page that makes one is never kept). So a view
marked `@cached_for_visitors(version)` is rendered once for them, and the next visitors get
the stored bytes before any other hook or the view runs. The key holds the page's address,
the visitor's language and what `version()` returns (the loaded hoster.toml and the day,
for the hoster pages); a restart starts empty. Anyone with a session cookie (signed in,
or a visitor who chose a language or has a message waiting) gets the page rendered for
them, as before. The answers say `Vary: Cookie, Accept-Language`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, request, session

from app.accounts.sso import header_login
from app.extensions import running_app

F = TypeVar("F", bound=Callable[..., Any])

CACHE = "panel_visitor_pages"
_PENDING = "panel_visitor_page_key"
# Pages x languages x versions x query strings: a bound, since a query string is anyone's.
MAX_PAGES = 256


@dataclass(frozen=True)
class StoredPage:
    body: bytes
    mimetype: str


class PageCache:
    def __init__(self) -> None:
        self._pages: dict[Hashable, StoredPage] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> StoredPage | None:
        return self._pages.get(key)

    def put(self, key: Hashable, page: StoredPage) -> None:
        with self._lock:
            if len(self._pages) >= MAX_PAGES:
                self._pages.clear()
            self._pages[key] = page

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()


def cached_for_visitors(version: Callable[[], Hashable]) -> Callable[[F], F]:
    """Serve this public view's page to visitors without a session from memory; `version()`
    names what the page is made of (it is part of the key: a new value, a new rendering)."""

    def mark(view: F) -> F:
        view.visitor_cache = version  # type: ignore[attr-defined]
        return view

    return mark


def _visitor_key(app: Flask) -> Hashable | None:
    """The key of this request's page, or None when it must be rendered for the reader."""
    if request.method != "GET" or request.endpoint is None:
        return None
    version = getattr(app.view_functions.get(request.endpoint), "visitor_cache", None)
    if version is None or app.session_interface.get_cookie_name(app) in request.cookies:
        return None

    if header_login():
        return None  # the reverse proxy signs this person in
    languages = app.config["LANGUAGES"]
    # What select_locale answers for someone with no session and no account.
    language = request.accept_languages.best_match(languages) or languages[0]
    return (request.endpoint, request.script_root, request.full_path, language, version())


def serve_stored_page() -> Response | None:
    app: Flask = running_app()
    key = _visitor_key(app)
    if key is None:
        return None
    cache: PageCache = app.extensions[CACHE]
    found = cache.get(key)
    if found is None:
        setattr(g, _PENDING, key)  # rendered by the view, stored after it
        return None
    return Response(found.body, mimetype=found.mimetype)


def store_page(response: Response) -> Response:
    key = g.pop(_PENDING, None)
    if key is not None or _is_marked():
        response.vary.add("Cookie")
    if (
        key is not None
        and response.status_code == 200
        and not response.direct_passthrough
        and not response.headers.get("Set-Cookie")
        # Nothing was put in the session (a CSRF token, a message): the page is anyone's.
        and not session
        and not getattr(session, "modified", False)
    ):
        current_app.extensions[CACHE].put(
            key, StoredPage(response.get_data(), response.mimetype or "text/html")
        )
    return response


def _is_marked() -> bool:
    view = current_app.view_functions.get(request.endpoint or "")
    return getattr(view, "visitor_cache", None) is not None


def init_app(app: Flask) -> None:
    app.extensions[CACHE] = PageCache()
    # First of all the hooks: a stored page needs no guard, session or database.
    app.before_request_funcs.setdefault(None, []).insert(0, serve_stored_page)
    app.after_request(store_page)
