"""The moving-house feature's share of the panel's own data: her imports and their reports."""

from __future__ import annotations

import json
from collections.abc import Iterator

from flask_babel import gettext as _
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.accounts.models import Account
from app.connectors.base import ArchiveEntry, DataItem
from app.dates import iso_or_none
from app.moving.models import ImportJob
from app.moving.services import delete_archive


def job_record(job: ImportJob) -> dict[str, object]:
    """One import as her export shows it: when, from where, and per part what became of it."""
    return {
        "id": job.id,
        "source": job.source,
        "old_panel": job.transfer_url,
        "state": job.state,
        "created_at": iso_or_none(job.created_at),
        "confirmed_at": iso_or_none(job.confirmed_at),
        "started_at": iso_or_none(job.started_at),
        "finished_at": iso_or_none(job.finished_at),
        "archive_bytes": job.archive_bytes,
        "error": job.error,
        "parts": [
            {
                "kind": part.kind,
                "name": part.name,
                "from_service": part.source_service,
                "to_service": part.service_slug,
                "not_imported_because": part.note,
                "state": part.state,
                "items": part.items_total,
                "bytes": part.bytes_total,
                "imported": part.imported,
                "skipped_already_there": part.skipped,
                "refused": part.refused,
                "refusals": part.refusals or [],
                "error": part.error,
            }
            for part in job.parts
        ],
    }


class ImportsSection:
    name = "moving"

    def inventory(self, session: Session, account: Account) -> list[DataItem]:
        return [
            DataItem(
                service="panel",
                kind=_("your imports from another hoster and their reports"),
                location=_(
                    "the panel's database; an archive waits on the panel's server "
                    "only while it is imported"
                ),
                retention=_("until you delete your account"),
                exported=True,
            )
        ]

    def export(self, session: Session, account: Account) -> Iterator[ArchiveEntry]:
        jobs = session.scalars(
            select(ImportJob).where(ImportJob.account_id == account.id).order_by(ImportJob.id)
        ).all()
        if not jobs:
            return
        body = json.dumps([job_record(j) for j in jobs], ensure_ascii=False, indent=2).encode()
        yield ArchiveEntry(
            path="panel/moving/imports.json",
            chunks=[body],
            size=len(body),
            format="JSON",
            description=_(
                "Your imports of data from another hoster: when, and for each mail folder, "
                "calendar, address book or file tree how many items were imported, were "
                "already there or were refused, and why."
            ),
        )

    def delete(self, session: Session, account: Account) -> None:
        for job in session.scalars(select(ImportJob).where(ImportJob.account_id == account.id)):
            delete_archive(job)
        session.execute(delete(ImportJob).where(ImportJob.account_id == account.id))
