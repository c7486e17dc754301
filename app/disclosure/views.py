"""Public hosting pages and machine-readable files, all rendered from hoster.toml."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, abort, current_app, jsonify, render_template, request, url_for
from flask_babel import get_locale
from markupsafe import Markup

from app.db import get_session, utcnow
from app.disclosure import (
    bp,
    charter,
    checker,
    closing,
    disclosure,
    federation,
    publication,
)
from app.extensions import csrf
from app.pagecache import cached_for_visitors
from app.profile.loading import current_profile
from app.profile.model import HosterProfile
from app.security import gate_exempt, public_endpoint, staff_required

PROPERTIES_MIMETYPE = "text/plain; charset=utf-8"


def local_today(timezone: str) -> date:
    return utcnow().astimezone(ZoneInfo(timezone)).date()


def _endpoint_url(endpoint: str, *, external: bool = False) -> str | None:
    if endpoint not in current_app.view_functions:
        return None
    return url_for(endpoint, _external=external)


PAGES_CACHE = "panel_hosting_pages"


def _content(page: str, build: Callable[[HosterProfile], dict[str, object]]) -> Markup:
    """A page's content, rendered once per language and per loaded hoster.toml.

    The content depends on the profile and the language only (no reader, no clock): the
    profile is read once at start-up, so a restart (which any change of hoster.toml needs)
    is the invalidation, and the key carries the profile's identity for the app factory's
    tests. The layout around it (menu, signed-in person, CSRF token) is rendered each time.
    """
    profile = current_profile()
    pages: dict[tuple[str, str, int], Markup] = current_app.extensions.setdefault(PAGES_CACHE, {})
    key = (page, str(get_locale()), id(profile))
    found = pages.get(key)
    if found is None:
        # Jinja's output, escaped by autoescape when rendered: safe to insert as it is.
        html = render_template(f"hosting/_{page}_content.html", **build(profile))
        found = Markup(html)  # noqa: S704  # nosec B704
        pages[key] = found
    return found


def _profile_version() -> tuple[int, date]:
    """What a hoster page is made of: the loaded hoster.toml, and the hoster's day (the
    closing notices in the layout say "closes on" until the date, "closed" after)."""
    profile = current_profile()
    return (id(profile), local_today(profile.timezone))


def _hosting_context(profile: HosterProfile) -> dict[str, object]:
    hosts = [
        (host, disclosure.host_summary(host), profile.services_on(host.slug))
        for host in profile.hosts
    ]
    since = profile.organisation.membership_since
    return {
        "profile": profile,
        "membership_since": date.fromisoformat(since) if since else None,
        "hosts": hosts,
        "labels": disclosure.labels(),
        "country": disclosure.country,
    }


def _services_context(profile: HosterProfile) -> dict[str, object]:
    return {
        "profile": profile,
        "labels": disclosure.labels(),
        "licence_name": disclosure.licence_name,
    }


def _charter_context(profile: HosterProfile) -> dict[str, object]:
    criteria = charter.assess(profile, current_app.view_functions)
    return {
        "profile": profile,
        "groups": charter.grouped(criteria),
        "fulfilled": sum(1 for c in criteria if c.fulfilled),
        "total": len(criteria),
    }


@bp.route("/hosting")
@public_endpoint
@gate_exempt
@cached_for_visitors(_profile_version)
def hosting() -> str:
    return render_template("hosting/hosting.html", content=_content("hosting", _hosting_context))


@bp.route("/services")
@public_endpoint
@gate_exempt
@cached_for_visitors(_profile_version)
def services() -> str:
    content = _content("services", _services_context)
    return render_template("hosting/services.html", content=content)


@bp.route("/charter")
@public_endpoint
@gate_exempt
@cached_for_visitors(_profile_version)
def charter_page() -> str:
    content = _content("charter", _charter_context)
    return render_template("hosting/charter.html", content=content)


@bp.route("/hosting.json")
@public_endpoint
@gate_exempt
def hosting_json() -> Response:
    profile = current_profile()
    document = disclosure.profile_for_json(profile)
    criteria = charter.assess(profile, current_app.view_functions)
    document["charter"] = [{"criterion": c.key, "fulfilled": c.fulfilled} for c in criteria]
    document["links"] = {
        "hosting": url_for("hosting.hosting", _external=True),
        "services": url_for("hosting.services", _external=True),
        "charter": url_for("hosting.charter_page", _external=True),
        "chatonsinfos": url_for("hosting.organization_properties", _external=True),
        "transparency": _endpoint_url("transparency.register", external=True),
        "statistics": _endpoint_url("transparency.stats", external=True),
        "terms": _endpoint_url("legal.current_terms", external=True),
        "incidents": _endpoint_url("incidents.journal", external=True),
    }
    document["generated_at"] = utcnow().isoformat(timespec="seconds")
    response = jsonify(document)
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


def _properties(text: str, etag: str | None = None) -> Response:
    response = Response(text, content_type=PROPERTIES_MIMETYPE)
    response.headers["Cache-Control"] = "public, max-age=300"
    if etag:
        response.set_etag(etag)
        response.make_conditional(request)
    return response


@bp.route("/.well-known/chatonsinfos/organization.properties")
@public_endpoint
@gate_exempt
def organization_properties() -> Response:
    return _properties(publication.organisation_file(get_session()))


@bp.route("/.well-known/chatonsinfos/organization-metrics.properties")
@public_endpoint
@gate_exempt
def organization_metrics() -> Response:
    found = publication.metrics_file(get_session(), None)
    assert found is not None
    return _properties(found.text, found.etag)


@bp.route("/.well-known/chatonsinfos/<slug>-metrics.properties")
@public_endpoint
@gate_exempt
def service_metrics(slug: str) -> Response:
    found = publication.metrics_file(get_session(), slug)
    if found is None:
        abort(404)
    return _properties(found.text, found.etag)


@bp.route("/.well-known/chatonsinfos/<slug>.properties")
@public_endpoint
@gate_exempt
def service_properties(slug: str) -> Response:
    text = publication.service_file(get_session(), slug)
    if text is None:
        abort(404)
    return _properties(text)


@bp.route("/closing")
@public_endpoint
@gate_exempt
def closing_page() -> str:
    """Every closing announced, with the export and other members to go to."""
    profile = current_profile()
    today = local_today(profile.timezone)
    cache = federation.load_cache(current_app)
    found = []
    for notice in closing.notices(profile, today):
        if notice.software is not None:
            others = federation.alternatives(
                cache, notice.software, own_website=profile.organisation.website
            )
        else:
            # The whole hoster closes: members that run any of its services, each once.
            found_all = {
                other: None
                for service in profile.services
                for other in federation.alternatives(
                    cache, service.software.name, own_website=profile.organisation.website
                )
            }
            others = list(found_all)
        found.append((notice, others))
    return render_template(
        "hosting/closing.html",
        notices=found,
        cache=cache,
        fetched_on=datetime.fromisoformat(cache.fetched_at) if cache else None,
        registrations=disclosure.REGISTRATION_LABELS,
        other_chatons_url=profile.offer.other_chatons_url
        if profile.offer
        else "https://www.chatons.org/",
    )


@bp.route("/staff/federation")
@staff_required
def staff_federation() -> str:
    """The panel's own ChatonsInfos files as the federation's crawler sees them."""
    session = get_session()
    reports = checker.crawl(
        url_for("hosting.organization_properties", _external=True),
        publication.own_fetcher(session),
    )
    errors, warnings = checker.count(reports)
    profile = current_profile()
    cache = federation.load_cache(current_app)
    return render_template(
        "hosting/staff_federation.html",
        reports=reports,
        errors=errors,
        warnings=warnings,
        cache=cache,
        fetched_on=datetime.fromisoformat(cache.fetched_at) if cache else None,
        federation_url=current_app.config.get("FEDERATION_URL"),
        stage_labels=closing.STAGE_LABELS,
        progress=closing.progress(session, profile, local_today(profile.timezone)),
    )


@bp.route("/closing/unsubscribe/<token>", methods=["GET", "POST"])
@public_endpoint
@gate_exempt
@csrf.exempt
def closing_unsubscribe(token: str) -> Any:
    """RFC 8058: mail clients POST `List-Unsubscribe=One-Click` here without a session.

    Exempt from CSRF on purpose: the signed token names one account and was mailed only to
    its address; a GET only shows the button, so link scanners stop nobody's reminders.
    """
    session = get_session()
    account = closing.read_token(session, str(current_app.config["SECRET_KEY"]), token)
    if account is None:
        abort(404)
    if request.method == "GET":
        return render_template("hosting/closing_unsubscribe.html", token=token, done=False)
    closing.stop_reminders(session, account)
    session.commit()
    return render_template("hosting/closing_unsubscribe.html", token=token, done=True)
