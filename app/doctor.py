"""`flask doctor`: check configuration, directory, database, mail and hoster.toml in plain words."""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import force_locale
from sqlalchemy.exc import SQLAlchemyError

import config as panel_config
from app import tasks
from app.cli import alembic_config
from app.connectors.base import ConnectorError, ServiceUnreachable, redact_url, service_connectors
from app.db import database
from app.directory import DirectoryUnavailable
from app.directory.checks import diagnose
from app.extensions import directory, running_app
from app.oidc import doctor_check as check_openid_connect
from app.profile.loading import current_profile


def check_configuration() -> str:
    settings = dict(current_app.config)
    panel_config.validate(settings)
    if settings["ENV"] == "demo":
        return "demo mode (demo directory allowed, random secret key if none is set)"
    return "production settings are complete"


def check_database() -> str:
    # Alembic stays out of web workers' memory (see app/cli.py): only this command uses it.
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    url = current_app.config["DATABASE_URL"]
    script = ScriptDirectory.from_config(alembic_config(url))
    with database().engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    head = script.get_current_head()
    if current != head:
        raise RuntimeError(
            f"the schema is at {current or 'nothing'}, the code expects {head}: "
            "run `flask db upgrade`"
        )
    return f"reachable, schema at {head}"


def check_directory() -> list[tuple[bool, str]]:
    """The real sign-in path: service bind, schema, user filter with `*`, staff group."""
    report = diagnose(directory())
    return [
        (f.ok, f"{f.step}: {f.text}" if f.step != "directory" else f.text) for f in report.findings
    ]


def check_mail() -> str:
    url = current_app.config.get("SMTP_URL")
    if not url:
        if current_app.config["ENV"] == "production":
            raise RuntimeError("PANEL_SMTP_URL is not set: mail would only be logged")
        return "no SMTP_URL: mail is written to the log (demo)"
    parts = urlsplit(url)
    cls = smtplib.SMTP_SSL if parts.scheme == "smtps" else smtplib.SMTP
    with cls(parts.hostname or "localhost", parts.port or 25, timeout=10) as server:
        server.noop()
    return f"{parts.hostname}:{parts.port or 25} answers"


def check_hoster() -> str:
    profile = current_profile()
    configured = current_app.config.get("HOSTER_FILE")
    source = configured or (Path(current_app.instance_path) / "hoster.toml")
    return f"{profile.organisation.name}: {len(profile.services)} services ({source})"


def check_queue() -> str:
    app = running_app()
    waiting = tasks.pending(app)
    detail = tasks.describe(app)
    if waiting:
        detail += f"; {waiting} task(s) waiting: is `flask worker` running?"
    return detail


def connector_checks() -> list[tuple[str, Callable[[], str]]]:
    """One check per service connector that can sign in (`check()`), named by its slug."""
    found: list[tuple[str, Callable[[], str]]] = []
    for slug, connector in service_connectors(current_app).items():
        check = getattr(connector, "check", None)
        if callable(check):
            found.append((f"connector {slug}", check))
    return found


Outcome = str | list[tuple[bool, str]]
CHECKS: list[tuple[str, Callable[[], Outcome]]] = [
    ("configuration", check_configuration),
    ("database", check_database),
    ("directory", check_directory),
    ("mail", check_mail),
    ("hoster.toml", check_hoster),
    ("task queue", check_queue),
    ("openid connect", check_openid_connect),
]


@click.command("doctor", help="Check the panel's configuration and the systems it depends on.")
@with_appcontext
def doctor() -> None:
    problems = 0
    for name, check in [*CHECKS, *connector_checks()]:
        try:
            # The doctor speaks to the administrator in English, connectors' words included.
            with force_locale("en"):
                outcome = check()
        except ServiceUnreachable as exc:
            if not current_app.extensions.get("panel_hoster_is_demo"):
                problems += 1
                click.echo(f"PROBLEM  {name}: {exc}")
                continue
            # The demo points its mail and calendars at servers on this machine; without
            # them it works, those services showing as "not reachable".
            click.echo(
                f"note     {name}: {exc} (the demo's server for it is not running here: "
                "people see this service as not reachable)"
            )
        except (
            ConnectorError,
            panel_config.ConfigError,
            DirectoryUnavailable,
            SQLAlchemyError,
            OSError,
            smtplib.SMTPException,
            RuntimeError,
        ) as exc:
            problems += 1
            # The administrator may read what a server answered (scrubbed of secrets).
            said = exc.staff_detail() if isinstance(exc, ConnectorError) else str(exc)
            click.echo(f"PROBLEM  {name}: {redact_url(said)}")
        else:
            lines = [(True, outcome)] if isinstance(outcome, str) else outcome
            for ok, message in lines:
                problems += 0 if ok else 1
                click.echo(f"{'ok      ' if ok else 'PROBLEM '} {name}: {message}")
    if problems:
        click.echo(f"{problems} problem(s) found.")
        raise SystemExit(1)
    click.echo("Everything looks fine.")
