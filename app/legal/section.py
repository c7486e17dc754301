"""The terms feature's share of the panel data: acceptances, exported with the texts."""

from __future__ import annotations

import json
from collections.abc import Iterator

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app.accounts.models import Account
from app.connectors.base import ArchiveEntry, DataItem
from app.connectors.panel import csv_bytes
from app.dates import human_date, human_datetime, page_zone
from app.legal import services
from app.legal.models import TermsVersion

# The documents by name, for the table people read (the JSON keeps the codes).
DOCUMENT_NAMES = {"terms": _l("Terms of service"), "privacy": _l("Privacy and personal data")}

# Whole sentences, so each reads naturally once translated.
TEXT_DESCRIPTIONS = {
    ("terms", "fr"): lambda **n: _(
        "The full text, in French, of version %(number)s of the terms of service you accepted.",
        **n,
    ),
    ("terms", "en"): lambda **n: _(
        "The English translation of version %(number)s of the terms of service you accepted.",
        **n,
    ),
    ("privacy", "fr"): lambda **n: _(
        "The full text, in French, of version %(number)s of the privacy clause you accepted.",
        **n,
    ),
    ("privacy", "en"): lambda **n: _(
        "The English translation of version %(number)s of the privacy clause you accepted.",
        **n,
    ),
}


def _entry(path: str, text: str, file_format: str, description: str) -> ArchiveEntry:
    data = text.encode("utf-8")
    return ArchiveEntry(
        path=path, chunks=[data], size=len(data), format=file_format, description=description
    )


def _stale_note(since: int) -> str:
    return _(
        "This translation was not updated when the French text changed in version "
        "%(since)s: the French text is the one that applies.",
        since=since,
    )


def _translation_note(version: TermsVersion, outdated: dict[int, int]) -> str:
    """Whether the English translation can be trusted, in words."""
    if not version.has_language("en"):
        return _("None: the French text only")
    since = outdated.get(version.number)
    return _stale_note(since) if since is not None else _("Up to date")


class LegalSection:
    """Which versions of the terms and privacy clause an account accepted, and when."""

    name = "legal"

    def inventory(self, session: Session, account: Account) -> list[DataItem]:
        return [
            DataItem(
                service="panel",
                kind=_("Which versions of the terms and privacy clause you accepted, and when"),
                location=_("the panel's database"),
                retention=_("As long as your account exists; erased with it"),
                exported=True,
            )
        ]

    def export(self, session: Session, account: Account) -> Iterator[ArchiveEntry]:
        acceptances = sorted(
            services.acceptances_of(session, account.id), key=lambda a: (a.accepted_at, a.id)
        )
        rows = [
            {
                "document": a.version.document,
                "version": a.version.number,
                "accepted_at": a.accepted_at.isoformat(),
                "effective_at": a.version.effective_at.isoformat(),
                "summary_fr": a.version.summary_fr,
                "summary_en": a.version.summary_en,
                "texts": [
                    f"{a.version.document}-v{a.version.number}.{lang}.md"
                    for lang in a.version.languages()
                ],
            }
            for a in acceptances
        ]
        yield _entry(
            "panel/legal/acceptances.json",
            json.dumps({"acceptances": rows}, ensure_ascii=False, indent=2) + "\n",
            "JSON",
            _(
                "Each version of the terms of service and of the privacy clause you accepted, "
                "with the day you accepted it and the summary of its changes."
            ),
        )
        outdated = {
            document: services.outdated_translations(session, document)
            for document in {a.version.document for a in acceptances}
        }
        zone = page_zone()[0]
        table = csv_bytes(
            [
                _("Document"),
                _("Version"),
                _("Accepted on (%(zone)s)", zone=zone),
                _("In effect from"),
                _("English translation"),
            ],
            [
                [
                    str(DOCUMENT_NAMES[a.version.document]),
                    a.version.number,
                    human_datetime(a.accepted_at),
                    human_date(a.version.effective_at),
                    _translation_note(a.version, outdated[a.version.document]),
                ]
                for a in acceptances
            ],
        )
        yield ArchiveEntry(
            path="panel/legal/acceptances.csv",
            chunks=[table],
            size=len(table),
            format="CSV",
            description=_("The same list of accepted versions, as a table."),
        )
        seen: set[int] = set()
        for acceptance in acceptances:
            version = acceptance.version
            if version.id in seen:
                continue
            seen.add(version.id)
            lagging = outdated[version.document].get(version.number)
            for language in version.languages():
                description = TEXT_DESCRIPTIONS[version.document, language](number=version.number)
                if language != "fr" and lagging is not None:
                    description += " " + _stale_note(lagging)
                yield _entry(
                    f"panel/legal/{version.document}-v{version.number}.{language}.md",
                    version.body(language),
                    "Markdown",
                    description,
                )

    def delete(self, session: Session, account: Account) -> None:
        services.delete_acceptances(session, account.id)
