"""The terms state, kept in memory: which versions exist, and what each person accepted.

The gate asks on every private request whether the person must accept new terms, and the
account page lists the versions announced; both change only when terms are published or
accepted. So each process keeps:

- a snapshot of every version's number and dates (no bodies), keyed by the newest version
  id. That key is read from the database at most every `LEGAL_VERSION_SECONDS` (the way
  `JournalVersion` works for incidents), and forgotten at once when this process commits a
  publication: other instances and the CLI's `flask terms publish` are seen within those
  seconds, a restart starts empty. Which version is *in effect* is computed from the
  snapshot and the clock, so a date passing needs no invalidation;
- per person, the versions they accepted. Acceptances are only ever added (and removed
  with the account), so a remembered set is a subset of the truth: "everything in effect
  is accepted" read from it is always right, and any other answer is read again from the
  database. An acceptance made through another instance thus never sends the person back
  to the acceptance page.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from app.incidents.cache import JournalVersion
from app.legal.models import TermsAcceptance, TermsVersion
from app.templating import FragmentCache

CHANGED = "panel_terms_changed"
STATE = "panel_terms_state"


@dataclass(frozen=True)
class VersionInfo:
    """What lists and the gate need of a version: never its texts."""

    id: int
    document: str
    number: int
    effective_at: datetime


@dataclass(frozen=True)
class AcceptanceInfo:
    version: VersionInfo
    accepted_at: datetime


@dataclass(frozen=True)
class Snapshot:
    key: Any
    versions: tuple[VersionInfo, ...]  # by effective date, then document and number

    def in_effect(self, now: datetime) -> dict[str, VersionInfo]:
        found: dict[str, VersionInfo] = {}
        for version in self.versions:
            if version.effective_at <= now:
                known = found.get(version.document)
                if known is None or version.number > known.number:
                    found[version.document] = version
        return found

    def upcoming(self, now: datetime) -> list[VersionInfo]:
        return [v for v in self.versions if v.effective_at > now]


# Built once: the statements are the same on every request.
NEWEST_VERSION = select(func.max(TermsVersion.id))
ALL_VERSIONS = select(
    TermsVersion.id, TermsVersion.document, TermsVersion.number, TermsVersion.effective_at
).order_by(TermsVersion.effective_at, TermsVersion.document, TermsVersion.number)


class TermsState:
    def __init__(self, ttl: float) -> None:
        self.version = JournalVersion(ttl)
        self._snapshot: Snapshot | None = None
        self._people = FragmentCache(max_entries=4096)
        self._lock = threading.Lock()
        _STATES.add(self)

    def snapshot(self, session: Session) -> Snapshot:
        key = self.version.get(lambda: session.scalar(NEWEST_VERSION))
        found = self._snapshot
        if found is not None and found.key == key:
            return found
        rows = session.execute(ALL_VERSIONS).all()
        found = Snapshot(key, tuple(VersionInfo(*row) for row in rows))
        with self._lock:
            self._snapshot = found
        return found

    def acceptances(
        self, session: Session, account_id: int, *, fresh: bool = False
    ) -> tuple[AcceptanceInfo, ...]:
        """The person's acceptances, newest first; `fresh` reads them again."""
        if not fresh:
            known: tuple[AcceptanceInfo, ...] | None = self._people.get(account_id)
            if known is not None:
                return known
        snapshot = self.snapshot(session)
        rows = session.execute(
            select(TermsAcceptance.version_id, TermsAcceptance.accepted_at)
            .where(TermsAcceptance.account_id == account_id)
            .order_by(TermsAcceptance.accepted_at.desc(), TermsAcceptance.id.desc())
        ).all()
        by_id = {version.id: version for version in snapshot.versions}
        if any(version_id not in by_id for version_id, _ in rows):
            # Accepted a version published after our snapshot was taken: take it again.
            self.version.forget()
            by_id = {version.id: version for version in self.snapshot(session).versions}
        found = tuple(
            AcceptanceInfo(by_id[version_id], accepted_at)
            for version_id, accepted_at in rows
            if version_id in by_id
        )
        self._people.put(account_id, found)
        return found

    def needs_acceptance(self, session: Session, account_id: int, now: datetime) -> bool:
        in_effect = {v.id for v in self.snapshot(session).in_effect(now).values()}
        if not in_effect:
            return False
        for fresh in (False, True):
            accepted = {a.version.id for a in self.acceptances(session, account_id, fresh=fresh)}
            # Only the versions in effect matter (accepting one covers the older ones).
            if in_effect <= accepted:
                return False
        return True

    def forget(self) -> None:
        self.version.forget()
        self._people.clear()


# Every state of this process (one per app): a commit anywhere in the process forgets them
# all, even one made outside an application context (a script's own session).
_STATES: weakref.WeakSet[TermsState] = weakref.WeakSet()


def terms_state() -> TermsState:
    state: TermsState = current_app.extensions[STATE]
    return state


def init_state(app: Any) -> None:
    app.config.setdefault("LEGAL_VERSION_SECONDS", 2)
    app.extensions[STATE] = TermsState(float(app.config["LEGAL_VERSION_SECONDS"]))


def mark_changed(session: Session) -> None:
    """Called by publication and acceptance writes: forgotten once the session commits."""
    session.info[CHANGED] = True


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(CHANGED, False):
        for state in list(_STATES):
            state.forget()


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, _previous: Any) -> None:
    session.info.pop(CHANGED, None)
