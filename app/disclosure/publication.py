"""The panel's own ChatonsInfos files, built in one place for the views and the checker.

Every address in them is absolute on BASE_URL (`external_url`), never on the Host header.
Metrics are computed at most once a day per process and language (the figures are daily),
and served with an ETag, so the federation's crawler gets 304 until the next day.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from threading import Lock
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy.orm import Session

from app.db import utcnow
from app.disclosure import chatonsinfos, metrics
from app.disclosure.checker import FetchError
from app.incidents import queries as incidents
from app.incidents.queries import journal_began
from app.links import external_url
from app.profile.loading import current_profile
from app.profile.model import HosterProfile
from app.profile.texts import reader_language

PREFIX = "/.well-known/chatonsinfos/"
ORGANISATION_FILE = "organization.properties"
ORGANISATION_METRICS = "organization-metrics.properties"
_cache_lock = Lock()


def _optional_url(endpoint: str) -> str | None:
    if endpoint not in current_app.view_functions:
        return None
    return external_url(endpoint)


def _logo_url(profile: HosterProfile) -> str | None:
    logo = profile.organisation.logo or current_app.config.get("HOSTER_LOGO")
    if not logo:
        return None
    if logo.startswith(("https://", "http://")):
        return str(logo)
    return external_url("static", filename=logo)


def journal_levels(session: Session, profile: HosterProfile, now: datetime) -> dict[str, str]:
    """Each service's level in the public incident journal right now."""
    states = incidents.service_states(
        [(s.slug, s.name) for s in profile.services],
        incidents.open_incidents(session, "public"),
        now,
    )
    return {state.slug: state.level for state in states}


def organisation_file(session: Session, now: datetime | None = None) -> str:
    profile = current_profile()
    now = now or utcnow()
    return chatonsinfos.organization_properties(
        profile,
        file_url=external_url("hosting.organization_properties"),
        service_urls={
            s.slug: external_url("hosting.service_properties", slug=s.slug)
            for s in profile.services
        },
        metrics_url=external_url("hosting.organization_metrics"),
        legal_url=_optional_url("legal.current_terms"),
        logo_url=_logo_url(profile),
        today=now.astimezone(ZoneInfo(profile.timezone)).date(),
    )


def service_file(session: Session, slug: str, now: datetime | None = None) -> str | None:
    profile = current_profile()
    service = profile.service(slug)
    if service is None:
        return None
    now = now or utcnow()
    return chatonsinfos.service_properties(
        profile,
        service,
        file_url=external_url("hosting.service_properties", slug=slug),
        metrics_url=external_url("hosting.service_metrics", slug=slug),
        journal_level=journal_levels(session, profile, now).get(slug),
        legal_url=_optional_url("legal.current_terms"),
        contact_url=_optional_url("support.index"),
        today=now.astimezone(ZoneInfo(profile.timezone)).date(),
    )


@dataclass(frozen=True)
class Published:
    text: str
    etag: str


def _cached(key: tuple[str, ...], build: Callable[[], str]) -> Published:
    cache: dict[tuple[str, ...], Published] = current_app.extensions.setdefault(
        "panel_chatonsinfos_metrics", {}
    )
    with _cache_lock:
        found = cache.get(key)
    if found is not None:
        return found
    text = build()
    published = Published(text, hashlib.sha256(text.encode()).hexdigest()[:32])
    with _cache_lock:
        # One day's files per language: older days are dropped as the new day comes.
        for old in [k for k in cache if k[0] != key[0]]:
            del cache[old]
        cache[key] = published
    return published


def metrics_file(
    session: Session, slug: str | None, now: datetime | None = None
) -> Published | None:
    """The organisation's metrics (slug None) or one service's; None for an unknown service."""
    profile = current_profile()
    now = now or utcnow()
    day = now.astimezone(ZoneInfo(profile.timezone)).date().isoformat()
    if slug is None:
        url = external_url("hosting.organization_metrics")
        return _cached(
            (day, reader_language(), ""),
            lambda: metrics.organisation_metrics(
                session, profile, file_url=url, now=now, journal_began=journal_began(session)
            ),
        )
    service = profile.service(slug)
    if service is None:
        return None
    url = external_url("hosting.service_metrics", slug=slug)
    return _cached(
        (day, reader_language(), slug),
        lambda: metrics.service_metrics(
            session,
            profile,
            service,
            file_url=url,
            now=now,
            journal_began=journal_began(session),
        ),
    )


def own_fetcher(session: Session) -> Callable[[str], str]:
    """A fetch function for the checker that reads this panel's files without the network."""
    base = external_url("hosting.organization_properties").rsplit("/", 1)[0] + "/"

    def fetch(url: str) -> str:
        if not url.startswith(base):
            raise FetchError(f"{url}: not a file of this panel")
        name = url[len(base) :]
        text: str | None = None
        if name == ORGANISATION_FILE:
            text = organisation_file(session)
        elif name == ORGANISATION_METRICS:
            found = metrics_file(session, None)
            text = found.text if found else None
        elif name.endswith("-metrics.properties"):
            found = metrics_file(session, name.removesuffix("-metrics.properties"))
            text = found.text if found else None
        elif name.endswith(".properties"):
            text = service_file(session, name.removesuffix(".properties"))
        if text is None:
            raise FetchError(f"{url}: HTTP 404")
        return text

    return fetch
