"""Public hosting pages and machine-readable files, all rendered from hoster.toml."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from flask import Response, abort, current_app, jsonify, render_template, url_for
from flask_babel import get_locale
from markupsafe import Markup

from app.db import utcnow
from app.hoster.profile import HosterProfile, current_profile
from app.hosting import bp, charter, chatonsinfos, disclosure
from app.security import gate_exempt, public_endpoint

PROPERTIES_MIMETYPE = "text/plain; charset=utf-8"


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
        found = Markup(html)  # noqa: S704
        pages[key] = found
    return found


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
def hosting() -> str:
    return render_template("hosting/hosting.html", content=_content("hosting", _hosting_context))


@bp.route("/services")
@public_endpoint
@gate_exempt
def services() -> str:
    content = _content("services", _services_context)
    return render_template("hosting/services.html", content=content)


@bp.route("/charter")
@public_endpoint
@gate_exempt
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


def _properties(text: str) -> Response:
    response = Response(text, content_type=PROPERTIES_MIMETYPE)
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


def _logo_url() -> str | None:
    logo = current_profile().organisation.logo or current_app.config.get("HOSTER_LOGO")
    if not logo:
        return None
    if logo.startswith(("https://", "http://")):
        return str(logo)
    return url_for("static", filename=logo, _external=True)


@bp.route("/.well-known/chatonsinfos/organization.properties")
@public_endpoint
@gate_exempt
def organization_properties() -> Response:
    profile = current_profile()
    service_urls = {
        s.slug: url_for("hosting.service_properties", slug=s.slug, _external=True)
        for s in profile.services
    }
    return _properties(
        chatonsinfos.organization_properties(
            profile,
            service_urls=service_urls,
            legal_url=_endpoint_url("legal.current_terms", external=True),
            logo_url=_logo_url(),
        )
    )


@bp.route("/.well-known/chatonsinfos/<slug>.properties")
@public_endpoint
@gate_exempt
def service_properties(slug: str) -> Response:
    profile = current_profile()
    service = profile.service(slug)
    if service is None:
        abort(404)
    return _properties(
        chatonsinfos.service_properties(
            profile,
            service,
            legal_url=_endpoint_url("legal.current_terms", external=True),
            contact_url=_endpoint_url("support.index", external=True),
        )
    )
