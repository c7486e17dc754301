"""Configuration: defaults, PANEL_* overrides, refusals in production."""

from __future__ import annotations

from pathlib import Path

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
    from app.profile.loading import DEMO_FILE

    hoster.write_text(DEMO_FILE.read_text())
    with pytest.raises(ConfigError, match=message):
        create_app({**PRODUCTION_OK, "HOSTER_FILE": str(hoster), **change})


def test_production_starts_with_safe_settings(tmp_path):
    from app.profile.loading import DEMO_FILE

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


def test_the_demo_secret_is_made_once_and_shared_by_every_process(database_url):
    """The web server, the worker and the CLI of `make run` are separate processes."""
    import stat

    first = create_app({"DATABASE_URL": database_url})
    second = create_app({"DATABASE_URL": database_url})
    key = first.config["SECRET_KEY"]
    assert len(key) >= 32 and key == second.config["SECRET_KEY"]
    stored = Path(first.instance_path) / "secret_key"
    assert stored.read_text().strip() == key
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600


def test_the_demo_secret_file_is_private_and_kept(tmp_path):
    import stat

    from config import demo_secret

    key = demo_secret(tmp_path / "instance")
    assert demo_secret(tmp_path / "instance") == key
    assert stat.S_IMODE((tmp_path / "instance" / "secret_key").stat().st_mode) == 0o600
    assert sorted(p.name for p in (tmp_path / "instance").iterdir()) == ["secret_key"]


def test_production_refuses_requests_for_another_host(tmp_path, database_url):
    from app.profile.loading import DEMO_FILE

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
