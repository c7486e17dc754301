"""`flask incidents ...`: let the hoster's monitoring scripts feed the journal without a browser."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any, TypeVar, cast

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import force_locale

from app.db import session_scope
from app.incidents import operations, queries
from app.incidents.models import INCIDENT_IMPACTS, STATUSES, VISIBILITIES
from app.profile import current_profile

F = TypeVar("F", bound=Callable[..., Any])


def _journal_command(command: F) -> F:
    """App context, messages in the panel's default language, domain errors as clean exits."""

    @wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
            try:
                return command(*args, **kwargs)
            except operations.IncidentError as exc:
                raise click.ClickException(str(exc)) from exc

    return cast(F, with_appcontext(run))


@click.group(
    "incidents",
    help="Keep the incident journal from scripts: open, update, resolve, list. All audited.",
)
def incidents_group() -> None:
    pass


@incidents_group.command("open", help="Open an incident on one or more services; prints its id.")
@click.option(
    "--service",
    "service_slugs",
    multiple=True,
    required=True,
    metavar="SLUG",
    help="Affected service (slug from hoster.toml); repeat for several.",
)
@click.option(
    "--impact", type=click.Choice(INCIDENT_IMPACTS[1:]), required=True, help="How bad it is."
)
@click.option(
    "--visibility",
    type=click.Choice(VISIBILITIES),
    default="public",
    show_default=True,
    help="'users' keeps it off the public page and feeds.",
)
@click.option("--message", default=None, help="First timeline entry (Markdown).")
@click.argument("title")
@_journal_command
def open_command(
    service_slugs: tuple[str, ...], impact: str, visibility: str, message: str | None, title: str
) -> None:
    with session_scope(current_app) as session:
        incident = operations.open_incident(
            session,
            title=title,
            services=list(service_slugs),
            impact=impact,
            visibility=visibility,
            body=message,
            known_services=current_profile().service_slugs,
            actor=operations.CLI,
        )
        incident_id = incident.id
    click.echo(incident_id)


@incidents_group.command("update", help="Add TEXT to the timeline of incident ID.")
@click.argument("incident_id", type=int)
@click.argument("text")
@click.option(
    "--status",
    type=click.Choice([s for s in STATUSES if s != "resolved"]),
    default=None,
    help="New status (default: unchanged).",
)
@click.option("--reopen", is_flag=True, help="Needed to move a resolved incident back to open.")
@_journal_command
def update_command(incident_id: int, text: str, status: str | None, reopen: bool) -> None:
    with session_scope(current_app) as session:
        operations.post_update(
            session, incident_id, body=text, status=status, reopen=reopen, actor=operations.CLI
        )
    click.echo(incident_id)


@incidents_group.command("resolve", help="Resolve incident ID, with an optional closing TEXT.")
@click.argument("incident_id", type=int)
@click.argument("text", required=False)
@_journal_command
def resolve_command(incident_id: int, text: str | None) -> None:
    with session_scope(current_app) as session:
        operations.resolve_incident(session, incident_id, body=text, actor=operations.CLI)
    click.echo(incident_id)


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%dT%H:%MZ") if moment else "-"


@incidents_group.command(
    "list", help="Open incidents and planned maintenance, one per line (tab-separated)."
)
@click.option("--all", "show_all", is_flag=True, help="Also the 50 latest resolved ones.")
@_journal_command
def list_command(show_all: bool) -> None:
    with session_scope(current_app) as session:
        rows = queries.open_incidents(session, "users")
        if show_all:
            rows += queries.history_page(session, "users", page=1, per_page=50)[0]
        for incident in rows:
            click.echo(
                "\t".join(
                    [
                        str(incident.id),
                        incident.status,
                        incident.impact,
                        ",".join(incident.service_slugs),
                        _when(incident.effective_start),
                        _when(incident.resolved_at),
                        incident.visibility,
                        incident.title,
                    ]
                )
            )
