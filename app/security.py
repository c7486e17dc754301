"""Security baseline: private-by-default guard, staff marks, headers, safe redirects, re-auth."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, Response, abort, current_app, redirect, request, session, url_for
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from app.db import utcnow
from app.errors import CSRF_EXPIRED, render_error
from app.extensions import csrf

F = TypeVar("F", bound=Callable[..., Any])

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)


def _marked(view: F, flag: str) -> F:
    # The guard reads the mark back with view_flag(); a function takes any attribute.
    setattr(view, flag, True)
    return view


def public_endpoint(view: F) -> F:
    """Let visitors reach this view without an account (the only way to be public)."""
    return _marked(view, "public")


def open_to_visitors(view: F) -> F:
    """Visitors get this view's own page for them (a public home, how to reach support);
    signed-in people get the private page, with every check of a private view."""
    return _marked(view, "open_to_visitors")


def staff_required(view: F) -> F:
    """Only members of the staff group reach this view; others get 403."""
    return _marked(view, "staff_only")


def gate_exempt(view: F) -> F:
    """Reachable even while the user has not accepted new terms, so nobody is locked in."""
    return _marked(view, "gate_exempt")


def view_flag(endpoint: str | None, flag: str) -> bool:
    if endpoint is None:
        return False
    if endpoint == "static":
        return flag in ("public", "gate_exempt")
    view = current_app.view_functions.get(endpoint)
    return bool(getattr(view, flag, False))


def is_public_request() -> bool:
    return request.endpoint is None or view_flag(request.endpoint, "public")


def here() -> str:
    """The current page as a local URL, including the mount prefix (SCRIPT_NAME)."""
    return request.script_root + request.full_path.rstrip("?")


def is_safe_next(target: str | None) -> bool:
    """Only paths on this site: no scheme, no host, no protocol-relative or backslash tricks."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return False
    if "\\" in target or any(ord(c) < 32 for c in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def safe_next(target: str | None, default: str = "accounts.overview") -> str:
    return target if target and is_safe_next(target) else url_for(default)


def rotate_session() -> None:
    """Start a fresh session (sign-in, sign-out): nothing planted before survives, except
    the visitor's language choice."""
    language = session.get("lang")
    session.clear()
    regenerate = getattr(session, "regenerate", None)
    if regenerate is not None:
        regenerate()  # a new cookie value; the old one no longer opens anything
    if language:
        session["lang"] = language


def mark_reauthenticated(at: int | None = None) -> None:
    """Now, or when the identity provider last checked the password (`at`, epoch seconds)."""
    when = utcnow()
    if at is not None:
        when = min(when, datetime.fromtimestamp(at, UTC))
    session["reauth_at"] = when.isoformat()


def recently_authenticated() -> bool:
    """True if the password was typed within REAUTH_SECONDS (export and deletion need it)."""
    stamp = session.get("reauth_at")
    if not stamp:
        return False
    try:
        when = datetime.fromisoformat(stamp)
    except (TypeError, ValueError):
        return False
    return utcnow() - when < timedelta(seconds=current_app.config["REAUTH_SECONDS"])


def require_recent_auth() -> BaseResponse | None:
    """A redirect to the password page if re-authentication is due, else None. A person who
    signed in through the OpenID provider is sent back to it instead (app/oidc/)."""
    if recently_authenticated():
        return None
    ask_provider = current_app.extensions.get("panel_reauth_url")
    target = ask_provider(here()) if ask_provider else None
    return redirect(target or url_for("accounts.reauth", next=here()))


def login_guard() -> BaseResponse | None:
    """Every endpoint is private unless marked public; staff endpoints need the staff flag."""
    if is_public_request():
        return None
    if not current_user.is_authenticated:
        if view_flag(request.endpoint, "open_to_visitors"):
            return None
        target = here() if request.method == "GET" else None
        return redirect(url_for("accounts.login", next=target))
    if view_flag(request.endpoint, "staff_only") and not current_user.is_staff:
        abort(403)
    return None


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def refuse_non_form_bodies() -> None:
    """Every POST of the panel is an HTML form: a JSON or other body gets 415, before CSRF
    or a form object tries to read it as form fields."""
    if request.method not in ("POST", "PUT", "PATCH", "DELETE"):
        return
    if request.mimetype in FORM_TYPES:
        return
    if request.mimetype or request.content_length:
        abort(415)


def refuse_nul_in_query() -> None:
    """A NUL character in a query parameter is never something a person typed, and
    PostgreSQL cannot store or even compare it: 400 at the door, whatever the route.
    (Form fields get a message beside the field from the feature's own checks.)"""
    if any("\x00" in key or "\x00" in value for key, value in request.args.items(multi=True)):
        abort(400)


UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def origin_of(url: str) -> str:
    """scheme://host[:port] of an address, lower-cased, default ports left out."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}.get(scheme)
    try:
        port = parts.port
    except ValueError:  # not a port number: an origin that matches nothing
        return f"{scheme}://{host}:?"
    return f"{scheme}://{host}" if port in (None, default) else f"{scheme}://{host}:{port}"


def _csrf_exempt(endpoint: str | None) -> bool:
    """Views exempted from CSRF (RFC 8058 one-click unsubscribe): a signed token in the URL
    is their authority, and mail clients post to them from anywhere."""
    view = current_app.view_functions.get(endpoint or "")
    if view is None:
        return False
    return f"{view.__module__}.{view.__name__}" in csrf._exempt_views


def check_origin() -> None:
    """Defence in depth next to the CSRF token: a browser's unsafe request that names
    another origin, or `Origin: null` (a sandboxed frame, a no-referrer page, a data: URL),
    is refused before any form is read. Without an Origin header the token decides alone.

    The panel's origin is BASE_URL's; the demo also accepts the address it was reached at
    (http://localhost:5000 for a default BASE_URL of http://127.0.0.1:5000).
    """
    if request.method not in UNSAFE_METHODS:
        return
    origin = request.headers.get("Origin")
    if origin is None or _csrf_exempt(request.endpoint):
        return
    allowed = {origin_of(current_app.config["BASE_URL"])}
    if current_app.config.get("ENV") != "production":
        allowed.add(origin_of(request.host_url))
    if origin.strip().lower() == "null" or origin_of(origin.strip()) not in allowed:
        page, status = render_error(403, str(CSRF_EXPIRED))
        abort(Response(page, status=status, mimetype="text/html"))


@lru_cache(maxsize=8)
def hsts_value(base_url: str) -> str | None:
    """HSTS for the panel's own host, only when it owns that host (BASE_URL has no path).

    Under https://example.org/panel the host is the hoster's whole site: pinning it (and,
    with includeSubDomains, every sub-domain) is the web server's decision, not the panel's.
    """
    if urlsplit(base_url).path.strip("/"):
        return None
    return "max-age=63072000; includeSubDomains"


# The same on every answer, unless the view set its own: (name, lower-case name, value).
SECURITY_HEADERS = tuple(
    (name, name.lower(), value)
    for name, value in (
        ("Content-Security-Policy", CSP),
        ("X-Content-Type-Options", "nosniff"),
        # same-origin, not no-referrer: Flask-WTF refuses a form posted over HTTPS without a
        # same-origin Referer (WTF_CSRF_SSL_STRICT), and a browser obeying no-referrer sends
        # none. Other sites still receive no Referer from the panel's pages.
        ("Referrer-Policy", "same-origin"),
        ("X-Frame-Options", "DENY"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()"),
    )
)


def set_security_headers(response: Response) -> Response:
    headers = response.headers
    present = {name.lower() for name in headers.keys()}  # noqa: SIM118 - Headers, not a dict
    for name, lower, value in SECURITY_HEADERS:
        if lower not in present:
            headers.add(name, value)
    if request.is_secure:
        hsts = hsts_value(current_app.config["BASE_URL"])
        if hsts:
            headers.setdefault("Strict-Transport-Security", hsts)
    if session.get("_user_id"):
        # Private pages must not be kept by shared caches or the back button after logout.
        # (Read from the session, not current_user: no database query after the response.)
        headers.setdefault("Cache-Control", "no-store")
    # Pages, feeds, JSON and ChatonsInfos files are written in the reader's language.
    response.vary.add("Accept-Language")
    return response


def init_app(app: Flask) -> None:
    guards = app.before_request_funcs.setdefault(None, [])
    guards[0:0] = [refuse_non_form_bodies, refuse_nul_in_query, check_origin]
    app.after_request(set_security_headers)
