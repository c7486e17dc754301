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


def _entry(path: str, text: str, description: str) -> ArchiveEntry:
    data = text.encode("utf-8")
    return ArchiveEntry(path=path, chunks=[data], size=len(data), format=description)


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
        )
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["document", "version", "accepted_at", "effective_at"])
        for row in rows:
            writer.writerow(
                [row["document"], row["version"], row["accepted_at"], row["effective_at"]]
            )
        yield _entry("panel/legal/acceptances.csv", buffer.getvalue(), "CSV")
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
                )

    def delete(self, session: Session, account: Account) -> None:
        services.delete_acceptances(session, account.id)
