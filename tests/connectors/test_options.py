"""Connector options and secrets: checked at start, named like the rest of hoster.toml."""

from __future__ import annotations

import logging
import pickle
from pathlib import Path
from types import SimpleNamespace

import pytest

from app.connectors import registry
from app.connectors.options import ConnectorOptions
from app.profile.model import ProfileError

WHERE = "services.mail.connector"


def options(tmp_path: Path, **data) -> ConnectorOptions:
    return ConnectorOptions(data, WHERE, base_dir=tmp_path, environ={"PANEL_IMAP": "s3cret"})


def test_a_secret_is_read_from_a_file_and_never_printed(tmp_path):
    (tmp_path / "imap.secret").write_text("s3cret-from-file\n")
    secret = options(tmp_path, password_file="imap.secret").secret("password")
    assert secret is not None
    assert secret.reveal() == "s3cret-from-file"
    assert "s3cret" not in repr(secret) and "s3cret" not in f"{secret}"
    with pytest.raises(TypeError):
        pickle.dumps(secret)


def test_a_secret_is_read_from_the_environment(tmp_path):
    secret = options(tmp_path, password_env="PANEL_IMAP").secret("password")
    assert secret is not None and secret.reveal() == "s3cret"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"password": "hunter2"}, f"{WHERE}.password: secrets do not belong in hoster.toml"),
        ({}, f"{WHERE}.password_file is missing"),
        ({"password_file": "nope"}, f"{WHERE}.password_file: the file"),
        ({"password_env": "PANEL_UNSET"}, f"{WHERE}.password_env: the environment variable"),
        (
            {"password_env": "PANEL_IMAP", "password_file": "x"},
            f"{WHERE}.password_file: give either",
        ),
    ],
)
def test_secret_mistakes_name_the_key_and_never_the_value(tmp_path, data, message):
    with pytest.raises(ProfileError) as caught:
        options(tmp_path, **data).secret("password")
    assert str(caught.value).startswith(message)
    assert "hunter2" not in str(caught.value)


def test_an_empty_secret_file_is_refused(tmp_path):
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ProfileError, match="is empty"):
        options(tmp_path, token_file=str(tmp_path / "empty")).secret("token")


def test_a_misspelt_key_is_refused_with_a_suggestion(tmp_path):
    reader = options(tmp_path, url="imaps://mail.example.org", admin_usr="panel")
    reader.url("url", ("imap", "imaps"))
    reader.text("admin_user")
    with pytest.raises(ProfileError, match=rf"{WHERE}.admin_usr .*did you mean 'admin_user'"):
        reader.finish()


@pytest.mark.parametrize(
    ("value", "fragment"),
    [("https://mail.example.org", "not a valid address"), ("imaps://:993", "not a valid")],
)
def test_a_wrong_url_is_explained(tmp_path, value, fragment):
    with pytest.raises(ProfileError, match=rf"{WHERE}.url: .*{fragment}"):
        options(tmp_path, url=value).url("url", ("imap", "imaps"))


def test_a_template_may_only_use_known_placeholders(tmp_path):
    reader = options(tmp_path, login="{user}")
    with pytest.raises(ProfileError, match=rf"{WHERE}.login: .*may only use \{{uid\}}"):
        reader.template("login", ("uid", "email"), default="{uid}")


def test_typed_values(tmp_path):
    reader = options(tmp_path, timeout=True, batch=0, starttls="yes")
    with pytest.raises(ProfileError, match="number of seconds"):
        reader.seconds("timeout", default=30)
    with pytest.raises(ProfileError, match="whole number"):
        reader.integer("batch", default=100)
    with pytest.raises(ProfileError, match="true or false"):
        reader.boolean("starttls", default=False)


def test_protocol_types_plug_in_by_module(tmp_path, monkeypatch, caplog):
    """A module under app/connectors/ with build() is a type; its unread keys are refused."""
    import sys

    module = SimpleNamespace(
        build=lambda service, opts, app: SimpleNamespace(
            slug=service.slug, secret=opts.secret("token")
        )
    )
    monkeypatch.setitem(sys.modules, "app.connectors.fake", module)
    factory = registry._protocol_factory("app.connectors.fake")
    service = SimpleNamespace(slug="chat")
    app = SimpleNamespace(instance_path=str(tmp_path / "instance"))
    (tmp_path / "token").write_text("Zq9-secret-token")
    caplog.set_level(logging.DEBUG)
    built = factory(service, {"token_file": "token"}, app)
    assert built.secret.reveal() == "Zq9-secret-token"
    with pytest.raises(ProfileError, match=r"services\.chat\.connector\.tokn_file"):
        factory(service, {"token_file": "token", "tokn_file": "x"}, app)
    assert "Zq9" not in caplog.text
