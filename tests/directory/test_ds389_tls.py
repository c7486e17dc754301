"""389 Directory Server over LDAPS and StartTLS, with a certificate of the hoster's own CA."""

from __future__ import annotations

import pytest

import ldap_server as L
from helpers import do_login

# Every test here starts a real directory server.
pytestmark = pytest.mark.ldap


def test_389_over_ldaps_with_the_hosters_ca_signs_in_and_finds_staff(make_app, ds389):
    ca = str(ds389.tls_files["ca"])
    app = make_app(**ds389.settings(LDAP_URL=ds389.ldaps_url, LDAP_CA_FILE=ca))
    client = app.test_client()
    assert do_login(client, L.ACCENTED_UID, L.PASSWORD).status_code == 302
    assert "Lefèvre, Zoé" in client.get("/").get_data(as_text=True)
    assert client.get("/staff/").status_code == 200
    other = app.test_client()
    assert do_login(other, "alice", L.PASSWORD).status_code == 302
    assert other.get("/staff/").status_code == 403
    assert do_login(app.test_client(), "alice", "wrong").status_code == 422
    doctor = app.test_cli_runner().invoke(args=["doctor"])
    lines = [line for line in doctor.output.splitlines() if " directory: " in line]
    assert lines and all(line.startswith("ok") for line in lines), doctor.output


def test_389_with_starttls_and_the_hosters_ca_signs_in(make_app, ds389):
    settings = ds389.settings(LDAP_STARTTLS=True, LDAP_CA_FILE=str(ds389.tls_files["ca"]))
    client = make_app(**settings).test_client()
    assert do_login(client, L.ACCENTED_UID, L.PASSWORD).status_code == 302


def test_389_with_a_wrong_ca_is_refused_in_one_clear_line(make_app, ds389, tmp_path, caplog):
    other = L.make_ca(tmp_path / "other", name="other")["ca"]
    for settings in (
        {"LDAP_URL": ds389.ldaps_url, "LDAP_CA_FILE": str(other)},
        {"LDAP_STARTTLS": True, "LDAP_CA_FILE": str(other)},
    ):
        caplog.clear()
        app = make_app(**ds389.settings(**settings))
        response = do_login(app.test_client(), "alice", L.PASSWORD)
        assert response.status_code == 503, settings
        assert "mal configurée" in response.get_data(as_text=True)
        assert "certificate not trusted" in caplog.text, caplog.text
        assert "PANEL_LDAP_CA_FILE" in caplog.text
        assert all(len(r.getMessage()) < 400 for r in caplog.records), caplog.text
        assert "BEGIN CERTIFICATE" not in caplog.text and "subject" not in caplog.text
        doctor = app.test_cli_runner().invoke(args=["doctor"])
        assert doctor.exit_code != 0
        assert "certificate not trusted" in doctor.output, doctor.output


def test_detect_over_ldaps_on_389_proposes_the_ca_file(make_app, ds389, monkeypatch):
    monkeypatch.setattr("getpass.getpass", lambda prompt="": L.SERVICE_PW)
    ca = str(ds389.tls_files["ca"])
    args = ["directory", "detect", "--url", ds389.ldaps_url, "--ca-file", ca]
    result = make_app().test_cli_runner().invoke(args=[*args, "--bind-dn", ds389.layout.service_dn])
    assert result.exit_code == 0, result.output
    assert f"PANEL_LDAP_URL={ds389.ldaps_url}" in result.output
    assert f"PANEL_LDAP_CA_FILE={ca}" in result.output
