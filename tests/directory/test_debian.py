"""OpenLDAP as Debian's package configures it: truthful doctor, TLS, failover, pooling."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import ldap_server as L
from app import create_app
from app.directory import Directory, DirectorySettings
from config import ConfigError, defaults
from helpers import csrf_token, do_login

ROOT = Path(__file__).resolve().parents[2]


def directory_for(server: L.Slapd, **overrides) -> Directory:
    return Directory(DirectorySettings.from_config({**defaults(), **server.settings(**overrides)}))


def doctor(make_app, server, **overrides):
    app = make_app(**server.settings(**overrides))
    return app.test_cli_runner().invoke(args=["doctor"])


# Requests fit the schema ------------------------------------------------------------------


@pytest.mark.ldap
def test_auto_mode_never_asks_for_memberof_on_a_server_without_it(debian_slapd, slapd):
    assert "memberOf" not in directory_for(debian_slapd).wanted_attributes()
    assert "memberOf" in directory_for(slapd).wanted_attributes()


@pytest.mark.ldap
def test_every_membership_mode_signs_in_on_debian(make_app, debian_slapd):
    for mode in ("auto", "member"):
        client = make_app(**debian_slapd.settings(LDAP_STAFF_MEMBERSHIP=mode)).test_client()
        assert do_login(client, L.ACCENTED_UID, L.PASSWORD).status_code == 302
        assert client.get("/staff/").status_code == 200


# flask doctor tells the truth ---------------------------------------------------------


@pytest.mark.ldap
def test_doctor_names_memberof_mode_without_the_overlay(make_app, debian_slapd):
    result = doctor(make_app, debian_slapd, LDAP_STAFF_MEMBERSHIP="memberOf")
    assert result.exit_code == 1
    assert "no memberOf attribute (no memberof overlay)" in result.output


@pytest.mark.ldap
def test_doctor_names_a_filter_that_needs_yunohosts_schema(make_app, yunohost_slapd):
    result = doctor(
        make_app, yunohost_slapd, LDAP_USER_FILTER="(&(objectClass=mailAccount)(uid={login}))"
    )
    assert result.exit_code == 1
    assert "objectClass=mailAccount" in result.output
    assert "YunoHost's own schema" in result.output


@pytest.mark.ldap
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"LDAP_USER_FILTER": "(&(objectClass=inetOrgPerson)(mail={login}@nowhere))"},
            "matches nobody",
        ),
        ({"LDAP_STAFF_GROUP": f"cn=nope,{L.GROUPS}"}, "does not exist"),
        ({"LDAP_USER_BASE": f"ou=nobody,{L.BASE}"}, "PANEL_LDAP_USER_BASE"),
        ({"LDAP_BIND_PASSWORD": "wrong"}, "check PANEL_LDAP_BIND_DN and PANEL_LDAP_BIND_PASSWORD"),
        ({"LDAP_ATTRIBUTES": {"display_name": "fullName"}}, "display_name = fullName"),
        # ldap3 refuses this filter before sending it: a setting, not an outage.
        ({"LDAP_USER_FILTER": "(&(objectClass=inetOrgPerson)(uid={login})"}, "client side"),
    ],
)
def test_doctor_names_each_configuration_problem(make_app, debian_slapd, overrides, message):
    result = doctor(make_app, debian_slapd, **overrides)
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert "PROBLEM  directory" in result.output


@pytest.mark.ldap
def test_doctor_names_an_empty_staff_group(make_app, debian_slapd):
    with debian_slapd.admin() as conn:
        conn.add(f"cn=empty,{L.GROUPS}", ["posixGroup"], {"cn": "empty", "gidNumber": 7000})
    try:
        result = doctor(
            make_app,
            debian_slapd,
            LDAP_STAFF_GROUP=f"cn=empty,{L.GROUPS}",
            LDAP_STAFF_MEMBERSHIP="memberUid",
        )
        assert result.exit_code == 1
        assert "has no member in memberUid" in result.output
        assert make_app(**debian_slapd.settings()).test_client().get("/healthz").status_code == 200
    finally:
        debian_slapd.delete_entry(f"cn=empty,{L.GROUPS}")


@pytest.mark.ldap
@pytest.mark.parametrize(
    "overrides",
    [{"LDAP_BIND_PASSWORD": "wrong"}, {"LDAP_USER_FILTER": "(uid={login}"}],
)
def test_a_wrong_setting_is_a_configuration_problem_not_an_outage(
    make_app, debian_slapd, caplog, overrides
):
    app = make_app(**debian_slapd.settings(**overrides))
    client = app.test_client()
    response = do_login(client, "alice", L.PASSWORD)
    assert response.status_code == 503
    assert "mal configurée" in response.get_data(as_text=True)
    assert "directory configuration problem" in caplog.text
    health = app.test_client().get("/healthz")
    assert health.status_code == 503 and health.json["checks"]["directory"] == "misconfigured"


@pytest.mark.ldap
def test_directory_test_command_walks_one_sign_in(make_app, debian_slapd, monkeypatch):
    app = make_app(**debian_slapd.settings())
    monkeypatch.setattr("getpass.getpass", lambda prompt="": L.PASSWORD)
    result = app.test_cli_runner().invoke(args=["directory", "test", L.ACCENTED_UID])
    assert result.exit_code == 0, result.output
    assert "password: the password is right" in result.output
    assert "staff: is staff" in result.output
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "wrong")
    result = app.test_cli_runner().invoke(args=["directory", "test", "alice"])
    assert result.exit_code == 1
    assert "PROBLEM  password: the directory refused this password" in result.output


# TLS -------------------------------------------------------------------------------------


@pytest.mark.ldap
def test_ldaps_and_starttls_with_the_hosters_ca_sign_in(make_app, debian_slapd):
    ca = str(debian_slapd.tls_files["ca"])
    for settings in (
        {"LDAP_URL": debian_slapd.ldaps_url, "LDAP_CA_FILE": ca},
        {"LDAP_STARTTLS": True, "LDAP_CA_FILE": ca},
    ):
        client = make_app(**debian_slapd.settings(**settings)).test_client()
        assert do_login(client, L.ACCENTED_UID, L.PASSWORD).status_code == 302, settings


@pytest.mark.ldap
def test_a_wrong_ca_is_refused_with_one_short_line(make_app, debian_slapd, tmp_path, caplog):
    other = L.make_ca(tmp_path / "other", name="other")["ca"]
    for settings in (
        {"LDAP_URL": debian_slapd.ldaps_url, "LDAP_CA_FILE": str(other)},
        {"LDAP_STARTTLS": True, "LDAP_CA_FILE": str(other)},
    ):
        caplog.clear()
        app = make_app(**debian_slapd.settings(**settings))
        response = do_login(app.test_client(), "alice", L.PASSWORD)
        assert response.status_code == 503
        assert "mal configurée" in response.get_data(as_text=True)
        assert "certificate not trusted" in caplog.text, caplog.text
        assert "PANEL_LDAP_CA_FILE" in caplog.text
        # One short line per failure, never the certificate's contents.
        assert all(len(r.getMessage()) < 400 for r in caplog.records), caplog.text
        assert "subject" not in caplog.text and "BEGIN CERTIFICATE" not in caplog.text


@pytest.mark.parametrize(
    ("settings", "sentence"),
    [
        ({"LDAP_CA_FILE": "/nonexistent/ca.pem"}, "which does not exist"),
        ({"LDAP_CA_FILE": __file__}, "holds no PEM certificate"),
        (
            {"LDAP_URL": "ldaps://127.0.0.1:636", "LDAP_STARTTLS": True},
            "cannot be combined with an ldaps:// address",
        ),
    ],
)
def test_tls_settings_that_cannot_work_stop_the_start(database_url, settings, sentence):
    config = {
        "DATABASE_URL": database_url,
        "SECRET_KEY": "k",
        "LDAP_URL": "ldap://127.0.0.1:389",
        "LDAP_USER_BASE": L.PEOPLE,
        **settings,
    }
    with pytest.raises(ConfigError, match=sentence):
        create_app(config)


def test_flask_doctor_says_the_ca_file_is_missing_in_one_sentence(database_url, tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PANEL_DATABASE_URL": database_url,
        "PANEL_LDAP_URL": "ldaps://127.0.0.1:636",
        "PANEL_LDAP_CA_FILE": "/nonexistent/ca.pem",
        "FLASK_APP": "wsgi",
    }
    result = subprocess.run(
        [str(Path(sys.executable).parent / "flask"), "doctor"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "PANEL_LDAP_CA_FILE names /nonexistent/ca.pem, which does not exist." in result.stderr
    assert "Traceback" not in result.stderr


# Failover and pooling -------------------------------------------------------------------


@pytest.fixture
def hung_first(debian_slapd):
    """A first server that accepts TCP connections but never answers (SIGSTOP)."""
    first = L.start_slapd(flavour="debian", seed=False)
    first.freeze()
    yield first
    L.cleanup(first)


@pytest.mark.ldap
def test_hung_first_server_is_passed_over_and_then_tried_last(make_app, debian_slapd, hung_first):
    app = make_app(**debian_slapd.settings(LDAP_URL=f"{hung_first.url} {debian_slapd.url}"))
    assert do_login(app.test_client(), L.ACCENTED_UID, L.PASSWORD).status_code == 302
    directory = app.extensions["panel_directory"]
    assert directory.servers.ordered() == [debian_slapd.url, hung_first.url]
    client = app.test_client()
    assert do_login(client, "alice", L.PASSWORD).status_code == 302


@pytest.mark.ldap
def test_server_that_hangs_after_serving_is_left_for_the_next(make_app, debian_slapd):
    first = L.start_slapd(flavour="debian")
    try:
        app = make_app(**first.settings(LDAP_URL=f"{first.url} {debian_slapd.url}"))
        assert do_login(app.test_client(), "alice", L.PASSWORD).status_code == 302
        first.freeze()  # the pool holds connections to it now
        client = app.test_client()
        assert do_login(client, L.ACCENTED_UID, L.PASSWORD).status_code == 302
        assert client.get("/staff/").status_code == 200
    finally:
        L.cleanup(first)


@pytest.mark.ldap
def test_pooled_connections_serve_many_threads_at_once(debian_slapd):
    directory = directory_for(debian_slapd)
    results: list[object] = []
    logins = ["alice", "bob", L.ACCENTED_UID] * 6

    def sign_in(login: str) -> None:
        person = directory.authenticate(login, L.PASSWORD)
        results.append(person and (person.uid, directory.is_staff(person)))

    threads = [threading.Thread(target=sign_in, args=(login,)) for login in logins]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == sorted((login, login == L.ACCENTED_UID) for login in logins)
    directory.close()


@pytest.mark.ldap
def test_sasl_forbidden_password_logs_no_error(debian_slapd, caplog):
    caplog.set_level(logging.INFO)
    assert directory_for(debian_slapd).authenticate("alice", "pass\u202eword") is None
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.ldap
def test_login_form_still_posts_with_the_directory_frozen(make_app, hung_first):
    app = make_app(**hung_first.settings(LDAP_TIMEOUT=1))
    client = app.test_client()
    token = csrf_token(client)
    response = client.post("/login", data={"login": "a", "password": "b", "csrf_token": token})
    assert response.status_code == 503


@pytest.mark.ldap
def test_pooled_connections_closed_by_a_restart_are_replaced_silently(make_app, debian_slapd):
    first = L.start_slapd(flavour="debian")
    try:
        app = make_app(**first.settings(LDAP_URL=f"{first.url} {debian_slapd.url}"))
        assert do_login(app.test_client(), "alice", L.PASSWORD).status_code == 302
        first.stop()  # every pooled connection to it is now dead
        first.start()
        assert do_login(app.test_client(), "bob", L.PASSWORD).status_code == 302
        # A connection the server closed while idle does not push the server down the list.
        assert app.extensions["panel_directory"].servers.ordered()[0] == first.url
    finally:
        L.cleanup(first)


@pytest.mark.ldap
def test_detect_over_ldaps_with_a_service_account_given_on_the_command_line(
    make_app, debian_slapd, monkeypatch
):
    monkeypatch.setattr("getpass.getpass", lambda prompt="": L.SERVICE_PW)
    app = make_app()  # nothing configured: everything comes from the options
    ca = str(debian_slapd.tls_files["ca"])
    args = ["directory", "detect", "--url", debian_slapd.ldaps_url, "--ca-file", ca]
    result = app.test_cli_runner().invoke(args=[*args, "--bind-dn", L.SERVICE_DN])
    assert result.exit_code == 0, result.output
    assert f"PANEL_LDAP_URL={debian_slapd.ldaps_url}" in result.output
    assert f"PANEL_LDAP_CA_FILE={ca}" in result.output
    assert "PANEL_LDAP_STAFF_MEMBERSHIP=member" in result.output


@pytest.mark.ldap
def test_detect_says_what_an_anonymous_look_cannot_see(make_app, debian_slapd):
    result = (
        make_app(LDAP_URL=debian_slapd.url).test_cli_runner().invoke(args=["directory", "detect"])
    )
    assert result.exit_code == 1
    assert "visible to this account" in result.output


@pytest.mark.ldap
def test_a_certificate_for_another_host_is_refused_in_one_line(make_app, caplog):
    server = L.start_slapd(flavour="debian", tls=True, tls_names="DNS:ldap.example.org")
    try:
        app = make_app(
            **server.settings(LDAP_URL=server.ldaps_url, LDAP_CA_FILE=str(server.tls_files["ca"]))
        )
        response = do_login(app.test_client(), "alice", L.PASSWORD)
        assert response.status_code == 503
        assert "certificate does not name this host" in caplog.text, caplog.text
        assert all(len(r.getMessage()) < 400 for r in caplog.records), caplog.text
        assert "subject" not in caplog.text and "notAfter" not in caplog.text
    finally:
        L.cleanup(server)


@pytest.mark.ldap
def test_an_optional_attribute_the_server_lacks_is_named_but_does_not_page(make_app, debian_slapd):
    settings = debian_slapd.settings(LDAP_ATTRIBUTES={"language": "locale"})
    result = doctor(make_app, debian_slapd, **settings)
    assert result.exit_code == 1 and "language = locale" in result.output
    app = make_app(**settings)
    assert app.test_client().get("/healthz").status_code == 200
    assert do_login(app.test_client(), "alice", L.PASSWORD).status_code == 302
