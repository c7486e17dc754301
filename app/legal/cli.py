"""`flask terms …`: publish versions from files kept in git, list them, starter texts."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import click
from flask.cli import AppGroup
from flask_babel import force_locale

from app.db import session_scope
from app.extensions import running_app
from app.legal import services, starter
from app.legal.models import DEFAULT_LANGUAGE, DOCUMENTS, TEXT_LANGUAGES
from app.profile.loading import current_profile


def _language_of(path: Path) -> str | None:
    """`cgu.en.md` → "en"; None when the name does not say."""
    suffixes = [s.lstrip(".") for s in path.suffixes]
    return suffixes[-2] if len(suffixes) >= 2 and suffixes[-2] in TEXT_LANGUAGES else None


def _read(path: Path) -> str:
    data = path.read_bytes()
    if len(data) > services.MAX_BODY_BYTES:
        raise click.ClickException(f"{path}: larger than 1 MB; shorten it.")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{path}: not UTF-8 text ({exc.reason}).") from exc


# AppGroup: every command runs inside the application context.
terms_group = AppGroup(
    "terms", help="Terms of service and privacy clause: publish and list versions."
)


@terms_group.command("publish")
@click.argument("document", type=click.Choice(DOCUMENTS))
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path, exists=True)
)
@click.option(
    "--summary",
    "summaries",
    multiple=True,
    required=True,
    help="What changes, in plain words; once per FILE, in the same order.",
)
@click.option(
    "--lang",
    "languages",
    multiple=True,
    help="Language of each FILE, in order (fr, en). Default: from the name (cgu.en.md), else fr.",
)
@click.option("--effective", help="Day it takes effect, YYYY-MM-DD (default: now).")
def publish_command(
    document: str,
    files: tuple[Path, ...],
    summaries: tuple[str, ...],
    languages: tuple[str, ...],
    effective: str | None,
) -> None:
    """Publish the next version of DOCUMENT (terms or privacy) from Markdown FILE(s).

    French is required and is the text that applies; English is optional. Examples:

    \b
      flask terms publish terms cgu.fr.md --summary "Nouvelle clause sur les sauvegardes"
      flask terms publish privacy privacy.fr.md privacy.en.md \\
          --summary "Durée de conservation des journaux" --summary "Log retention" \\
          --effective 2025-09-01
    """
    if languages and len(languages) != len(files):
        raise click.UsageError("Give one --lang per FILE, in the same order, or none.")
    if len(summaries) > len(files):
        raise click.UsageError("Give at most one --summary per FILE.")
    if not languages:
        guessed = [_language_of(path) for path in files]
        if len(files) == 1:
            guessed = [guessed[0] or DEFAULT_LANGUAGE]
        if None in guessed:
            raise click.UsageError(
                "Say the language of each file with --lang, or name them like cgu.fr.md."
            )
        languages = tuple(str(lang) for lang in guessed)
    if len(set(languages)) != len(languages):
        raise click.UsageError("Each language may be given only once.")
    texts = {
        language: services.DraftText(
            body=_read(path), summary=summaries[index] if index < len(summaries) else ""
        )
        for index, (language, path) in enumerate(zip(languages, files, strict=True))
    }
    app = running_app()
    try:
        effective_on = services.parse_effective_date(effective)
        with session_scope(app) as session:
            version = services.publish_version(
                session,
                document,
                texts,
                effective_on=effective_on,
                zone=ZoneInfo(app.config["BABEL_DEFAULT_TIMEZONE"]),
            )
            number, effective_at = version.number, version.effective_at
    except services.LegalError as exc:
        # The command line speaks English, like the rest of the CLI.
        with force_locale("en"):
            message = str(exc)
        raise click.ClickException(f"nothing published: {message}") from exc
    click.echo(
        f"Published {document} version {number} ({', '.join(languages)}), "
        f"effective {effective_at.isoformat(timespec='minutes')}."
    )


@terms_group.command("list")
@click.argument("document", type=click.Choice(DOCUMENTS), required=False)
def list_command(document: str | None) -> None:
    """List the versions of DOCUMENT (default: both), newest first."""
    app = running_app()
    with session_scope(app) as session:
        in_effect = services.current_versions(session)
        for name in [document] if document else list(DOCUMENTS):
            versions = services.list_versions(session, name)
            click.echo(f"{name}: {len(versions)} version(s)")
            for v in versions:
                mark = " (in effect)" if in_effect.get(name) is v else ""
                click.echo(
                    f"  v{v.number}  effective {v.effective_at.date().isoformat()}"
                    f"  [{', '.join(v.languages())}]{mark}  {v.summary_fr}"
                )


@terms_group.command("starter")
@click.argument("document", type=click.Choice(DOCUMENTS))
@click.option("--lang", "language", type=click.Choice(TEXT_LANGUAGES), default=DEFAULT_LANGUAGE)
def starter_command(document: str, language: str) -> None:
    """Print the starter text of DOCUMENT filled from hoster.toml, to adapt and publish."""
    click.echo(starter.render(document, language, current_profile()), nl=False)


@terms_group.command("seed-demo")
def seed_demo_command() -> None:
    """Publish the starter texts as version 1 where a document has none (demo only)."""
    app = running_app()
    if app.config["ENV"] != "demo":
        raise click.ClickException(
            "seed-demo is for the demo. In production, adapt `flask terms starter` "
            "and publish it with `flask terms publish`."
        )
    with session_scope(app) as session:
        published = starter.seed(session, current_profile(), app.config["BABEL_DEFAULT_TIMEZONE"])
    for document in DOCUMENTS:
        state = "published version 1" if document in published else "already has versions"
        click.echo(f"{document}: {state}")
