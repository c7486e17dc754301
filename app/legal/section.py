"""The terms feature's share of the panel data: acceptances, exported with the texts."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from app.accounts.models import Account
from app.connectors.base import ArchiveEntry, DataItem
from app.legal import services

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
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["document", "version", "accepted_at", "effective_at"])
        for row in rows:
            writer.writerow(
                [row["document"], row["version"], row["accepted_at"], row["effective_at"]]
            )
        yield _entry(
            "panel/legal/acceptances.csv",
            buffer.getvalue(),
            "CSV",
            _("The same list of accepted versions, as a table."),
        )
        seen: set[int] = set()
        for acceptance in acceptances:
            version = acceptance.version
            if version.id in seen:
                continue
            seen.add(version.id)
            for language in version.languages():
                yield _entry(
                    f"panel/legal/{version.document}-v{version.number}.{language}.md",
                    version.body(language),
                    "Markdown",
                    TEXT_DESCRIPTIONS[version.document, language](number=version.number),
                )

    def delete(self, session: Session, account: Account) -> None:
        services.delete_acceptances(session, account.id)
