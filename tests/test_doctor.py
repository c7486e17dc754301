"""`flask doctor` says what is wrong in plain words and exits non-zero."""

from __future__ import annotations

import pytest

from app.cli import alembic_config


def test_doctor_is_happy_with_the_demo(app):
    result = app.test_cli_runner().invoke(args=["doctor"])
    assert result.exit_code == 0, result.output
    assert "ok       database: reachable" in result.output
    assert "ok       directory: demo directory" in result.output


@pytest.mark.ldap
def test_doctor_reports_an_unreachable_directory_and_smtp(make_app, slapd):
    from ldap_server import free_port

    app = make_app(
        **slapd.settings(LDAP_URL=f"ldap://127.0.0.1:{free_port()}", LDAP_TIMEOUT=1),
        SMTP_URL=f"smtp://127.0.0.1:{free_port()}",
    )
    result = app.test_cli_runner().invoke(args=["doctor"])
    assert result.exit_code == 1
    assert "PROBLEM  directory" in result.output
    assert "PROBLEM  mail" in result.output


def test_doctor_reports_a_schema_behind_the_code(make_app, database_url):
    from alembic import command

    app = make_app()
    command.downgrade(alembic_config(database_url), "base")
    try:
        result = app.test_cli_runner().invoke(args=["doctor"])
        assert result.exit_code == 1
        assert "run `flask db upgrade`" in result.output
    finally:
        command.upgrade(alembic_config(database_url), "head")


@pytest.mark.ldap
def test_doctor_checks_the_real_directory(make_app, slapd, smtp):
    app = make_app(**slapd.settings(), SMTP_URL=smtp.url)
    result = app.test_cli_runner().invoke(args=["doctor"])
    assert result.exit_code == 0, result.output
    assert "staff group cn=staff" in result.output


def test_doctor_names_the_connector_that_cannot_sign_in(app):
    from app.connectors.base import ServiceUnreachable, register_connector

    class Unreachable:
        slug = "mail"

        def check(self) -> str:
            raise ServiceUnreachable("mail.example.org:993 did not answer")

    class Fine:
        slug = "chat"

        def check(self) -> str:
            return "signed in as panel"

    register_connector(app, Unreachable())  # type: ignore[arg-type]
    register_connector(app, Fine())  # type: ignore[arg-type]
    result = app.test_cli_runner().invoke(args=["doctor"])
    assert result.exit_code == 1
    assert "PROBLEM  connector mail: mail.example.org:993 did not answer" in result.output
    assert "ok       connector chat: signed in as panel" in result.output
    assert "ok       task queue: immediate" in result.output
