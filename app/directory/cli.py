"""`flask directory test LOGIN` and `flask directory detect`: first deployment in minutes."""

from __future__ import annotations

import getpass
from dataclasses import replace

import click
from flask import current_app
from flask.cli import with_appcontext

from app.directory.checks import Report, walk_sign_in
from app.directory.client import DirectorySettings
from app.directory.connections import DirectoryUnavailable
from app.directory.detect import detect
from app.extensions import directory


@click.group(
    "directory", help="Check or discover the LDAP directory the panel signs people in with."
)
def directory_group() -> None:
    pass


def _print(report: Report) -> None:
    for finding in report.findings:
        click.echo(f"{'ok      ' if finding.ok else 'PROBLEM '} {finding.step}: {finding.text}")


@directory_group.command("test", help="Walk one sign-in step by step (asks for the password).")
@click.argument("login")
@with_appcontext
def test_command(login: str) -> None:
    password = getpass.getpass(f"Password for {login}: ")
    report = walk_sign_in(directory(), login, password)
    _print(report)
    if not report.ok:
        raise SystemExit(1)
    click.echo(f"{login} can sign in.")


@directory_group.command(
    "detect", help="Read the directory's layout and print the PANEL_LDAP_* lines to use."
)
@click.option("--url", help="ldap:// or ldaps:// address (default: PANEL_LDAP_URL).")
@click.option("--bind-dn", help="Service account DN (default: PANEL_LDAP_BIND_DN).")
@click.option("--starttls/--no-starttls", default=None, help="Use StartTLS on ldap://.")
@click.option("--ca-file", help="CA certificate file to verify the server.")
@with_appcontext
def detect_command(
    url: str | None, bind_dn: str | None, starttls: bool | None, ca_file: str | None
) -> None:
    config = dict(current_app.config)
    if url:
        config["LDAP_URL"] = url
    if not config.get("LDAP_URL"):
        raise click.UsageError("give --url or set PANEL_LDAP_URL")
    settings = DirectorySettings.from_config(config)
    password = settings.bind_password
    if bind_dn and bind_dn != settings.bind_dn:
        password = getpass.getpass(f"Password for {bind_dn}: ")
    settings = replace(
        settings,
        bind_dn=bind_dn or settings.bind_dn,
        bind_password=password,
        starttls=settings.starttls if starttls is None else starttls,
        ca_file=ca_file or settings.ca_file,
    )
    problem = settings.tls_problem()
    if problem:
        raise click.ClickException(problem)
    try:
        proposal = detect(settings)
    except DirectoryUnavailable as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(proposal.render())
