"""Absolute links come from BASE_URL, never from the Host header a client sends."""

from __future__ import annotations

from flask import Flask, url_for

from helpers import csrf_token, do_login

BASE = "https://panel.example.org/panel"


def test_a_forged_host_never_reaches_the_staff_mail(make_app, smtp, tmp_path):
    app = make_app(
        BASE_URL=BASE,
        SMTP_URL=smtp.url,
        SUPPORT_STAFF_EMAIL="team@demo.chatons.org",
        SUPPORT_ATTACHMENT_DIR=str(tmp_path / "attachments"),
    )
    client = app.test_client()
    do_login(client, "alice", "demo")
    token = csrf_token(client, "/support/new?service=cloud")
    # The same browser session, sent with a forged Host header.
    cookie = client.get_cookie("panel_session").value
    client.set_cookie("panel_session", cookie, domain="evil.example")
    response = client.post(
        "/support/new",
        base_url="http://evil.example",
        data={
            "csrf_token": token,
            "subject": "Partage",
            "service": "cloud",
            "category": "question",
            "body": "Comment partager un dossier ?",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    [mail] = smtp.messages
    text = mail.get_content()
    assert "evil.example" not in text
    assert f"{BASE}/staff/tickets/1" in text


def test_feeds_and_chatonsinfos_use_the_configured_address(make_app):
    client = make_app(BASE_URL=BASE).test_client()
    evil = {"Host": "evil.example"}
    feed = client.get("/incidents.atom", headers=evil).get_data(as_text=True)
    assert "evil.example" not in feed and f"{BASE}/incidents" in feed
    properties = client.get("/.well-known/chatonsinfos/organization.properties", headers=evil)
    assert properties.status_code == 200
    text = properties.get_data(as_text=True)
    assert "evil.example" not in text and BASE in text


def test_links_inside_pages_stay_relative(make_app):
    client = make_app(BASE_URL=BASE).test_client()
    page = client.get("/login").get_data(as_text=True)
    assert 'action="/login"' in page and "panel.example.org" not in page


def test_apps_with_the_same_rule_and_other_defaults_build_their_own_urls():
    """The suite shares URL builders between the apps it builds (tests/conftest.py). A default
    for a variable of the rule is written into its builder, so two apps that differ only there
    must still build different URLs."""
    built = []
    for default in ("intro", "start"):
        app = Flask(f"docs-{default}")
        app.add_url_rule("/docs/<section>", "docs", defaults={"section": default})
        with app.test_request_context():
            built.append(url_for("docs"))
    assert built == ["/docs/intro", "/docs/start"]
