"""Command-line tools: `flask db ...` wraps Alembic, the only way the schema changes."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import click
from flask import current_app

from app.profile.loading import load_profile
from app.profile.model import ProfileError
from app.profile.schema import schema_json

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic (with Mako and Pygments) is imported by the commands that use it, not at start:
# a web worker never migrates, and it saves about 10 MiB per worker.

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(database_url: str) -> Config:
    from alembic.config import Config  # not at start: see above

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser interpolation would choke on '%' in passwords.
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    cfg.attributes["database_url"] = database_url
    return cfg


def alembic_commands() -> ModuleType:
    """alembic.command, imported when a command migrates (not at start: see above)."""
    from alembic import command  # not at start: see above

    return command


def upgrade_database(database_url: str, revision: str = "head") -> None:
    alembic_commands().upgrade(alembic_config(database_url), revision)


@click.group("db", help="Create or change the database schema (Alembic migrations).")
def db_group() -> None:
    pass


@db_group.command("upgrade", help="Apply migrations up to REVISION (default: the latest).")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    upgrade_database(current_app.config["DATABASE_URL"], revision)
    click.echo(f"Database at {revision}.")


@db_group.command("downgrade", help="Undo migrations down to REVISION (e.g. base).")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    alembic_commands().downgrade(alembic_config(current_app.config["DATABASE_URL"]), revision)
    click.echo(f"Database at {revision}.")


@db_group.command("current", help="Show the revision the database is at.")
def db_current() -> None:
    alembic_commands().current(alembic_config(current_app.config["DATABASE_URL"]))


@db_group.command("check", help="Fail if the models differ from the migrated schema.")
def db_check() -> None:
    alembic_commands().check(alembic_config(current_app.config["DATABASE_URL"]))


@db_group.command("revision", help="Write a new migration from the model changes (developers).")
@click.option("-m", "--message", required=True)
def db_revision(message: str) -> None:
    alembic_commands().revision(
        alembic_config(current_app.config["DATABASE_URL"]), message=message, autogenerate=True
    )


@click.group("hoster", help="hoster.toml: the hoster's self-description.")
def hoster_group() -> None:
    pass


@hoster_group.command("schema", help="Print the JSON Schema of hoster.toml (or write it to FILE).")
@click.argument("output", type=click.Path(dir_okay=False, path_type=Path), required=False)
def hoster_schema(output: Path | None) -> None:
    if output is None:
        click.echo(schema_json(), nl=False)
    else:
        output.write_text(schema_json(), encoding="utf-8")
        click.echo(f"Wrote {output}.")


@hoster_group.command("check", help="Check a hoster.toml file (default: the configured one).")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path), required=False)
def hoster_check(path: Path | None) -> None:
    try:
        found = load_profile(path) if path else current_app.extensions["panel_hoster"]
    except ProfileError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"{path or 'hoster.toml'}: {len(found.services)} services, {len(found.hosts)} hosts."
    )
