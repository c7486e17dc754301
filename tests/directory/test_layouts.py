"""Sign-in on every directory layout CHATONS run: Debian's OpenLDAP (with and without the
memberof overlay), YunoHost-shaped, LLDAP-shaped, and 389 Directory Server."""

from __future__ import annotations

import time

import pytest

import ldap_server as L
from helpers import csrf_token, do_login

# Every test here starts a real directory server.
pytestmark = pytest.mark.ldap


def test_person_with_escaped_comma_and_accents_signs_in_and_is_staff(make_app, directory_server):
    client = make_app(**directory_server.settings()).test_client()
    assert do_login(client, L.ACCENTED_UID, L.PASSWORD).status_code == 302
    assert "Lefèvre, Zoé" in client.get("/").get_data(as_text=True)
    assert client.get("/staff/").status_code == 200


def test_person_outside_the_staff_group_gets_403_on_staff_pages(make_app, directory_server):
    client = make_app(**directory_server.settings()).test_client()
    assert do_login(client, "alice", L.PASSWORD).status_code == 302
    assert client.get("/staff/").status_code == 403


def test_wrong_password_is_422_not_an_outage(make_app, directory_server):
    client = make_app(**directory_server.settings()).test_client()
    assert do_login(client, "alice", "wrong").status_code == 422
    # U+202E is forbidden by SASLprep: no bind can succeed, so it is a wrong password.
    assert do_login(client, "alice", "pass\u202eword").status_code == 422
    assert client.get("/healthz").status_code == 200


def test_doctor_says_the_directory_is_fine(make_app, directory_server):
    app = make_app(**directory_server.settings())
    result = app.test_cli_runner().invoke(args=["doctor"])
    lines = [line for line in result.output.splitlines() if " directory: " in line]
    assert lines and all(line.startswith("ok") for line in lines), result.output
    assert any("people: the user filter finds people" in line for line in lines)
    assert any(directory_server.layout.staff_group in line for line in lines)


def test_stopped_directory_answers_503_within_the_timeout_then_recovers(make_app, directory_server):
    app = make_app(**directory_server.settings(LDAP_TIMEOUT=2))
    directory_server.stop()
    try:
        client = app.test_client()
        token = csrf_token(client)
        started = time.monotonic()
        answer = client.post(
            "/login", data={"login": "alice", "password": L.PASSWORD, "csrf_token": token}
        )
        assert answer.status_code == 503
        assert time.monotonic() - started < 5
        assert app.test_client().get("/healthz").json["checks"]["directory"] == "unavailable"
    finally:
        directory_server.start()
    assert app.test_client().get("/healthz").status_code == 200
    assert do_login(app.test_client(), "alice", L.PASSWORD).status_code == 302


def _detected_settings(output: str, server) -> dict:
    """The PANEL_LDAP_* lines detect printed, as app settings (shell quoting undone)."""
    import json
    import shlex

    config = {}
    for line in output.splitlines():
        if line.startswith("PANEL_LDAP_"):
            key, _sep, value = line.partition("=")
            value = shlex.split(value)[0] if value else ""
            config[key.removeprefix("PANEL_")] = (
                json.loads(value) if key == "PANEL_LDAP_ATTRIBUTES" else value
            )
    config["LDAP_BIND_PASSWORD"] = L.SERVICE_PW
    return config


def test_detect_proposes_settings_people_sign_in_with(make_app, directory_server):
    bare = {
        "LDAP_URL": directory_server.url,
        "LDAP_BIND_DN": directory_server.layout.service_dn,
        "LDAP_BIND_PASSWORD": L.SERVICE_PW,
    }
    result = make_app(**bare).test_cli_runner().invoke(args=["directory", "detect"])
    assert result.exit_code == 0, result.output
    detected = _detected_settings(result.output, directory_server)
    assert detected["LDAP_USER_BASE"] == directory_server.layout.people
    app = make_app(**detected)
    client = app.test_client()
    assert do_login(client, L.ACCENTED_UID, L.PASSWORD).status_code == 302, result.output
    assert client.get("/staff/").status_code == 200, result.output
    other = app.test_client()
    assert do_login(other, "alice", L.PASSWORD).status_code == 302
    assert other.get("/staff/").status_code == 403
    doctor = app.test_cli_runner().invoke(args=["doctor"])
    assert "PROBLEM  directory" not in doctor.output, result.output + doctor.output
