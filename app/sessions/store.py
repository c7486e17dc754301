"""Where sessions live: the panel's database (default) or Redis (several instances).

Both stores keep the same record, keyed by the SHA-256 of the cookie value, and can list
and end every session of an account, which is what "sign out everywhere", account deletion
and loss of rights need. The cookie value itself is never stored.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Protocol, cast

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from app.accounts.models import Account
from app.db import abort_commit, core_rows, rows_changed, utcnow
from app.sessions.models import SessionRecord

log = logging.getLogger(__name__)


class SessionStoreUnavailable(Exception):
    """The session store cannot be reached: the request fails closed with a 503."""


def key_of(token: str) -> str:
    """The stored key of a cookie value."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class StoredSession:
    key: str
    account_id: int | None
    data: str
    browser: str
    system: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    # Set for a sign-in through the OpenID provider (see app/oidc/).
    oidc_sid: str | None = None
    oidc_sub: str | None = None

    @property
    def expired(self) -> bool:
        return self.expires_at <= utcnow()


class SessionStore(Protocol):
    # True when sessions are rows of the panel's database: ending them then belongs in the
    # caller's transaction (account deletion), and the account's ON DELETE CASCADE helps.
    in_database: bool

    def load(self, key: str) -> StoredSession | None: ...

    def save(self, record: StoredSession, *, create: bool) -> None:
        """Write a session; with create=False only if it still exists, so a request still
        in flight cannot bring back a session that was just ended."""
        ...

    def delete(self, key: str) -> None: ...

    def for_account(self, account_id: int) -> list[StoredSession]: ...

    def delete_for_account(self, account_id: int, *, keep: str | None = None) -> int: ...

    def delete_for_provider_session(self, *, sid: str | None, sub: str | None) -> list[int]:
        """End the sessions opened through the OpenID provider's session `sid` (or, without
        a sid, every session of its subject `sub`); the accounts whose sessions ended."""
        ...


_COLUMNS = SessionRecord.__table__.c


def _plain(row: Any) -> StoredSession:
    return StoredSession(
        key=row.id,
        account_id=row.account_id,
        data=row.data,
        browser=row.browser,
        system=row.system,
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
        expires_at=row.expires_at,
        oidc_sid=row.oidc_sid,
        oidc_sub=row.oidc_sub,
    )


# Where load() leaves the signed-in account in the database session's `info`.
LOADED_ACCOUNT = "panel_session_account"


@functools.cache
def _session_with_account() -> Any:
    """The session's row and its account in one statement (one round trip, not two, for
    every signed-in request), built once."""
    return (
        select(*_COLUMNS, Account)
        .outerjoin(Account, Account.id == _COLUMNS.account_id)
        .where(_COLUMNS.id == bindparam("key"))
    )


@dataclass(frozen=True)
class _Writes:
    update: Any
    delete_expired: Any
    insert: Any


_WRITTEN = (
    "account_id",
    "data",
    "browser",
    "system",
    "created_at",
    "last_seen_at",
    "expires_at",
    "oidc_sid",
    "oidc_sub",
)


@functools.cache
def _statements() -> _Writes:
    """The session's writes, built once with bound values (Core statements on the table:
    the ORM's bulk UPDATE path and a statement built per request cost every write)."""
    table = cast(Table, SessionRecord.__table__)
    assigned = {name: bindparam(name, type_=_COLUMNS[name].type) for name in _WRITTEN}
    expired = (
        select(_COLUMNS.id)
        .where(_COLUMNS.expires_at <= bindparam("now", type_=_COLUMNS.expires_at.type))
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    return _Writes(
        update=update(table).where(_COLUMNS.id == bindparam("key")).values(assigned),
        delete_expired=delete(table).where(_COLUMNS.id.in_(expired)),
        insert=insert(table).values(id=bindparam("key"), **assigned),
    )


class DatabaseSessionStore:
    """Sessions in the `sessions` table.

    In a request, the record is read and written in the request's own transaction (the one
    connection it checks out, committed once at its end: see app.db); a write that fails
    there fails the request rather than let it commit half. Elsewhere (CLI, worker) each
    operation is its own short transaction. Plain Core statements: no ORM object to keep
    in step, and an update of a session ended meanwhile simply matches no row.
    """

    in_database = True

    def __init__(
        self,
        sessions: sessionmaker[Session],
        request_session: Callable[[], Session | None] = lambda: None,
    ) -> None:
        self._sessions = sessions
        self._request_session = request_session

    def _run(self, work: Any) -> Any:
        db = self._request_session()
        if db is not None:
            try:
                return work(db)
            except SQLAlchemyError as exc:
                failure = SessionStoreUnavailable(type(exc).__name__)
                abort_commit(failure)
                raise failure from exc
        try:
            with self._sessions() as db, db.begin():
                return work(db)
        except SQLAlchemyError as exc:
            raise SessionStoreUnavailable(type(exc).__name__) from exc

    def load(self, key: str) -> StoredSession | None:
        def work(db: Session) -> StoredSession | None:
            row = db.execute(_session_with_account(), {"key": key}).first()
            if row is None:
                return None
            if row.Account is not None:
                # The identity map holds objects weakly: keep the account for the request,
                # so that the user loader's get() finds it without a second query.
                db.info[LOADED_ACCOUNT] = row.Account
            return _plain(row)

        found: StoredSession | None = self._run(work)
        return found

    def save(self, record: StoredSession, *, create: bool) -> None:
        values = {
            "key": record.key,
            "account_id": record.account_id,
            "data": record.data,
            "browser": record.browser,
            "system": record.system,
            "created_at": record.created_at,
            "last_seen_at": record.last_seen_at,
            "expires_at": record.expires_at,
            "oidc_sid": record.oidc_sid,
            "oidc_sub": record.oidc_sub,
        }

        def work(db: Session) -> None:
            if not create:
                core_rows(db, _statements().update, values)
                return
            # New sessions are the moment to forget the expired ones (an indexed delete).
            # Rows another transaction is deleting are left to the next one: two requests
            # never wait on each other here (SKIP LOCKED; SQLite has one writer anyway).
            core_rows(db, _statements().delete_expired, {"now": utcnow()})
            core_rows(db, _statements().insert, values)

        self._run(work)

    def delete(self, key: str) -> None:
        self._run(lambda db: db.execute(delete(SessionRecord).where(_COLUMNS.id == key)))

    def for_account(self, account_id: int) -> list[StoredSession]:
        def work(db: Session) -> list[StoredSession]:
            rows = db.execute(
                select(*_COLUMNS)
                .where(_COLUMNS.account_id == account_id)
                .where(_COLUMNS.expires_at > utcnow())
                .order_by(_COLUMNS.last_seen_at.desc())
            ).all()
            return [_plain(row) for row in rows]

        found: list[StoredSession] = self._run(work)
        return found

    def delete_for_account(self, account_id: int, *, keep: str | None = None) -> int:
        def work(db: Session) -> int:
            statement = delete(SessionRecord).where(_COLUMNS.account_id == account_id)
            if keep is not None:
                statement = statement.where(_COLUMNS.id != keep)
            return rows_changed(db.execute(statement))

        ended: int = self._run(work)
        return ended

    def delete_for_provider_session(self, *, sid: str | None, sub: str | None) -> list[int]:
        def work(db: Session) -> list[int]:
            if sid is not None:
                where = SessionRecord.oidc_sid == sid
                if sub is not None:
                    where = where & (SessionRecord.oidc_sub == sub)
            elif sub is not None:
                where = SessionRecord.oidc_sub == sub
            else:
                return []
            ended = db.execute(
                delete(SessionRecord).where(where).returning(SessionRecord.account_id)
            ).all()
            return [row[0] for row in ended if row[0] is not None]

        accounts: list[int] = self._run(work)
        return accounts


class RedisSessionStore:
    """Sessions in Redis, shared by every instance: one key per session (expiring by
    itself) and one set per account listing its session keys."""

    in_database = False
    PREFIX = "panel:session:"
    ACCOUNT_PREFIX = "panel:account-sessions:"
    # The sessions opened through one OpenID provider session, or by one provider subject.
    SID_PREFIX = "panel:oidc-sid:"
    SUB_PREFIX = "panel:oidc-sub:"

    def __init__(self, url: str) -> None:
        import redis  # optional: loaded only by panels that keep sessions in Redis

        self._redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._errors: tuple[type[Exception], ...] = (redis.RedisError, OSError)

    def _call(self, work: Any) -> Any:
        try:
            return work(self._redis)
        except self._errors as exc:
            raise SessionStoreUnavailable(type(exc).__name__) from exc

    @staticmethod
    def _encode(record: StoredSession) -> str:
        values = asdict(record)
        for name in ("created_at", "last_seen_at", "expires_at"):
            values[name] = values[name].isoformat()
        return json.dumps(values)

    @staticmethod
    def _decode(raw: bytes | str) -> StoredSession:
        values = json.loads(raw)
        for name in ("created_at", "last_seen_at", "expires_at"):
            values[name] = datetime.fromisoformat(values[name])
        return StoredSession(**values)

    def load(self, key: str) -> StoredSession | None:
        raw = self._call(lambda r: r.get(self.PREFIX + key))
        return self._decode(raw) if raw is not None else None

    def save(self, record: StoredSession, *, create: bool) -> None:
        seconds = max(1, int((record.expires_at - utcnow()).total_seconds()))

        def work(r: Any) -> None:
            written = r.set(
                self.PREFIX + record.key, self._encode(record), ex=seconds, xx=not create
            )
            if written and record.account_id is not None:
                pipe = r.pipeline()
                members = f"{self.ACCOUNT_PREFIX}{record.account_id}"
                pipe.sadd(members, record.key)
                # The set lives as long as its longest session; stale members are pruned
                # when the account's sessions are listed.
                pipe.expire(members, seconds, gt=True)
                pipe.expire(members, seconds, nx=True)
                for prefix, value in (
                    (self.SID_PREFIX, record.oidc_sid),
                    (self.SUB_PREFIX, record.oidc_sub),
                ):
                    if value:
                        pipe.sadd(prefix + value, record.key)
                        pipe.expire(prefix + value, seconds, gt=True)
                        pipe.expire(prefix + value, seconds, nx=True)
                pipe.execute()

        self._call(work)

    def delete(self, key: str) -> None:
        def work(r: Any) -> None:
            raw = r.get(self.PREFIX + key)
            pipe = r.pipeline()
            pipe.delete(self.PREFIX + key)
            if raw is not None:
                account_id = self._decode(raw).account_id
                if account_id is not None:
                    pipe.srem(f"{self.ACCOUNT_PREFIX}{account_id}", key)
            pipe.execute()

        self._call(work)

    def for_account(self, account_id: int) -> list[StoredSession]:
        members = f"{self.ACCOUNT_PREFIX}{account_id}"

        def work(r: Any) -> list[StoredSession]:
            keys = [k.decode() if isinstance(k, bytes) else k for k in r.smembers(members)]
            if not keys:
                return []
            values = r.mget([self.PREFIX + k for k in keys])
            gone = [k for k, v in zip(keys, values, strict=True) if v is None]
            if gone:
                r.srem(members, *gone)
            found = [self._decode(v) for v in values if v is not None]
            return sorted(found, key=lambda s: s.last_seen_at, reverse=True)

        found: list[StoredSession] = self._call(work)
        return [s for s in found if not s.expired and s.account_id == account_id]

    def delete_for_account(self, account_id: int, *, keep: str | None = None) -> int:
        members = f"{self.ACCOUNT_PREFIX}{account_id}"

        def work(r: Any) -> int:
            keys = [k.decode() if isinstance(k, bytes) else k for k in r.smembers(members)]
            ending = [k for k in keys if k != keep]
            if not ending:
                return 0
            pipe = r.pipeline()
            pipe.delete(*[self.PREFIX + k for k in ending])
            pipe.srem(members, *ending)
            deleted, _removed = pipe.execute()
            return int(deleted)

        ended: int = self._call(work)
        return ended

    def delete_for_provider_session(self, *, sid: str | None, sub: str | None) -> list[int]:
        index = self.SID_PREFIX + sid if sid else (self.SUB_PREFIX + sub if sub else None)
        if index is None:
            return []

        def work(r: Any) -> list[int]:
            keys = [k.decode() if isinstance(k, bytes) else k for k in r.smembers(index)]
            accounts: list[int] = []
            for key in keys:
                raw = r.get(self.PREFIX + key)
                if raw is None:
                    continue
                record = self._decode(raw)
                if sub is not None and record.oidc_sub != sub:
                    continue
                r.delete(self.PREFIX + key)
                if record.account_id is not None:
                    r.srem(f"{self.ACCOUNT_PREFIX}{record.account_id}", key)
                    accounts.append(record.account_id)
            r.delete(index)
            return accounts

        found: list[int] = self._call(work)
        return found
