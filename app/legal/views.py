"""Pages of the terms area: public documents, history, diff, acceptance gate, publishing."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from itsdangerous import BadData, URLSafeTimedSerializer

from app.db import discard_changes, get_session, parse_id, utcnow
from app.errors import render_error
from app.legal import bp, services
from app.legal.diff import diff_texts
from app.legal.forms import AcceptForm, PublishForm
from app.legal.models import DEFAULT_LANGUAGE, DOCUMENTS, TEXT_LANGUAGES, TermsVersion
from app.legal.notifications import announce_version
from app.legal.rendering import render_markdown
from app.profile.loading import current_profile
from app.security import gate_exempt, public_endpoint, safe_next, staff_required

DOCUMENT_TITLES = {
    "terms": _l("Terms of service"),
    "privacy": _l("Privacy and personal data"),
}
# A review older than this is shown again before publishing: the staff member may have
# left the page open while a colleague changed things.
CONFIRM_MAX_AGE = 2 * 60 * 60
# A plain string, checked in the view: an unknown name is a 404 page like any other, and
# private pages still send visitors to sign in first.
DOCUMENT_ROUTE = "<document>"


def known_document(document: str) -> str:
    if document not in DOCUMENTS:
        abort(404)
    return document


def reading_language() -> str:
    language = str(get_locale() or DEFAULT_LANGUAGE)
    return language if language in TEXT_LANGUAGES else DEFAULT_LANGUAGE


def hoster_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])


def version_status(version: TermsVersion, in_effect: TermsVersion | None) -> str:
    """'current', 'upcoming' or 'superseded', for a badge next to the number."""
    if version.effective_at > utcnow():
        return "upcoming"
    if in_effect is not None and version.id == in_effect.id:
        return "current"
    return "superseded"


def compare(old: TermsVersion, new: TermsVersion, language: str, *, full: bool) -> dict[str, Any]:
    """The diff of two versions in one language both have (else French), for templates."""
    shown = language if old.has_language(language) and new.has_language(language) else "fr"
    stale = shown != "fr" and services.stale_translation(old, new)
    if stale:
        # The translation did not follow: the changes that matter are the French ones.
        shown = "fr"
    return {
        "diff": diff_texts(old.body(shown), new.body(shown), full=full),
        "language": shown,
        "stale_translation": stale,
        "old": old,
        "new": new,
    }


def _document_page(document: str, version: TermsVersion | None) -> str:
    db = get_session()
    in_effect = services.current_version(db, document)
    language = reading_language()
    upcoming = [v for v in services.upcoming_versions(db) if v.document == document]
    context: dict[str, Any] = {
        "document": document,
        "title": DOCUMENT_TITLES[document],
        "version": version,
        "in_effect": in_effect,
        "upcoming": upcoming,
        "language": language,
    }
    if version is not None:
        context["status"] = version_status(version, in_effect)
        context["text_language"] = version.text_language(language)
        context["rendered"] = render_markdown(version.body(language))
        context["previous_exists"] = version.number > 1
        context["next_version"] = services.get_version(db, document, version.number + 1)
        # For English readers: since which version the French text changed without this
        # translation following (None when it is up to date).
        context["outdated_since"] = (
            services.outdated_translations(db, document).get(version.number)
            if language != DEFAULT_LANGUAGE and version.body_en is not None
            else None
        )
    return render_template("legal/document.html", **context)


@bp.route("/legal/terms")
@public_endpoint
def current_terms() -> str:
    return _document_page("terms", services.current_version(get_session(), "terms"))


@bp.route("/legal/privacy")
@public_endpoint
def current_privacy() -> str:
    return _document_page("privacy", services.current_version(get_session(), "privacy"))


@bp.route(f"/legal/{DOCUMENT_ROUTE}/<int:number>")
@public_endpoint
def version(document: str, number: int) -> str | tuple[str, int]:
    known_document(document)
    found = services.get_version(get_session(), document, number)
    if found is None:
        return _not_found(document, number)
    return _document_page(document, found)


def _not_found(document: str, number: int) -> tuple[str, int]:
    return render_error(
        404,
        _(
            "Version %(number)s of “%(title)s” does not exist. The history lists every version.",
            number=number,
            title=DOCUMENT_TITLES[document],
        ),
    )


@bp.route(f"/legal/{DOCUMENT_ROUTE}/history")
@public_endpoint
def history(document: str) -> str:
    known_document(document)
    db = get_session()
    versions = services.list_versions(db, document)
    in_effect = services.current_version(db, document)
    return render_template(
        "legal/history.html",
        document=document,
        title=DOCUMENT_TITLES[document],
        versions=versions,
        in_effect=in_effect,
        statuses={v.id: version_status(v, in_effect) for v in versions},
        language=reading_language(),
        outdated=(
            services.outdated_translations(db, document)
            if reading_language() != DEFAULT_LANGUAGE
            else {}
        ),
    )


@bp.route(f"/legal/{DOCUMENT_ROUTE}/diff")
@public_endpoint
def diff(document: str) -> str | tuple[str, int]:
    known_document(document)
    db = get_session()
    versions = services.list_versions(db, document)
    numbers = {v.number: v for v in versions}
    raw_from, raw_to = request.args.get("from", ""), request.args.get("to", "")
    full = request.args.get("full") == "1"
    error = None
    comparison = None
    if not versions:
        error = _("No version of this document has been published yet.")
    else:
        old = numbers.get(parse_id(raw_from) or 0)
        new = numbers.get(parse_id(raw_to) or 0)
        if not raw_from and not raw_to and len(versions) > 1:
            old, new = versions[1], versions[0]
        if old is None or new is None:
            error = _(
                "Choose two versions that exist: this document has versions 1 to %(last)s.",
                last=versions[0].number,
            )
        else:
            comparison = compare(old, new, reading_language(), full=full)
    page = render_template(
        "legal/diff.html",
        document=document,
        title=DOCUMENT_TITLES[document],
        versions=versions,
        comparison=comparison,
        error=error,
        full=full,
        selected_from=raw_from,
        selected_to=raw_to,
    )
    if error and (raw_from or raw_to or not versions):
        return page, 404
    return page


@bp.route("/legal/accept", methods=["GET", "POST"])
@gate_exempt
def accept() -> ResponseReturnValue:
    db = get_session()
    account = current_user._get_current_object()
    form = AcceptForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    error = None
    if form.validate_on_submit():
        ids = [
            int(part)
            for part in (form.versions.data or "").split(",")
            if part.isascii() and part.isdigit() and len(part) < 10
        ]
        try:
            recorded = services.accept_versions(db, account, ids)
        except services.StaleVersion as exc:
            discard_changes()
            error = str(exc)
        else:
            if recorded:
                flash(_("Thank you. Your acceptance is recorded on your account page."), "success")
            return redirect(safe_next(form.next.data))
    pending = services.pending_documents(db, account.id)
    if not pending:
        return redirect(safe_next(form.next.data or None))
    language = reading_language()
    documents = []
    for item in pending:
        entry: dict[str, Any] = {
            "item": item,
            "title": DOCUMENT_TITLES[item.current.document],
            "document": item.current.document,
        }
        if item.accepted is not None:
            entry["comparison"] = compare(item.accepted, item.current, language, full=False)
        else:
            entry["rendered"] = render_markdown(
                item.current.body(language), 3, f"{item.current.document}-section-"
            )
            entry["text_language"] = item.current.text_language(language)
            if language != DEFAULT_LANGUAGE and item.current.body_en is not None:
                entry["outdated_since"] = services.outdated_translations(
                    db, item.current.document
                ).get(item.current.number)
        documents.append(entry)
    form.versions.data = ",".join(str(p.current.id) for p in pending)
    status = 409 if error else 200
    return (
        render_template(
            "legal/accept.html",
            form=form,
            documents=documents,
            error=error,
            language=language,
            profile=current_profile(),
        ),
        status,
    )


# Staff ------------------------------------------------------------------------------------


@bp.route("/staff/legal")
@staff_required
def staff_index() -> str:
    db = get_session()
    rows = []
    for document in DOCUMENTS:
        versions = services.list_versions(db, document)
        rows.append(
            {
                "document": document,
                "title": DOCUMENT_TITLES[document],
                "latest": versions[0] if versions else None,
                "in_effect": services.current_version(db, document),
                "count": len(versions),
            }
        )
    return render_template(
        "legal/staff_index.html", rows=rows, upcoming=services.upcoming_versions(db)
    )


def _draft_texts(form: PublishForm) -> dict[str, services.DraftText]:
    return {
        "fr": services.DraftText(form.body_fr.data or "", form.summary_fr.data or ""),
        "en": services.DraftText(form.body_en.data or "", form.summary_en.data or ""),
    }


def _confirm_signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="legal.publish")


def _draft_fingerprint(document: str, latest: TermsVersion | None, form: PublishForm) -> str:
    """What the staff member reviewed: the texts, the date and the version they replace."""
    digest = hashlib.sha256()
    for part in (
        document,
        str(latest.number if latest else 0),
        form.summary_fr.data or "",
        form.body_fr.data or "",
        form.summary_en.data or "",
        form.body_en.data or "",
        form.effective_on.data.isoformat() if form.effective_on.data else "",
    ):
        digest.update(part.replace("\r\n", "\n").encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
    return digest.hexdigest()


def _confirmed(document: str, latest: TermsVersion | None, form: PublishForm) -> bool:
    """The confirm token matches exactly the draft being published, and is recent."""
    token = request.form.get("confirm", "")
    try:
        reviewed = _confirm_signer().loads(token, max_age=CONFIRM_MAX_AGE)
    except BadData:
        return False
    return hmac.compare_digest(str(reviewed), _draft_fingerprint(document, latest, form))


@bp.route(f"/staff/legal/{DOCUMENT_ROUTE}/publish", methods=["GET", "POST"])
@staff_required
def publish(document: str) -> ResponseReturnValue:
    """Edit, preview, review (diff, people asked, warnings), then confirm to publish.

    Publishing takes two POSTs: "Review and publish" shows what changes and signs a token
    over exactly that draft; only "Publish" with a token for the same draft publishes. A
    draft edited after its review is shown for review again. No JavaScript needed.
    """
    known_document(document)
    db = get_session()
    latest = services.latest_version(db, document)
    form = PublishForm()
    if request.method == "GET" and latest is not None:
        form.body_fr.data = latest.body_fr
        form.body_en.data = latest.body_en or ""
    error = None
    preview = None
    review = None
    confirm_token = None
    action = request.form.get("action")
    if form.validate_on_submit():
        texts = _draft_texts(form)
        if action == "preview":
            preview = _preview(latest, texts)
        else:
            try:
                review = services.review_publication(
                    db, document, texts, effective_on=form.effective_on.data, zone=hoster_zone()
                )
                if action == "publish" and _confirmed(document, latest, form):
                    version = services.publish_version(
                        db,
                        document,
                        texts,
                        effective_on=form.effective_on.data,
                        zone=hoster_zone(),
                        publisher=current_user._get_current_object(),
                    )
                    told = announce_version(
                        db,
                        version,
                        title=lambda: str(DOCUMENT_TITLES[document]),
                        diff_url=url_for(
                            "legal.diff",
                            document=document,
                            _external=True,
                            **{"from": str(version.number - 1), "to": str(version.number)},
                        )
                        if version.number > 1
                        else None,
                        version_url=url_for(
                            "legal.version",
                            document=document,
                            number=version.number,
                            _external=True,
                        ),
                        languages=current_app.config["LANGUAGES"],
                    )
                    flash(
                        _(
                            "Version %(number)s of “%(title)s” is published.",
                            number=version.number,
                            title=DOCUMENT_TITLES[document],
                        )
                        + " "
                        + ngettext(
                            "%(num)s person with an account is told by e-mail.",
                            "%(num)s people with an account are told by e-mail.",
                            told,
                        ),
                        "success",
                    )
                    return redirect(
                        url_for("legal.version", document=document, number=version.number)
                    )
            except services.InvalidText as exc:
                discard_changes()
                review = None
                _field_for(form, exc).errors = [str(exc)]
            except services.LegalError as exc:
                discard_changes()
                review = None
                if isinstance(exc, services.InvalidEffectiveDate):
                    form.effective_on.errors = [str(exc)]
                else:
                    error = str(exc)
            else:
                confirm_token = _confirm_signer().dumps(_draft_fingerprint(document, latest, form))
    failed = bool(error or form.errors or any(f.errors for f in form))
    status = 422 if failed else 200
    return (
        render_template(
            "legal/publish.html",
            form=form,
            document=document,
            title=DOCUMENT_TITLES[document],
            latest=latest,
            next_number=(latest.number + 1) if latest else 1,
            preview=preview,
            review=review,
            confirm_token=confirm_token,
            reconfirm=action == "publish" and review is not None,
            error=error,
        ),
        status,
    )


def _field_for(form: PublishForm, exc: services.InvalidText) -> Any:
    language = exc.language if exc.language in TEXT_LANGUAGES else "fr"
    return getattr(form, f"{exc.part}_{language}")


def _preview(latest: TermsVersion | None, texts: dict[str, services.DraftText]) -> dict[str, Any]:
    """Rendered texts, and the changes against the latest version, before publishing."""
    result: dict[str, Any] = {"languages": []}
    for language, draft in texts.items():
        if not draft.body.strip():
            continue
        entry: dict[str, Any] = {"language": language, "rendered": render_markdown(draft.body)}
        if latest is not None and latest.has_language(language):
            entry["diff"] = diff_texts(latest.body(language), draft.body, full=False)
        result["languages"].append(entry)
    return result
