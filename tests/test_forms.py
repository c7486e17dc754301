"""Forms show what went wrong where the person is looking, and limits say when to retry."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from helpers import csrf_token, do_login


def test_support_step_one_sent_without_a_service_says_so(client, login_as):
    login_as("alice")
    page = client.get("/support/new")
    assert 'name="step"' in page.get_data(as_text=True)
    # No radio chosen: the browser sends only the hidden step field.
    response = client.get("/support/new?step=1")
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert 'id="form-errors"' in body
    assert "Choisissez un service dans la liste." in body


def test_a_required_list_starts_with_a_choice_nobody_picks_by_accident(client, login_as):
    login_as("alice")
    body = client.get("/support/new?service=mail").get_data(as_text=True)
    kind = re.search(r'<select[^>]*id="category"[^>]*>\s*<option([^>]*)>([^<]*)<', body)
    assert kind and 'value=""' in kind[1] and kind[2] == "Choisissez le type de demande"
    service = re.search(r'<select[^>]*id="service"[^>]*>(.*?)</select>', body, re.S)
    assert service and re.search(r'<option selected value="mail">', service[1])


def test_too_many_sign_ins_say_when_to_try_again(make_app):
    app = make_app(LOGIN_LIMIT_PER_LOGIN="3 per hour")
    client = app.test_client()
    for _ in range(3):
        assert do_login(client, "alice", "wrong").status_code == 422
    refused = do_login(client, "alice", "demo")
    assert refused.status_code == 429
    text = refused.get_data(as_text=True)
    found = re.search(r"Vous pourrez réessayer dans (\d+)\xa0(minutes?|heure), à (\d\d:\d\d)", text)
    assert found, text
    minutes = 60 if found[2] == "heure" else int(found[1])
    assert 55 <= minutes <= 60


def test_the_export_limit_says_when_to_try_again_in_english(make_app):
    app = make_app(EXPORT_LIMIT="1 per hour")
    client = app.test_client()
    client.get("/language/en")
    assert do_login(client, "alice", "demo").status_code == 302
    token = csrf_token(client, "/account/export")
    first = client.post("/account/export", data={"csrf_token": token})
    assert first.status_code == 200
    first.close()
    refused = client.post("/account/export", data={"csrf_token": token})
    assert refused.status_code == 429
    assert re.search(
        r"You can try again in (\d+ minutes?|1 hour), at \d\d?:\d\d", refused.get_data(as_text=True)
    ), refused.get_data(as_text=True)


@pytest.mark.browser
@pytest.mark.parametrize("javascript", [True, False])
def test_a_form_error_far_down_the_page_is_brought_into_view(live_server, chromium, javascript):
    context = chromium.new_context(
        viewport={"width": 390, "height": 844}, java_script_enabled=javascript, locale="en"
    )
    page = context.new_page()
    try:
        base = live_server.url
        page.goto(f"{base}/language/en")
        page.goto(f"{base}/login")
        page.fill("#login", "alice")
        page.fill("#password", "demo")
        page.click("button[type=submit].primary")
        page.goto(f"{base}/account/deletion")
        page.fill("#confirm_login", "not-my-login")
        page.click("button.danger[type=submit]")
        page.wait_for_load_state()
        summary = page.locator(".error-summary")
        expect(summary).to_be_visible()
        top = summary.evaluate("el => el.getBoundingClientRect().top")
        # Sub-pixel layout may leave the box a fraction of a pixel above the edge.
        assert -1 < top < 844 / 2, top
        if javascript:
            assert summary.evaluate("el => document.activeElement === el")
            summary.locator("a").first.click()
            assert page.evaluate("document.activeElement.id") == "confirm_login"
    finally:
        context.close()
