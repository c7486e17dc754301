"""Configuration: defaults, PANEL_* overrides, refusals in production."""

from __future__ import annotations

import pytest

from app import create_app
from config import ConfigError

PRODUCTION_OK = {
    "ENV": "production",
    "SECRET_KEY": "x" * 40,
    "LDAP_URL": "ldap://127.0.0.1:1",
    "SESSION_COOKIE_SECURE": True,
    "DATABASE_URL": "sqlite://",
    "BASE_URL": "https://panel.example.org",
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"SECRET_KEY": None}, "PANEL_SECRET_KEY"),
        ({"LDAP_URL": None}, "PANEL_LDAP_URL"),
        ({"SESSION_COOKIE_SECURE": False}, "PANEL_SESSION_COOKIE_SECURE"),
        ({"SESSION_COOKIE_SAMESITE": "None"}, "PANEL_SESSION_COOKIE_SAMESITE"),
        ({"BASE_URL": None}, "PANEL_BASE_URL"),
        ({"BASE_URL": "http://panel.example.org"}, "PANEL_BASE_URL"),
    ],
)
def test_production_refuses_unsafe_settings_naming_what_to_set(change, message, tmp_path):
    hoster = tmp_path / "hoster.toml"
    from app.hoster.profile import DEMO_FILE

    hoster.write_text(DEMO_FILE.read_text())
    with pytest.raises(ConfigError, match=message):
        create_app({**PRODUCTION_OK, "HOSTER_FILE": str(hoster), **change})


def test_production_starts_with_safe_settings(tmp_path):
    from app.hoster.profile import DEMO_FILE

    hoster = tmp_path / "hoster.toml"
    hoster.write_text(DEMO_FILE.read_text())
    app = create_app({**PRODUCTION_OK, "HOSTER_FILE": str(hoster)})
    assert app.config["ENV"] == "production"
    assert app.extensions["panel_demo_people"] is None


def test_environment_variables_override_defaults(monkeypatch, database_url):
    monkeypatch.setenv("PANEL_LDAP_TIMEOUT", "7")
    monkeypatch.setenv("PANEL_HOSTER_ACCENT_COLOUR", "#112233")
    monkeypatch.setenv("PANEL_DATABASE_URL", database_url)
    app = create_app({"SECRET_KEY": "k"})
    assert app.config["LDAP_TIMEOUT"] == 7
    assert app.config["HOSTER_ACCENT_COLOUR"] == "#112233"
    css = app.test_client().get("/theme.css").get_data(as_text=True)
    assert "--accent: #112233" in css and "--on-accent: #ffffff" in css


def test_bad_accent_colour_is_refused(database_url):
    with pytest.raises(ConfigError, match="ACCENT_COLOUR"):
        create_app({"DATABASE_URL": database_url, "HOSTER_ACCENT_COLOUR": "red;}body{"})


def test_demo_mode_without_secret_gets_a_random_key(database_url):
    first = create_app({"DATABASE_URL": database_url})
    second = create_app({"DATABASE_URL": database_url})
    assert first.config["SECRET_KEY"] and first.config["SECRET_KEY"] != second.config["SECRET_KEY"]


def test_production_refuses_requests_for_another_host(tmp_path, database_url):
    from app.hoster.profile import DEMO_FILE

    hoster = tmp_path / "hoster.toml"
    hoster.write_text(DEMO_FILE.read_text())
    app = create_app({**PRODUCTION_OK, "HOSTER_FILE": str(hoster), "DATABASE_URL": database_url})
    client = app.test_client()
    good = client.get("/legal/terms", base_url="https://panel.example.org")
    assert good.status_code == 200
    for host in ("evil.example", "panel.example.org.evil.example"):
        bad = client.get("/legal/terms", headers={"Host": host})
        assert bad.status_code == 400, host
        assert "Requête incorrecte" in bad.get_data(as_text=True)
