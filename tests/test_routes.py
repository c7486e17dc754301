"""Walk every endpoint of app.url_map: private by default, CSRF on POST, staff-only stays staff."""

from __future__ import annotations

import pytest
from flask import Flask
from werkzeug.routing import IntegerConverter

from app.security import view_flag
from helpers import SAMPLE_VALUES, concrete_url, csrf_token


def endpoints(app: Flask):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        yield rule


def test_every_private_endpoint_sends_anonymous_visitors_to_login(app):
    client = app.test_client()
    checked = 0
    with app.test_request_context():
        rules = list(endpoints(app))
    for rule in rules:
        if view_flag_for(app, rule.endpoint, "public"):
            continue
        url = concrete_url(rule)
        if view_flag_for(app, rule.endpoint, "open_to_visitors"):
            # Visitors get a page of their own (public home, how support works).
            response = client.get(url)
            assert response.status_code == 200, rule.rule
            assert 'name="password"' not in response.get_data(as_text=True), rule.rule
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method)
            assert response.status_code in (302, 400), (rule.rule, method, response.status_code)
            if method == "GET":
                assert response.headers["Location"].startswith("/login"), rule.rule
            checked += 1
    assert checked >= 3


def test_only_the_home_and_support_have_a_page_for_visitors(app):
    with app.test_request_context():
        rules = list(endpoints(app))
    open_ones = {r.endpoint for r in rules if view_flag_for(app, r.endpoint, "open_to_visitors")}
    assert open_ones == {"accounts.overview", "support.index"}


def view_flag_for(app: Flask, endpoint: str, flag: str) -> bool:
    with app.test_request_context():
        return view_flag(endpoint, flag)


def test_every_post_without_csrf_token_is_refused(app, login_as):
    client = login_as("camille")  # staff: reaches every endpoint
    posts = [r for r in endpoints(app) if "POST" in r.methods]
    assert posts, "no POST endpoint found"
    for rule in posts:
        response = client.post(concrete_url(rule), data={"anything": "1"})
        assert response.status_code in (400, 404), (rule.rule, response.status_code)
        if response.status_code == 400:
            assert "formulaire a expiré" in response.get_data(as_text=True), rule.rule
    # Still signed in: the refused POSTs changed nothing (logout among them).
    assert client.get("/").status_code == 200


def test_staff_endpoints_refuse_hosted_users(app, login_as):
    client = login_as("alice")
    staff_rules = [r for r in endpoints(app) if view_flag_for(app, r.endpoint, "staff_only")]
    assert any(r.endpoint == "staff.home" for r in staff_rules)
    for rule in staff_rules:
        if "GET" in rule.methods:
            response = client.get(concrete_url(rule))
            assert response.status_code in (403, 404), (rule.rule, response.status_code)
            if response.status_code == 403:
                assert "Accès refusé" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "target",
    ["https://evil.example", "//evil.example", "/\\evil.example", "http:/evil.example", "\t//evil"],
)
def test_open_redirects_are_refused_everywhere_next_is_read(app, target):
    from helpers import csrf_token

    client = app.test_client()
    token = csrf_token(client)
    for path, data in (
        ("/language", {"lang": "en", "next": target}),
        ("/login", {"login": "alice", "password": "demo", "next": target}),
    ):
        response = client.post(path, data={**data, "csrf_token": token})
        location = response.headers.get("Location", "")
        assert location.startswith("/") and not location.startswith("//"), (path, location)
        assert "evil" not in location


HUGE_ID = "9" * 30
NON_FORM_BODIES = ("[1,2,3]", '{"password": 1}', '{"login": ["a"], "password": null}', '"x"')


def test_no_route_answers_5xx_to_a_30_digit_id(app, login_as):
    client = login_as("camille")
    token = csrf_token(client, "/")
    huge = {**SAMPLE_VALUES, "int": HUGE_ID}
    checked = 0
    for rule in endpoints(app):
        if not any(isinstance(c, IntegerConverter) for c in rule._converters.values()):
            continue
        url = concrete_url(rule, huge)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            data = {"csrf_token": token} if method == "POST" else None
            response = client.open(url, method=method, data=data)
            assert response.status_code == 404, (rule.rule, method, response.status_code)
            checked += 1
    assert checked > 10
    anonymous = app.test_client()
    assert anonymous.get(f"/incidents/{HUGE_ID}").status_code == 404
    assert anonymous.get(f"/incidents/{2**63}").status_code == 404


def test_no_form_route_answers_5xx_to_a_json_body(app, login_as):
    anonymous = app.test_client()
    token = csrf_token(anonymous, "/login")
    for body in NON_FORM_BODIES:
        response = anonymous.post(
            "/login", data=body, content_type="application/json", headers={"X-CSRFToken": token}
        )
        assert response.status_code == 415, (body, response.status_code)
        assert "Format non pris en charge" in response.get_data(as_text=True)
    client = login_as("camille")
    token = csrf_token(client, "/")
    for rule in endpoints(app):
        if "POST" not in rule.methods:
            continue
        for body in NON_FORM_BODIES:
            response = client.post(
                concrete_url(rule),
                data=body,
                content_type="application/json",
                headers={"X-CSRFToken": token},
            )
            assert response.status_code in (404, 415), (rule.rule, body, response.status_code)
        response = client.post(
            concrete_url(rule),
            data="a=1",
            content_type="text/plain",
            headers={"X-CSRFToken": token},
        )
        assert response.status_code in (404, 415), (rule.rule, response.status_code)
    assert client.get("/").status_code == 200  # nothing signed the staff member out
