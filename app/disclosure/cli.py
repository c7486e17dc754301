"""`flask chatonsinfos …` and `flask closing …`: the federation's files and the closing plan."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from flask_babel import force_locale
from flask_babel import gettext as _

from app.db import session_scope, utcnow
from app.disclosure import checker, closing, federation, publication
from app.extensions import running_app
from app.profile.loading import current_profile


@click.group("chatonsinfos", help="The ChatonsInfos files: check them, read the federation.")
def chatonsinfos_group() -> None:
    pass


def print_reports(reports: list[checker.FileReport]) -> tuple[int, int]:
    for report in reports:
        what = " · ".join(x for x in (report.file_class, report.name) if x)
        click.echo(f"{report.url}" + (f" ({what})" if what else ""))
        if report.unreachable:
            click.echo("  " + _("ERROR unreachable: %(why)s", why=report.unreachable))
        for finding in report.findings:
            word = _("ERROR") if finding.severity == checker.ERROR else _("WARNING")
            click.echo(f"  {word} {finding.key}: {finding.message}")
    errors, warnings = checker.count(reports)
    click.echo(
        _(
            "%(files)d files, %(errors)d errors, %(warnings)d warnings.",
            files=len(reports),
            errors=errors,
            warnings=warnings,
        )
    )
    return errors, warnings


@chatonsinfos_group.command(
    "check",
    help="Check ChatonsInfos files as StatoolInfos reads them: this panel's own (default), or "
    "the federation, organisation or service file at URL and everything it links. Exits 1 "
    "on any error.",
)
@click.argument("url", required=False)
@click.option("--language", type=click.Choice(["fr", "en"]), default=None, help="Messages.")
@with_appcontext
def check_command(url: str | None, language: str | None) -> None:
    app = current_app
    with (
        force_locale(language or app.config["BABEL_DEFAULT_LOCALE"]),
        session_scope(app) as session,
    ):
        if url is None:
            start = app.url_for("hosting.organization_properties", _external=True)
            reports = checker.crawl(start, publication.own_fetcher(session))
        else:
            reports = checker.crawl(url, federation.fetcher_from(url))
        errors, _warnings = print_reports(reports)
    if errors:
        raise SystemExit(1)


def refresh(app: Flask) -> federation.FederationCache | None:
    source = app.config.get("FEDERATION_URL")
    if not source:
        return None
    cache = federation.refresh_federation(str(source), utcnow())
    federation.save_cache(app, cache)
    return cache


@chatonsinfos_group.command(
    "federation",
    help="Read the federation file (PANEL_FEDERATION_URL) and its members' files into "
    'instance/federation.json, for "where to go next". The worker does it daily.',
)
@with_appcontext
def federation_command() -> None:
    app = running_app()
    if not app.config.get("FEDERATION_URL"):
        raise click.ClickException("PANEL_FEDERATION_URL is not set.")
    try:
        cache = refresh(app)
    except checker.FetchError as exc:
        raise click.ClickException(str(exc)) from exc
    assert cache is not None
    services = sum(len(m.services) for m in cache.members)
    click.echo(
        f"{len(cache.members)} members, {services} services, {len(cache.unreachable)} unreachable."
    )
    for note in cache.unreachable:
        click.echo(f"  unreachable: {note}")


@click.group("closing", help="The closing plan of a service or of the whole hoster.")
def closing_group() -> None:
    pass


def remind(app: Flask, today: date | None = None) -> list[closing.Mailing]:
    with app.app_context(), session_scope(app) as session:
        profile = current_profile()
        today = today or utcnow().astimezone(ZoneInfo(profile.timezone)).date()
        return closing.send_reminders(session, profile, today)


@closing_group.command(
    "remind",
    help="Queue the closing reminders due today (at the notice, a month, a week before, and "
    "on the day), each once, to every account in its language. The worker does it daily.",
)
@click.option("--today", type=click.DateTime(["%Y-%m-%d"]), default=None, help="For tests.")
@with_appcontext
def remind_command(today: datetime | None) -> None:
    app = running_app()
    mailings = remind(app, today.date() if today else None)
    for mailing in mailings:
        click.echo(f"{mailing.subject}: {mailing.stage} → {mailing.recipients} mails queued")
    if not mailings:
        click.echo("No reminder due today.")
