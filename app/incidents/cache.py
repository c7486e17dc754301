"""What the journal's pages keep between requests: the journal version (`JournalVersion`)
and results kept under it (`kept_for_the_journal`), in the per-process LRU of
app/templating.py (`FragmentCache`).

Keys carry the journal version (it changes with every write) and a time bucket (times,
statuses of planned work and availability move with the clock), so entries never need to be
invalidated: stale keys just stop being asked for and fall out of the LRU.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.incidents import queries
from app.templating import FragmentCache

T = TypeVar("T")


def kept_for_the_journal(
    session: Session, key: tuple[Hashable, ...], compute: Callable[[], T]
) -> T:
    """compute()'s result, kept in the journal's fragment cache under `key`, the journal
    version and the time bucket (a planned window opening or closing changes what is under
    way); computed every time with INCIDENTS_CACHE_SECONDS = 0 or outside an app."""
    seconds = int(current_app.config.get("INCIDENTS_CACHE_SECONDS", 30)) if has_app_context() else 0
    if seconds <= 0:
        return compute()
    version = current_app.extensions["panel_incidents_version"].get(
        lambda: queries.journal_version(session)
    )
    cache: FragmentCache = current_app.extensions["panel_incidents_cache"]
    full = (*key, version, int(time.time() // seconds))
    found: T | None = cache.get(full)
    if found is None:
        found = compute()
        cache.put(full, found)
    return found


class JournalVersion:
    """The journal version (latest `changed_at`), read from the database at most every `ttl` s.

    A write committed in this process clears it at once (see `mark_changed`); other workers and
    the CLI's process are seen within `ttl` seconds. So a cached page costs no query at all.
    """

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._value: Any = None
        self._read_at = -1.0
        self._lock = threading.Lock()
        _VERSIONS.add(self)

    def get(self, read: Callable[[], Any]) -> Any:
        now = time.monotonic()
        with self._lock:
            if self.ttl > 0 and self._read_at >= 0 and now - self._read_at < self.ttl:
                return self._value
        value = read()
        with self._lock:
            self._value, self._read_at = value, now
        return value

    def peek(self) -> Any:
        """The version as last read in this process, without reading it (None: never read)."""
        with self._lock:
            return self._value

    def forget(self) -> None:
        with self._lock:
            self._read_at = -1.0


_VERSIONS: weakref.WeakSet[JournalVersion] = weakref.WeakSet()


def forget_versions() -> None:
    for version in list(_VERSIONS):
        version.forget()


CHANGED = "panel_incidents_changed"


def mark_changed(session: Session) -> None:
    """Called by every journal write; the versions are forgotten once the session commits."""
    session.info[CHANGED] = True


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(CHANGED, False):
        forget_versions()


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, _previous: Any) -> None:
    session.info.pop(CHANGED, None)


def known_journal_start(session: Any) -> Any:
    """When the journal began, remembered per journal version: an incident entered later
    with an earlier start moves the beginning back (a new version), never the clock."""
    # The version as last read (pages read it for their cache keys): no query of its own.
    tracker: JournalVersion | None = current_app.extensions.get("panel_incidents_version")
    version = tracker.peek() if tracker else None
    remembered = current_app.extensions.get("panel_journal_began")
    if remembered is not None and remembered[0] == version:
        return remembered[1]
    found = queries.journal_began(session)
    if found is not None:
        current_app.extensions["panel_journal_began"] = (version, found)
    return found
