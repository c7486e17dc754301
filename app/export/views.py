"""Views: /account/data (what is held) and /account/export (the page, and the download)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import nullcontext
from zoneinfo import ZoneInfo

from flask import Response, current_app, render_template, request, stream_with_context
from flask.typing import ResponseReturnValue
from flask_babel import force_locale
from flask_login import current_user

from app.accounts.models import Account
from app.connectors.base import Connector, export_connectors, service_connectors
from app.db import get_session, utcnow
from app.export import bp, services, transfer
from app.extensions import limiter
from app.profile.loading import current_profile
from app.security import gate_exempt, recently_authenticated, require_recent_auth


def _export_limit() -> str:
    return str(current_app.config["EXPORT_LIMIT"])


def _export_key() -> str:
    return f"export:{current_user.get_id()}"


def _download_started(response: Response) -> bool:
    return response.status_code == 200


@bp.route("/account/data")
@gate_exempt
def data_page() -> str:
    account = current_user._get_current_object()
    held = services.inventory(
        export_connectors(current_app), current_profile(), services.person_of(account)
    )
    return render_template("export/data.html", held=held)


@bp.route("/account/export", methods=["GET", "POST"])
@gate_exempt
@limiter.limit(
    _export_limit,
    methods=["POST"],
    key_func=_export_key,
    scope="export",
    deduct_when=_download_started,
)
def export_page() -> ResponseReturnValue:
    profile = current_profile()
    if request.method == "GET":
        covered = service_connectors(current_app)
        asking = {c.slug for c in services.asking_password(covered.values())}
        return render_template(
            "export/export.html",
            recent=recently_authenticated(),
            transfer_codes=transfer.valid_codes(get_session(), current_user.id),
            asking=[s for s in profile.services if s.slug in asking],
            included=[s for s in profile.services if s.slug in covered],
            left_out=[s for s in profile.services if s.slug not in covered],
        )
    needs_password = require_recent_auth()
    if needs_password is not None:
        return needs_password
    account = current_user._get_current_object()
    db = get_session()
    connectors = services.with_person_passwords(
        export_connectors(current_app),
        {
            c.slug: request.form.get(f"password-{c.slug}", "")
            for c in services.asking_password(export_connectors(current_app))
        },
    )
    # Audited before the first byte: even an interrupted download handed data out.
    services.record_export(db, account, connectors)
    # Committed before planning and streaming, not at the request's end: a failure while
    # planning, or a download cut short, has still handed data out.
    db.commit()
    return archive_response(account, connectors)


def archive_response(
    account: Account, connectors: list[Connector], *, language: str | None = None
) -> Response:
    """The streamed ZIP of `account` (the download, and the transfer to another panel).

    With `language`, the README, ERRORS.txt and the services' messages are written in it,
    not in the language of the request."""
    profile = current_profile()
    person = services.person_of(account)
    now = utcnow()
    timezone = ZoneInfo(profile.timezone)
    context = services.ExportContext(
        hoster=profile.organisation.name,
        account=account,
        created_at=now,
        timezone=timezone,
        profile=profile,
    )
    with force_locale(language) if language else nullcontext():
        parts = services.plan_parts(connectors, profile, person)
        archive = services.build_archive(
            context, parts, announce_length=bool(current_app.config["EXPORT_CONTENT_LENGTH"])
        )
    filename = services.archive_name(
        profile.organisation.name, account.uid, now.astimezone(timezone).date()
    )
    chunks: Iterator[bytes] = iter(archive)
    if language:
        chunks = _in_language(language, chunks)
    response = Response(
        stream_with_context(chunks), mimetype="application/zip", direct_passthrough=True
    )
    response.headers["Content-Disposition"] = services.content_disposition(filename)
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass it on as it comes
    response.headers["Cache-Control"] = "no-store"
    if archive.content_length is not None:
        response.content_length = archive.content_length
    return response


def _in_language(language: str, chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Each chunk made under `language` (run inside stream_with_context's request)."""
    while True:
        with force_locale(language):
            try:
                chunk = next(chunks)
            except StopIteration:
                return
        yield chunk
