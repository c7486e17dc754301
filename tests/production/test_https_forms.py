"""Forms work over HTTPS as browsers send them; other origins are refused at the door.

The Flask test client talks HTTPS here (`base_url="https://…"`), so Flask-WTF's strict
Referer check applies as it does behind nginx in production. Each request carries what a
browser sends after reading the page's own Referrer-Policy.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from helpers import CSRF_RE

BASE = "https://panel.example.org"


class HttpsClient:
    """The Flask test client, every request over HTTPS to one address."""

    def __init__(self, app: Any, base: str) -> None:
        self.client = app.test_client()
        self.base = base

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(path, base_url=self.base, **kw)

    def post(self, path: str, **kw: Any) -> Any:
        return self.client.post(path, base_url=self.base, **kw)


def csrf_token(client: HttpsClient, path: str) -> str:
    match = CSRF_RE.search(client.get(path).get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def browser_headers(policy: str, page: str) -> dict[str, str]:
    """Referer and Origin a browser attaches to a same-origin form POST sent from `page`."""
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(page))
    if policy == "no-referrer":
        return {"Origin": "null"}  # Chromium: no Referer, and the origin hidden too
    assert policy in ("same-origin", "strict-origin-when-cross-origin", "origin"), policy
    return {"Origin": origin, "Referer": page}


@pytest.fixture
def https_client(make_app) -> HttpsClient:
    return HttpsClient(make_app(BASE_URL=BASE), BASE)


def test_signing_in_over_https_works_with_what_the_browser_sends(https_client):
    page = https_client.get("/login")
    policy = page.headers["Referrer-Policy"]
    token = csrf_token(https_client, "/login")
    response = https_client.post(
        "/login",
        data={"login": "alice", "password": "demo", "csrf_token": token},
        headers=browser_headers(policy, f"{BASE}/login"),
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    assert policy == "same-origin"  # other sites still get no Referer from the panel


@pytest.mark.parametrize(
    "origin",
    ["null", "https://evil.example", "http://panel.example.org", "https://panel.example.org:x"],
)
def test_a_post_from_another_origin_is_refused_even_with_a_valid_token(https_client, origin):
    token = csrf_token(https_client, "/login")
    response = https_client.post(
        "/login",
        data={"login": "alice", "password": "demo", "csrf_token": token},
        headers={"Origin": origin, "Referer": f"{BASE}/login"},
    )
    assert response.status_code == 403
    assert "envoyé depuis un autre site" in response.get_data(as_text=True)


def test_without_an_origin_header_the_token_decides(https_client):
    token = csrf_token(https_client, "/login")
    referer = {"Referer": f"{BASE}/login"}
    refused = https_client.post(
        "/login", data={"login": "alice", "password": "demo"}, headers=referer
    )
    assert refused.status_code == 400
    accepted = https_client.post(
        "/login",
        data={"login": "alice", "password": "demo", "csrf_token": token},
        headers=referer,
    )
    assert accepted.status_code == 302


def test_one_click_unsubscribe_is_still_accepted_from_a_mail_provider(https_client):
    """RFC 8058: the provider posts from its own servers; the signed token is the authority."""
    response = https_client.post(
        "/incidents/unsubscribe/not-a-valid-token",
        data={"List-Unsubscribe": "One-Click"},
        headers={"Origin": "https://mail.provider.example"},
    )
    assert response.status_code == 404  # the token decided, not the origin


def test_hsts_only_when_the_panel_owns_its_host(make_app):
    own_host = HttpsClient(make_app(BASE_URL=BASE), BASE)
    assert "max-age=" in own_host.get("/login").headers["Strict-Transport-Security"]
    under_a_path = HttpsClient(
        make_app(BASE_URL="https://example.org/panel"), "https://example.org/panel"
    )
    response = under_a_path.get("/login")
    assert response.status_code == 200
    assert "Strict-Transport-Security" not in response.headers


def test_subscription_forms_post_back_under_the_mount_prefix(make_app):
    """Under https://example.org/panel nginx only passes /panel/… to the panel."""
    from app.db import session_scope
    from app.incidents import subscriptions as subs

    app = make_app(BASE_URL="https://example.org/panel")
    with session_scope(app) as session:
        row = subs.request_subscription(
            session, email="lea@example.org", services=[], known_services=[], language="fr"
        )
        assert row is not None
        confirm = subs.make_token("test-secret", "confirm", row)
        subs.confirm_subscription(session, row)
        manage = subs.make_token("test-secret", "manage", row)
        unsubscribe = subs.make_token("test-secret", "unsubscribe", row)
    client = HttpsClient(app, "https://example.org/panel")
    for path in (
        f"/incidents/subscription/confirm/{confirm}",
        f"/incidents/subscription/{manage}",
        f"/incidents/unsubscribe/{unsubscribe}",
    ):
        page = client.get(path)
        assert page.status_code == 200, path
        assert f'action="/panel{path}"' in page.get_data(as_text=True)
