"""Opt-in single sign-on: trust a user header set by the reverse proxy's SSO portal.

With REMOTE_USER_HEADER set, a request whose *direct* peer is one of REMOTE_USER_PROXIES and
that carries the header is signed in as that directory person (looked up in LDAP, staff from
the group as usual). From any other address the header is ignored, so a client cannot forge
it by talking to the panel directly. A unix socket (gunicorn's `PANEL_BIND=unix:…`) has no
peer address: it is named "unix", trusted by default, since only processes allowed to open
the socket's file reach it.

The proxy must *set* the header on every request (and the auth-time header, if used), never
pass a client's own through: a client could otherwise sign in as anyone, or make an old
session count as freshly re-authenticated.
"""

from __future__ import annotations

import time

from flask import Flask, Response, current_app, request, session
from flask_login import current_user, login_user, logout_user

from app.accounts import services
from app.db import get_session
from app.extensions import directory
from app.security import mark_reauthenticated, rotate_session

UNIX_SOCKET = "unix"


def direct_peer() -> str:
    """The address that opened the connection, before ProxyFix rewrote remote_addr;
    "unix" for a unix socket, where the server leaves REMOTE_ADDR empty."""
    original = request.environ.get("werkzeug.proxy_fix.orig")
    if original is not None:
        # ProxyFix put the client's address (from X-Forwarded-For) in REMOTE_ADDR: never
        # fall back to it, even when the original one is empty.
        peer = original.get("REMOTE_ADDR")
    else:
        peer = request.environ.get("REMOTE_ADDR")
    return str(peer) if peer else UNIX_SOCKET


def header_login() -> str | None:
    header = current_app.config.get("REMOTE_USER_HEADER")
    if not header:
        return None
    if direct_peer() not in set(current_app.config["REMOTE_USER_PROXIES"]):
        return None
    value = (request.headers.get(header) or "").strip()
    return value or None


def sso_sign_in() -> Response | None:
    uid = header_login()
    if uid is None:
        return None
    # Logins are compared as the directory compares them (uid is case-insensitive), so
    # "Alice" from the portal is the signed-in "alice", not a new sign-in on every request.
    if current_user.is_authenticated and current_user.uid.casefold() == uid.casefold():
        _note_fresh_sso_authentication()
        return None
    person = directory().lookup(uid)
    if current_user.is_authenticated:
        logout_user()
    if person is None:
        return None
    db = get_session()
    account = services.record_sign_in(db, directory(), person, method="sso")
    rotate_session()
    chosen = services.settle_language(account, session.get("lang"), current_app.config["LANGUAGES"])
    if chosen:
        session["lang"] = chosen
    # The sign-in stands whatever the page asked for answers (a 404 keeps it, too): the
    # account row the session will name must exist before the page runs.
    db.commit()
    login_user(account)
    _note_fresh_sso_authentication()
    return None


def _note_fresh_sso_authentication() -> None:
    """Count a recent SSO authentication (auth-time header) as re-authentication."""
    header = current_app.config.get("REMOTE_USER_AUTH_TIME_HEADER")
    if not header:
        return
    try:
        authenticated_at = float(request.headers.get(header, ""))
    except ValueError:
        return
    if 0 <= time.time() - authenticated_at < current_app.config["REAUTH_SECONDS"]:
        mark_reauthenticated()


def init_app(app: Flask) -> None:
    if app.config.get("REMOTE_USER_HEADER"):
        app.before_request(sso_sign_in)
