"""Random data posted to every form: never a 5xx, and nothing changes without a CSRF token."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.db import Base, session_scope
from helpers import concrete_url, csrf_token, do_login

INPUT_NAME = re.compile(r'<(?:input|textarea|select)[^>]*\bname="([^"]+)"')
COMMON_FIELDS = ["login", "password", "next", "lang", "subject", "body", "summary", "title"]

# Posting to these would end the fuzzing staff member's own session.
SIGNS_OUT = {"accounts.logout", "sessions.end_all", "sessions.staff_end_all"}

text_values = st.one_of(
    st.text(max_size=300),
    st.sampled_from(
        ["", "0", "-1", "99999999999", "2026-02-30", "<script>x</script>", "\x00", "%00"]
    ),
    # Edges: integers no column holds, dates at the ends of the calendar, invisible text.
    st.sampled_from(
        [
            "9" * 30,
            str(2**63),
            "-" + "9" * 20,
            "0001-01-01",
            "9999-12-31",
            "0000-00-00",
            "0001-01-01T00:00",
            "9999-12-31T23:59",
        ]
    ),
    st.sampled_from(["\u200b", "\ufeff", "\u200b\ufeff \u200b", "\u2028", "\u00ad"]),
)


def post_rules(app):
    return [r for r in app.url_map.iter_rules() if "POST" in r.methods and r.endpoint != "static"]


def field_names(client, url: str) -> list[str]:
    response = client.get(url)
    names = set(COMMON_FIELDS)
    if response.status_code == 200:
        names.update(INPUT_NAME.findall(response.get_data(as_text=True)))
    names.discard("csrf_token")
    return sorted(names)


def row_counts(app) -> dict[str, int]:
    with session_scope(app) as session:
        return {
            table.name: int(session.scalar(select(func.count()).select_from(table)) or 0)
            for table in Base.metadata.sorted_tables
        }


def test_random_posts_never_cause_a_server_error(app):
    client = app.test_client()
    do_login(client, "camille", "demo")  # staff: every form is reachable
    rules = post_rules(app)
    assert rules
    for rule in rules:
        if rule.endpoint in SIGNS_OUT:
            continue
        url = concrete_url(rule)
        names = field_names(client, url)

        fuzz_one_form(client, url, names)


def fuzz_one_form(client, url: str, names: list[str]) -> None:
    @settings(
        max_examples=12,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(data=st.fixed_dictionaries({}, optional={n: text_values for n in names}))
    def post_random(data):
        token = csrf_token(client, "/")
        response = client.post(url, data={**data, "csrf_token": token})
        assert response.status_code < 500, (url, data, response.status_code)

    post_random()


def test_posts_without_csrf_token_change_nothing(app):
    client = app.test_client()
    do_login(client, "camille", "demo")
    before = row_counts(app)
    for rule in post_rules(app):
        url = concrete_url(rule)
        for data in ({}, {n: "1" for n in field_names(client, url)}):
            response = client.post(url, data=data)
            assert response.status_code in (400, 404), (url, response.status_code)
    assert row_counts(app) == before


def test_edge_values_get_a_field_error_not_a_500(app):
    client = app.test_client()
    do_login(client, "camille", "demo")
    token = csrf_token(client, "/")
    for title in ("\u200b", "\ufeff\u200b", "\u200b \u3164"):
        response = client.post(
            "/staff/incidents/new",
            data={
                "csrf_token": token,
                "title": title,
                "body": "Mail is slow.",
                "impact": "minor",
                "services": "mail",
                "visibility": "public",
            },
        )
        assert response.status_code == 422, repr(title)
    # NUL never reaches a query: PostgreSQL could not even compare it.
    response = client.post("/staff/incidents/new", data={"csrf_token": token, "title": "a\x00b"})
    assert response.status_code == 422
    assert client.get("/staff/tickets?q=%00").status_code == 400
    visitor = app.test_client()
    nul_login = {"csrf_token": csrf_token(visitor), "login": "zoe\x00", "password": "demo"}
    assert visitor.post("/login", data=nul_login).status_code == 422
    for started in ("0001-01-01T00:00", "9999-12-31T23:59"):
        response = client.post(
            "/staff/incidents/new",
            data={
                "csrf_token": token,
                "title": "Slow mail",
                "body": "Mail is slow.",
                "impact": "minor",
                "services": "mail",
                "visibility": "public",
                "started_at": started,
            },
        )
        assert response.status_code == 422, started
    for day in ("0001-01-01", "9999-12-31"):
        response = client.post(
            "/staff/legal/terms/publish",
            data={"csrf_token": token, "effective_on": day, "body_fr": "Texte", "summary_fr": "R"},
        )
        assert response.status_code == 422, day
        assert "Choisissez une date entre le" in response.get_data(as_text=True)
    for page in ("/legal/terms/diff?from=\u00b2&to=1", "/staff/tickets?assignee=" + "9" * 30):
        assert client.get(page).status_code < 500, page


def test_invisible_ticket_subjects_are_refused(app):
    client = app.test_client()
    do_login(client, "alice", "demo")
    token = csrf_token(client, "/support/new?service=cloud")
    for subject in ("\u200b", "\ufeff", "\u200b\u00ad\u2060"):
        response = client.post(
            "/support/new",
            data={
                "csrf_token": token,
                "subject": subject,
                "service": "cloud",
                "category": "question",
                "body": "Mon agenda est vide.",
            },
        )
        assert response.status_code == 422, repr(subject)
