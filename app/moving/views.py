"""Views of moving house: /account/import (upload or transfer), the plan, progress, report;
and the staff list of imports. Thin over app.moving.services; the worker does the work."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import IO, Any

from flask import (
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser

from app.accounts.models import Account
from app.actions import ActionForm, staff_action
from app.db import after_commit, discard_changes, get_or_404, get_session
from app.extensions import running_app
from app.moving import bp, jobs, services
from app.moving.forms import TransferForm, UploadForm
from app.moving.models import ImportJob, ImportPart
from app.moving.plan import KIND_LABELS
from app.moving.staff import recent_jobs
from app.profile.loading import current_profile
from app.security import recently_authenticated, require_recent_auth, staff_required

FORM_ALLOWANCE = 1024 * 1024  # the form's other fields and multipart boundaries


def _settings() -> services.MovingSettings:
    return services.MovingSettings.from_config(current_app.config)


def _upload_parser(folder: Path) -> type[FormDataParser]:
    """File parts go straight to a file under the upload folder (no copy in /tmp)."""

    class ArchiveFormDataParser(FormDataParser):
        def __init__(self, stream_factory: Any = None, *args: Any, **kwargs: Any) -> None:
            def factory(*_args: Any, **_kwargs: Any) -> IO[bytes]:
                folder.mkdir(parents=True, exist_ok=True)
                target = tempfile.NamedTemporaryFile(  # noqa: SIM115 - kept past the request
                    dir=folder, prefix="upload-", suffix=".zip", delete=False
                )
                g.setdefault("moving_uploads", []).append(target.name)
                return target

            super().__init__(factory, *args, **kwargs)

    return ArchiveFormDataParser


@bp.url_value_preprocessor
def stream_uploads(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """Before anything reads the body (CSRF included): re-authentication, size, where to."""
    if request.method != "POST" or endpoint != "moving.upload":
        return
    if not current_user.is_authenticated:
        return  # the login guard answers
    if not recently_authenticated():
        # Asked before the body is read: an upload of gigabytes is not sent for nothing.
        asked = require_recent_auth()
        if asked is not None:
            abort(asked)
    limit = int(current_app.config["MOVING_MAX_ARCHIVE_BYTES"]) + FORM_ALLOWANCE
    request.max_content_length = limit
    if request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge
    request.form_data_parser_class = _upload_parser(_settings().upload_dir)


@bp.teardown_request
def remove_unused_uploads(_exc: BaseException | None) -> None:
    for name in g.pop("moving_uploads", []):
        Path(name).unlink(missing_ok=True)


@bp.errorhandler(RequestEntityTooLarge)
def too_large(_error: Exception) -> tuple[str, int]:
    return _import_form(
        error=_(
            "The archive is larger than this panel accepts (%(size)s). Ask the team, or use "
            "a transfer code instead.",
            size=_size(int(current_app.config["MOVING_MAX_ARCHIVE_BYTES"])),
        ),
        status=413,
    )


def _size(num: int) -> str:
    for unit, factor in ((_("GiB"), 1024**3), (_("MiB"), 1024**2), (_("KiB"), 1024)):
        if num >= factor:
            return f"{format_decimal(round(num / factor, 1))} {unit}"
    return _("%(num)s bytes", num=num)


def _message(text: str | None, values: dict[str, Any] | None) -> str:
    """A stored English message (N_) in the reader's language, with its values."""
    if not text:
        return ""
    translated = _(text)
    try:
        return translated % (values or {}) if values else translated
    except (KeyError, TypeError, ValueError):
        return translated


def _refusal(exc: Exception) -> str:
    return _message(str(exc), None)


def _import_form(
    *,
    upload: UploadForm | None = None,
    transfer: TransferForm | None = None,
    error: str | None = None,
    status: int = 200,
) -> tuple[str, int]:
    db = get_session()
    return (
        render_template(
            "moving/import.html",
            # formdata=None: a blank form never reads the body (too large, or another form's).
            upload=upload or UploadForm(formdata=None),
            transfer=transfer or TransferForm(formdata=None),
            error=error,
            active=services.active_job(db, current_user.id),
            history=services.jobs_of(db, current_user.id),
            max_size=_size(int(current_app.config["MOVING_MAX_ARCHIVE_BYTES"])),
            message=_message,
        ),
        status,
    )


@bp.route("/account/import")
def import_page() -> ResponseReturnValue:
    needs_password = require_recent_auth()
    if needs_password is not None:
        return needs_password
    return _import_form()


def _queue_check(job_id: int, code: str | None = None) -> None:
    app = running_app()
    after_commit(lambda: jobs.queue_check(app, job_id, code))


@bp.route("/account/import/upload", methods=["POST"])
def upload() -> ResponseReturnValue:
    form = UploadForm()
    storage = request.files.get("archive")
    if not form.validate_on_submit():
        return _import_form(upload=form, status=400)
    if not isinstance(storage, FileStorage) or not (storage.filename or "").strip():
        form.archive.errors = [_("Choose the ZIP archive of your export.")]
        return _import_form(upload=form, status=400)
    path = Path(str(getattr(storage.stream, "name", "")))
    storage.stream.close()
    if path.name not in {Path(n).name for n in g.get("moving_uploads", [])}:
        abort(400)
    if path.stat().st_size == 0:
        form.archive.errors = [_("This file is empty.")]
        return _import_form(upload=form, status=400)
    db = get_session()
    try:
        job = services.start_import(db, current_user.id, archive=path)
    except services.ImportRefused as exc:
        discard_changes()
        return _import_form(upload=form, error=_message(str(exc), None), status=409)
    g.moving_uploads.remove(str(path))  # the job keeps it now
    _queue_check(job.id)
    return redirect(url_for("moving.job_page", job_id=job.id))


@bp.route("/account/import/transfer", methods=["POST"])
def transfer() -> ResponseReturnValue:
    needs_password = require_recent_auth()
    if needs_password is not None:
        return needs_password
    form = TransferForm()
    if not form.validate_on_submit():
        return _import_form(transfer=form, status=400)
    db = get_session()
    try:
        job = services.start_import(
            db, current_user.id, transfer_url=form.panel_url.data.strip().rstrip("/")
        )
    except services.ImportRefused as exc:
        discard_changes()
        return _import_form(transfer=form, error=_message(str(exc), None), status=409)
    _queue_check(job.id, form.code.data.strip())
    return redirect(url_for("moving.job_page", job_id=job.id))


def _own_job(job_id: int) -> ImportJob:
    job = get_session().get(ImportJob, job_id)
    if job is None or job.account_id != current_user.id:
        abort(404)
    return job


def _labels() -> dict[str, str]:
    return {kind: _(label) for kind, label in KIND_LABELS.items()}


def part_note(part: ImportPart) -> str:
    """Why a part is not imported, in the reader's language."""
    values = dict(part.note_values or {})
    if "what" in values:
        values["what"] = _labels().get(str(values["what"]), str(values["what"]))
    return _message(part.note, values)


def service_name(slug: str | None) -> str:
    if not slug:
        return ""
    service = current_profile().service(slug)
    return str(service.name) if service is not None else slug


@bp.route("/account/import/<int:job_id>")
def job_page(job_id: int) -> str:
    job = _own_job(job_id)
    return render_template(
        "moving/job.html",
        job=job,
        report=services.report_by_service(job),
        seconds_left=services.seconds_left(job),
        kinds=_labels(),
        part_note=part_note,
        progress_summary=progress_summary,
        service_summary=service_summary,
        message=_message,
        service_name=service_name,
        size=_size,
    )


def progress_summary(job: ImportJob) -> str:
    """The progress in one sentence (the page, and the live update)."""
    text = _(
        "%(done)s of %(total)s items, %(bytes_done)s of %(bytes_total)s.",
        done=job.items_done,
        total=job.items_total,
        bytes_done=_size(job.bytes_done),
        bytes_total=_size(job.bytes_total),
    )
    left = services.seconds_left(job)
    if left is not None:
        text += " " + _("About %(minutes)s min left.", minutes=max(1, round(left / 60)))
    return text


def service_summary(entry: services.ServiceReport) -> str:
    return _(
        "%(imported)s imported, %(skipped)s already there, %(refused)s refused; "
        "%(done)s of %(total)s items.",
        imported=entry.imported,
        skipped=entry.skipped,
        refused=entry.refused,
        done=entry.items_done,
        total=entry.items_total,
    )


@bp.route("/account/import/<int:job_id>/progress.json")
def job_progress(job_id: int) -> ResponseReturnValue:
    """What static/moving-progress.js shows while the import runs."""
    job = _own_job(job_id)
    return jsonify(
        state=job.state,
        bytes_done=job.bytes_done,
        bytes_total=job.bytes_total,
        summary=progress_summary(job),
        services={e.slug: service_summary(e) for e in services.report_by_service(job)},
    )


@bp.route("/account/import/<int:job_id>/confirm", methods=["POST"])
def confirm(job_id: int) -> ResponseReturnValue:
    job = _own_job(job_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        services.confirm_import(get_session(), job)
    except services.ImportRefused as exc:
        discard_changes()
        flash(_refusal(exc), "error")
        return redirect(url_for("moving.job_page", job_id=job.id))
    app = running_app()
    after_commit(lambda: jobs.queue_run(app, job.id))
    flash(_("Your import has started. This page shows its progress."), "success")
    return redirect(url_for("moving.job_page", job_id=job.id))


@bp.route("/account/import/<int:job_id>/cancel", methods=["POST"])
def cancel(job_id: int) -> ResponseReturnValue:
    job = _own_job(job_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        now = services.cancel_import(get_session(), job, actor_id=current_user.id)
    except services.ImportRefused as exc:
        discard_changes()
        flash(_refusal(exc), "error")
    else:
        flash(
            _("The import is cancelled. What was already imported stays.")
            if now
            else _("The import stops after the item being written; what was imported stays."),
            "success",
        )
    return redirect(url_for("moving.job_page", job_id=job.id))


# Staff ----------------------------------------------------------------------------------------


@bp.route("/staff/imports")
@staff_required
def staff_jobs() -> str:
    db = get_session()
    found = recent_jobs(db)
    owners = {
        a.id: a for a in db.query(Account).filter(Account.id.in_({j.account_id for j in found}))
    }
    return render_template(
        "moving/staff_jobs.html",
        jobs=found,
        owners=owners,
        size=_size,
        message=_message,
    )


@bp.route("/staff/imports/<int:job_id>/retry", methods=["POST"])
@staff_required
def staff_retry(job_id: int) -> ResponseReturnValue:
    job = get_or_404(ImportJob, job_id)

    def queued(_none: None) -> str:
        app = running_app()
        if job.state == "queued":
            after_commit(lambda: jobs.queue_run(app, job.id))
        else:
            after_commit(lambda: jobs.queue_check(app, job.id))
        return _("The import will be tried again; parts already done stay done.")

    return staff_action(
        lambda: services.retry_import(get_session(), job, actor_id=current_user.id),
        back=url_for("moving.staff_jobs"),
        refused={services.ImportRefused: _refusal},
        done=queued,
    )


@bp.route("/staff/imports/<int:job_id>/cancel", methods=["POST"])
@staff_required
def staff_cancel(job_id: int) -> ResponseReturnValue:
    job = get_or_404(ImportJob, job_id)
    return staff_action(
        lambda: services.cancel_import(get_session(), job, actor_id=current_user.id),
        back=url_for("moving.staff_jobs"),
        refused={services.ImportRefused: _refusal},
        done=_("The import is cancelled and its archive deleted."),
    )
