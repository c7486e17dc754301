"""Bilingual starter texts of the terms and privacy clause, filled from hoster.toml.

The texts cover what the CHATONS charter asks a hoster to state (data collected and why,
retention, no commercial use, no ads or trackers, backups, authority requests, moderation,
export, permanent deletion and its limits). A hoster adapts them (`flask terms starter`)
and publishes them; the demo publishes them as they are (`flask terms seed-demo`).
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy.orm import Session

from app.legal import services
from app.legal.models import DOCUMENTS, TEXT_LANGUAGES
from app.profile.model import HosterProfile, Service
from app.profile.texts import LocalizedText

STARTER_DIR = Path(__file__).resolve().parent / "starter"
SUMMARIES = {
    "fr": "Première version publiée.",
    "en": "First published version.",
}

# Markdown, not HTML: escaping would show "&amp;" in the text. The output is sanitised
# when rendered, like any text staff publish.
_environment = Environment(  # nosec B701 - Markdown source, sanitised when rendered
    loader=FileSystemLoader(str(STARTER_DIR)),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
    autoescape=False,  # noqa: S701
)


def starter_context(profile: HosterProfile, language: str) -> dict[str, Any]:
    org = profile.organisation
    territories = Locale.parse(language).territories
    hosts = [h for h in profile.raw.get("hosts", []) if isinstance(h, dict)]
    contact = org.contact_email or org.contact_url or org.website or ""
    contact_link = f"<{org.contact_email}>" if org.contact_email else contact
    return {
        "org": org,
        "contact": contact,
        "contact_link": contact_link,
        "providers": sorted({str(h.get("provider_name")) for h in hosts if h.get("provider_name")}),
        "countries": sorted(
            {
                territories.get(str(h["country"]), str(h["country"]))
                for h in hosts
                if h.get("country")
            }
        ),
        "services": [_service_in(service, language) for service in profile.services],
    }


def _service_in(service: Service, language: str) -> SimpleNamespace:
    """The service's texts in the document's language (French when not translated)."""

    def text(value: LocalizedText | None) -> str:
        return value.for_language(language) if value else ""

    return SimpleNamespace(
        slug=service.slug,
        name=text(service.name),
        description=text(service.description),
        data_location=text(service.data_location),
        retention=text(service.retention),
    )


def render(document: str, language: str, profile: HosterProfile) -> str:
    services.check_document(document)
    if language not in TEXT_LANGUAGES:
        raise services.InvalidText("unknown language", language=language)
    template = _environment.get_template(f"{document}.{language}.md")
    return template.render(**starter_context(profile, language))


def seed(session: Session, profile: HosterProfile, timezone: str) -> list[str]:
    """Publish the starter texts as version 1 of each document that has none yet."""
    published = []
    for document in DOCUMENTS:
        if services.latest_version(session, document) is not None:
            continue
        texts = {
            language: services.DraftText(
                body=render(document, language, profile), summary=SUMMARIES[language]
            )
            for language in TEXT_LANGUAGES
        }
        services.publish_version(session, document, texts, zone=ZoneInfo(timezone))
        published.append(document)
    return published
