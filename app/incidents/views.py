"""Public journal, incident pages and feeds, and the staff pages that keep the journal."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup
from werkzeug.http import http_date
from wtforms import SelectChoice

from app.dates import page_zone
from app.db import discard_changes, get_session, utcnow
from app.incidents import bp, operations, queries
from app.incidents import status as rules
from app.incidents.cache import JournalVersion, known_journal_start
from app.incidents.formatting import (
    ChartFormatter,
    format_month,
    hoster_tz,
    local_input_value,
    month_of,
)
from app.incidents.forms import (
    DetailsForm,
    MaintenanceForm,
    OpenIncidentForm,
    PostmortemForm,
    ResolveForm,
    UpdateForm,
    impact_choices,
    service_choices,
    to_utc,
)
from app.incidents.labels import status_label
from app.incidents.models import Incident
from app.paging import page_number, paginate
from app.profile import current_profile
from app.security import gate_exempt, here, public_endpoint, staff_required
from app.templating import FragmentCache

PER_PAGE = 20


def _audience() -> queries.Audience:
    return "users" if current_user.is_authenticated else "public"


def _viewer() -> str:
    if not current_user.is_authenticated:
        return "public"
    return "staff" if current_user.is_staff else "users"


def _service_filter() -> str | None:
    slug = request.args.get("service") or None
    if slug is not None and current_profile().service(slug) is None:
        abort(404)
    return slug


def _cache() -> FragmentCache:
    cache: FragmentCache = current_app.extensions["panel_incidents_cache"]
    return cache


def _version() -> Any:
    version: JournalVersion = current_app.extensions["panel_incidents_version"]
    return version.get(lambda: queries.journal_version(get_session()))


def _time_bucket() -> int | None:
    seconds = int(current_app.config.get("INCIDENTS_CACHE_SECONDS", 30))
    return int(time.time() // seconds) if seconds > 0 else None


# Public pages -----------------------------------------------------------------------------


# Pages are cached whole, with this marker where the visitor's own CSRF token goes (the
# language switcher's form); random per process so no text in the journal can contain it.
CSRF_MARK = f"csrf-mark-{secrets.token_hex(16)}"


@bp.route("/incidents")
@public_endpoint
@gate_exempt
def journal() -> str:
    service = _service_filter()
    page = page_number()
    bucket = _time_bucket()
    if bucket is None:
        return _journal_page(_render_journal_body(service, page), service)
    # Times are shown in the reader's zone: one cached page per zone, never another's.
    zone = page_zone()[0]
    key = ("journal", str(get_locale()), zone, _viewer(), request.full_path, _version(), bucket)
    if current_user.is_authenticated or "_flashes" in session:
        # The layout around the journal may speak of this reader: only the journal is shared.
        body: str | None = _cache().get(("body", *key))
        if body is None:
            body = _render_journal_body(service, page)
            _cache().put(("body", *key), body)
        return _journal_page(body, service)
    # Visitors all see the same page but for their CSRF token (the language switcher's form).
    html: str | None = _cache().get(key)
    if html is None:
        html = _journal_page(_render_journal_body(service, page), service, csrf_token=CSRF_MARK)
        _cache().put(key, html)
    # Only pages that carry a form (signed-in layout) need a token; visitors get none.
    return html.replace(CSRF_MARK, generate_csrf()) if CSRF_MARK in html else html


def _journal_page(body: str, service: str | None, csrf_token: str | None = None) -> str:
    extra: dict[str, Any] = {"csrf_token": lambda: csrf_token} if csrf_token else {}
    return render_template(
        "incidents/journal.html",
        body=Markup(body),  # nosec B704 # noqa: S704 - the output of our own template
        service=service,
        **extra,
    )


def _render_journal_body(service: str | None, page: int) -> str:
    """The part of /incidents that depends on the journal only: cached between requests."""
    db = get_session()
    audience = _audience()
    profile = current_profile()
    tz = hoster_tz()
    now = utcnow()
    shown = [s for s in profile.services if service is None or s.slug == service]
    open_list = queries.open_incidents(db, audience, service)
    ongoing, upcoming = queries.split_open(open_list, now)
    states = queries.service_states([(s.slug, s.name) for s in shown], open_list, now)
    availability = queries.availability_by_service(
        db,
        audience,
        [s.slug for s in shown],
        now,
        tz,
        service_since={
            s.slug: rules.local_midnight(s.start_date, tz) for s in shown if s.start_date
        },
        began=known_journal_start(db),
    )
    formatter = ChartFormatter()
    charts = {slug: formatter.view(av) for slug, av in availability.items()}
    history = paginate(
        partial(queries.history_page, db, audience, service), per_page=PER_PAGE, page=page
    )
    months: list[tuple[Any, list[Incident]]] = []
    for incident in history.items:
        assert incident.started_at is not None
        month = month_of(incident.started_at, tz)
        if not months or months[-1][0] != month:
            months.append((month, []))
        months[-1][1].append(incident)
    return render_template(
        "incidents/_journal_body.html",
        states=states,
        charts=charts,
        charts_days=rules.AVAILABILITY_DAYS,
        ongoing=ongoing,
        upcoming=upcoming,
        months=[(m, format_month(m), items) for m, items in months],
        **history.pager(),
        service=service,
        services_list=profile.services,
        service_names={s.slug: s.name for s in profile.services},
        now=now,
        timezone=profile.timezone,
        viewer=_viewer(),
    )


@bp.route("/incidents/<int:incident_id>")
@public_endpoint
@gate_exempt
def detail(incident_id: int) -> ResponseReturnValue:
    db = get_session()
    incident = queries.get_visible(db, incident_id, _audience())
    if incident is None:
        if not current_user.is_authenticated and queries.incident_exists(db, incident_id):
            # Hosted users follow links from mails and chats: let them sign in first.
            return redirect(url_for("accounts.login", next=here()))
        abort(404)
    return render_template("incidents/detail.html", **_detail_context(incident))


def _detail_context(incident: Incident) -> dict[str, Any]:
    profile = current_profile()
    now = utcnow()
    corrected_by: dict[int, list[int]] = {}
    for update in incident.updates:
        if update.corrects_id is not None:
            corrected_by.setdefault(update.corrects_id, []).append(update.id)
    start = incident.effective_start
    end = incident.resolved_at or (now if incident.started_at else None)
    return {
        "incident": incident,
        "updates": incident.updates,
        "corrected_by": corrected_by,
        "service_names": {s.slug: s.name for s in profile.services},
        "duration": (end - start) if start and end and end >= start else None,
        "ongoing": rules.is_ongoing(
            incident.impact, incident.status, incident.scheduled_start, now
        ),
        "timezone": profile.timezone,
        "now": now,
    }


# Feeds ------------------------------------------------------------------------------------


def _not_modified(etag: str, last_modified: datetime | None) -> Response | None:
    # If-None-Match uses the weak comparison (RFC 9110 §13.1.2): W/"x" matches "x".
    if request.if_none_match and request.if_none_match.contains_weak(etag):
        return _conditional_response(Response(status=304), etag, last_modified)
    if (
        not request.if_none_match
        and last_modified is not None
        and request.if_modified_since is not None
        and last_modified.replace(microsecond=0) <= request.if_modified_since
    ):
        return _conditional_response(Response(status=304), etag, last_modified)
    return None


def _conditional_response(
    response: Response, etag: str, last_modified: datetime | None
) -> Response:
    response.set_etag(etag)
    if last_modified is not None:
        response.headers["Last-Modified"] = http_date(last_modified)
    response.headers["Cache-Control"] = "public, max-age=60"
    response.vary.update(("Accept-Language", "Cookie"))
    return response


def _feed_tag(kind: str, *parts: Any) -> str:
    raw = json.dumps([kind, *[str(p) for p in parts]])
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


@bp.route("/incidents.atom")
@public_endpoint
@gate_exempt
def atom_feed() -> ResponseReturnValue:
    service = _service_filter()
    latest = _version()
    etag = _feed_tag("atom", latest, service, get_locale())
    cached = _not_modified(etag, latest)
    if cached is not None:
        return cached
    body = _cache().get(etag)
    if body is None:
        # On first use: feedgenerator (about 9 MiB with its imports) serves only the feeds.
        from app.incidents import feeds

        body = feeds.atom(get_session(), service)
        _cache().put(etag, body)
    response = Response(body, content_type="application/atom+xml; charset=utf-8")
    return _conditional_response(response, etag, latest)


@bp.route("/incidents.json")
@public_endpoint
@gate_exempt
def json_feed() -> ResponseReturnValue:
    service = _service_filter()
    latest = _version()
    # Current status moves with the clock too (planned work starting), so the tag has a bucket.
    bucket = _time_bucket() or int(time.time())
    seconds = int(current_app.config.get("INCIDENTS_CACHE_SECONDS", 30)) or 1
    bucket_start = datetime.fromtimestamp(bucket * seconds, UTC)
    modified = max(latest, bucket_start) if latest else bucket_start
    etag = _feed_tag("json", latest, service, bucket)
    cached = _not_modified(etag, modified)
    if cached is not None:
        return cached
    body = _cache().get(etag)
    if body is None:
        from app.incidents import feeds  # on first use, as above

        body = json.dumps(feeds.json_document(get_session(), service), ensure_ascii=False, indent=1)
        _cache().put(etag, body)
    response = Response(body, content_type="application/json; charset=utf-8")
    return _conditional_response(response, etag, modified)


# Staff ------------------------------------------------------------------------------------


def _actor() -> operations.Actor:
    return operations.Actor(account_id=current_user.id, source="staff")


def _known_services() -> list[str]:
    return list(current_profile().service_slugs)


def _attach_error(form: Any, error: operations.IncidentError) -> str | None:
    """Put the message next to its field; return it when no field of this form fits."""
    target = getattr(form, error.field, None) if error.field else None
    if target is not None and hasattr(target, "errors"):
        target.errors = [*list(target.errors), str(error)]
        return None
    return str(error)


def _incident_or_404(incident_id: int) -> Incident:
    incident = queries.get_visible(get_session(), incident_id, "users")
    if incident is None:
        abort(404)
    return incident


@bp.route("/staff/incidents")
@staff_required
def staff_list() -> str:
    listing = paginate(partial(queries.staff_page, get_session()), per_page=50)
    return render_template(
        "incidents/staff_list.html",
        incidents=listing.items,
        **listing.pager(),
        service_names={s.slug: s.name for s in current_profile().services},
    )


@bp.route("/staff/incidents/new", methods=["GET", "POST"])
@staff_required
def staff_new() -> ResponseReturnValue:
    form = OpenIncidentForm()
    form.services.choices = service_choices(current_profile().services)
    form.impact.choices = impact_choices()
    error = None
    if form.validate_on_submit():
        db = get_session()
        try:
            incident = operations.open_incident(
                db,
                title=form.title.data or "",
                services=form.services.data or [],
                impact=form.impact.data or "",
                visibility=form.visibility.data or "public",
                body=form.body.data,
                started_at=to_utc(form.started_at.data, hoster_tz()),
                known_services=_known_services(),
                actor=_actor(),
            )
        except operations.IncidentError as exc:
            discard_changes()
            error = _attach_error(form, exc)
        else:
            flash(
                _("Incident #%(id)s is open and shown in the journal.", id=incident.id), "success"
            )
            return redirect(url_for("incidents.staff_manage", incident_id=incident.id))
    failed = request.method == "POST"
    return render_template(
        "incidents/staff_new.html", form=form, error=error, timezone=current_profile().timezone
    ), (422 if failed else 200)


@bp.route("/staff/incidents/maintenance/new", methods=["GET", "POST"])
@staff_required
def staff_new_maintenance() -> ResponseReturnValue:
    form = MaintenanceForm()
    form.services.choices = service_choices(current_profile().services)
    error = None
    if form.validate_on_submit():
        db = get_session()
        tz = hoster_tz()
        try:
            incident = operations.schedule_maintenance(
                db,
                title=form.title.data or "",
                services=form.services.data or [],
                window_start=to_utc(form.window_start.data, tz),
                window_end=to_utc(form.window_end.data, tz),
                visibility=form.visibility.data or "public",
                body=form.body.data,
                known_services=_known_services(),
                actor=_actor(),
            )
        except operations.IncidentError as exc:
            discard_changes()
            error = _attach_error(form, exc)
        else:
            flash(_("Maintenance #%(id)s is announced.", id=incident.id), "success")
            return redirect(url_for("incidents.staff_manage", incident_id=incident.id))
    failed = request.method == "POST"
    return render_template(
        "incidents/staff_maintenance.html",
        form=form,
        error=error,
        timezone=current_profile().timezone,
    ), (422 if failed else 200)


def _manage_forms(incident: Incident) -> dict[str, Any]:
    tz = hoster_tz()
    profile = current_profile()
    update_form = UpdateForm(prefix="update")
    update_form.status.choices = [SelectChoice("", _("Keep the current status"))] + [
        SelectChoice(s, status_label(s, incident.is_maintenance))
        for s in operations.allowed_statuses(incident)
        if s != "resolved"
    ]
    update_form.corrects_id.choices = [SelectChoice("", _("No, this is a new update"))] + [
        SelectChoice(
            str(u.id),
            _("Update of %(when)s", when=u.created_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")),
        )
        for u in incident.updates
    ]
    details_form = DetailsForm(prefix="details")
    details_form.services.choices = service_choices(profile.services)
    if incident.is_maintenance:
        del details_form.impact  # planned work keeps its kind; its window is edited instead
    else:
        details_form.impact.choices = impact_choices()
    if request.endpoint != "incidents.staff_edit":
        details_form.title.data = incident.title
        details_form.services.data = incident.service_slugs
        if not incident.is_maintenance:
            details_form.impact.data = incident.impact
        details_form.visibility.data = incident.visibility
        details_form.window_start.data = _local_naive(incident.scheduled_start)
        details_form.window_end.data = _local_naive(incident.scheduled_end)
    postmortem_form = PostmortemForm(prefix="postmortem")
    if request.endpoint != "incidents.staff_postmortem":
        postmortem_form.postmortem.data = incident.postmortem or ""
    return {
        "update_form": update_form,
        "resolve_form": ResolveForm(prefix="resolve"),
        "details_form": details_form,
        "postmortem_form": postmortem_form,
        "local_input_value": lambda moment: local_input_value(moment, tz),
    }


def _local_naive(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.astimezone(hoster_tz()).replace(tzinfo=None)


def _render_manage(
    incident: Incident, forms: dict[str, Any], *, error: str | None = None, status: int = 200
) -> tuple[str, int]:
    db = get_session()
    author_ids = {u.author_id for u in incident.updates if u.author_id is not None}
    return (
        render_template(
            "incidents/staff_manage.html",
            **_detail_context(incident),
            **forms,
            error=error,
            authors=queries.authors(db, author_ids),
        ),
        status,
    )


@bp.route("/staff/incidents/<int:incident_id>")
@staff_required
def staff_manage(incident_id: int) -> tuple[str, int]:
    incident = _incident_or_404(incident_id)
    return _render_manage(incident, _manage_forms(incident))


def _manage_form_action(
    incident_id: int, form_key: str, done: str, change: Callable[[Any], object]
) -> ResponseReturnValue:
    """Validate one of the manage page's forms, call one service with it, flash, redirect;
    a refusal shows the page again with the error next to the field."""
    incident = _incident_or_404(incident_id)
    forms = _manage_forms(incident)
    form = forms[form_key]
    error = None
    if form.validate_on_submit():
        try:
            change(form)
        except operations.IncidentError as exc:
            discard_changes()
            error = _attach_error(form, exc)
        else:
            flash(done, "success")
            return redirect(url_for("incidents.staff_manage", incident_id=incident_id))
        incident = _incident_or_404(incident_id)
    forms[form_key] = form
    return _render_manage(incident, forms, error=error, status=422)


@bp.route("/staff/incidents/<int:incident_id>/updates", methods=["POST"])
@staff_required
def staff_post_update(incident_id: int) -> ResponseReturnValue:
    def post(form: UpdateForm) -> None:
        corrects = form.corrects_id.data
        operations.post_update(
            get_session(),
            incident_id,
            body=form.body.data,
            status=form.status.data or None,
            reopen=bool(form.reopen.data),
            corrects_id=int(corrects) if corrects else None,
            actor=_actor(),
        )

    return _manage_form_action(incident_id, "update_form", _("The update is posted."), post)


@bp.route("/staff/incidents/<int:incident_id>/resolve", methods=["POST"])
@staff_required
def staff_resolve(incident_id: int) -> ResponseReturnValue:
    return _manage_form_action(
        incident_id,
        "resolve_form",
        _("Marked as resolved."),
        lambda form: operations.resolve_incident(
            get_session(),
            incident_id,
            body=form.body.data,
            resolved_at=to_utc(form.resolved_at.data, hoster_tz()),
            actor=_actor(),
        ),
    )


@bp.route("/staff/incidents/<int:incident_id>/details", methods=["POST"])
@staff_required
def staff_edit(incident_id: int) -> ResponseReturnValue:
    def edit(form: DetailsForm) -> None:
        tz = hoster_tz()
        operations.edit_incident(
            get_session(),
            incident_id,
            title=form.title.data or "",
            services=form.services.data or [],
            impact=form.impact.data if "impact" in form else None,
            visibility=form.visibility.data or "",
            window_start=to_utc(form.window_start.data, tz),
            window_end=to_utc(form.window_end.data, tz),
            known_services=_known_services(),
            actor=_actor(),
        )

    return _manage_form_action(incident_id, "details_form", _("The details are saved."), edit)


@bp.route("/staff/incidents/<int:incident_id>/postmortem", methods=["POST"])
@staff_required
def staff_postmortem(incident_id: int) -> ResponseReturnValue:
    return _manage_form_action(
        incident_id,
        "postmortem_form",
        _("The post-mortem is saved."),
        lambda form: operations.write_postmortem(
            get_session(), incident_id, text=form.postmortem.data, actor=_actor()
        ),
    )
