"""Two gunicorn instances on one database and one Redis behave as one panel."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from http_client import Browser


def test_a_session_from_one_instance_works_on_the_other(start_instance):
    first, second = start_instance(), start_instance()
    browser = Browser()
    assert browser.login(first.url, "alice").status == 302
    page = browser.request(f"{second.url}/")
    assert page.status == 200 and "Alice Martin" in page.text


def test_login_throttling_counts_across_instances(start_instance, redis_url):
    settings = {"RATELIMIT_STORAGE_URL": redis_url, "LOGIN_LIMIT_PER_LOGIN": "4 per minute"}
    first, second = start_instance(**settings), start_instance(**settings)
    login = f"nobody-{uuid.uuid4().hex[:6]}"
    codes = [Browser().login(server.url, login, "x").status for server in (first, second) * 2]
    assert codes == [422, 422, 422, 422]
    assert Browser().login(first.url, login, "x").status == 429
    assert Browser().login(second.url, login, "x").status == 429


def test_served_under_a_url_prefix(start_instance):
    instance = start_instance(script_name="/panel")
    base = f"{instance.url}/panel"
    browser = Browser()
    page = browser.request(f"{base}/login")
    assert page.status == 200
    assert 'href="/panel/static/panel.css' in page.text and 'action="/panel/login"' in page.text
    assert browser.request(f"{base}/static/panel.css").status == 200
    redirect = browser.request(f"{base}/account/activity")
    assert redirect.location == "/panel/login?next=/panel/account/activity"
    token = browser.token(f"{base}/login")
    signed_in = browser.request(
        f"{base}/login",
        {
            "login": "alice",
            "password": "demo",
            "csrf_token": token,
            "next": "/panel/account/activity",
        },
    )
    assert signed_in.location == "/panel/account/activity"
    assert browser.request(f"{base}/account/activity").status == 200


def test_a_ticket_written_through_one_instance_is_read_through_the_other(start_instance):
    first, second = start_instance(), start_instance()
    browser = Browser()
    assert browser.login(first.url, "zoe").status == 302
    token = browser.token(f"{first.url}/support/new?service=cloud")
    created = browser.request(
        f"{first.url}/support/new",
        {
            "csrf_token": token,
            "subject": "Partage de dossier",
            "service": "cloud",
            "category": "question",
            "body": "Comment partager un dossier avec une autre personne ?",
        },
    )
    assert created.status == 302 and created.location
    page = browser.request(f"{second.url}{created.location}")
    assert page.status == 200
    assert "Partage de dossier" in page.text and "partager un dossier" in page.text
    staff = Browser()
    assert staff.login(second.url, "camille").status == 302
    queue = staff.request(f"{second.url}/staff/tickets")
    assert "Partage de dossier" in queue.text


def test_feeds_and_chatonsinfos_carry_the_url_prefix(start_instance):
    instance = start_instance(script_name="/panel")
    base = f"{instance.url}/panel"
    browser = Browser()
    properties = browser.request(f"{base}/.well-known/chatonsinfos/organization.properties")
    assert properties.status == 200
    assert f"{base}/.well-known/chatonsinfos/cloud.properties" in properties.text
    feed = browser.request(f"{base}/incidents.atom")
    assert feed.status == 200 and f"{base}/incidents" in feed.text


def test_a_cookie_copied_before_sign_out_is_refused_by_every_instance(start_instance, redis_url):
    first, second = (start_instance(SESSION_STORE=redis_url) for _ in range(2))
    alice, thief = Browser(), Browser()
    assert alice.login(first.url, "alice").status == 302
    alice.share_cookies_with(thief)
    assert thief.request(f"{second.url}/account/activity").status == 200
    token = alice.token(f"{second.url}/")
    assert alice.request(f"{second.url}/logout", {"csrf_token": token}).status == 302
    for server in (first, second):
        replay = thief.request(f"{server.url}/account/export")
        assert replay.status == 302 and "/login" in (replay.location or ""), server.url


def test_preloaded_workers_each_use_their_own_connections(start_instance, redis_url):
    """PANEL_PRELOAD: the workers, forked from the master that loaded the panel, share no
    connection to PostgreSQL or Redis; concurrent requests through both stay correct."""
    settings = {
        "PRELOAD": "true",
        "SESSION_STORE": redis_url,
        "RATELIMIT_STORAGE_URL": redis_url,
        "QUEUE_URL": redis_url,
    }
    instance = start_instance(workers=2, **settings)
    browsers = [Browser() for _ in range(4)]
    for browser, login in zip(browsers, ("alice", "bob", "zoe", "alice"), strict=True):
        assert browser.login(instance.url, login).status == 302

    def visit(browser: Browser) -> list[int]:
        return [browser.request(f"{instance.url}{path}").status for path in ("/", "/support") * 5]

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = [status for found in pool.map(visit, browsers) for status in found]
    assert statuses == [200] * 40, instance.errors()
    assert "Error" not in instance.log.read_text(errors="replace"), instance.errors()
