"""Flask session interface over a SessionStore: the cookie carries only a random value.

The session's content (sign-in, re-authentication time, CSRF token, language, flashes)
stays on the server, so ending a session there ends every copy of its cookie at once.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import replace
from datetime import timedelta
from typing import Any

from flask import Flask, request
from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.datastructures import CallbackDict
from werkzeug.wrappers import Request, Response

from app.db import utcnow
from app.sessions.devices import describe
from app.sessions.store import SessionStore, SessionStoreUnavailable, StoredSession, key_of

log = logging.getLogger(__name__)

# "Last active" is shown approximately; writing it on every request would cost a write each.
TOUCH_INTERVAL = timedelta(minutes=5)
TOKEN_MAX_LENGTH = 64
# A visitor's session holds only a CSRF token and a language: it need not outlive a visit,
# and a robot fetching /login in a loop leaves rows that go away soon.
VISITOR_LIFETIME = timedelta(hours=2)


class PanelSession(CallbackDict[str, Any], SessionMixin):
    """The session of one request, with the stored record it came from (if any)."""

    def __init__(
        self,
        initial: dict[str, Any] | None = None,
        *,
        record: StoredSession | None = None,
        cookie_sent: bool = False,
        store: SessionStore | None = None,
    ) -> None:
        def on_update(session: Any) -> None:
            session.modified = True
            session.accessed = True

        super().__init__(initial, on_update)
        self.record = record
        self.cookie_sent = cookie_sent
        self._store = store
        self.modified = False
        self.accessed = False
        self.rotate_requested = False
        # The record regenerate() ended: ended again when the session is saved, since a
        # failed request rolls back its transaction, and that first delete with it.
        self.ended_key: str | None = None
        self.store_failure: SessionStoreUnavailable | None = None

    def __getitem__(self, key: str) -> Any:
        self.accessed = True
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self.accessed = True
        return super().get(key, default)

    def setdefault(self, key: str, default: Any = None) -> Any:
        self.accessed = True
        return super().setdefault(key, default)

    def regenerate(self) -> None:
        """Give this session a new cookie value and forget the old one (sign-in, sign-out).

        The old one is deleted now, inside the request: if the store fails, the person gets
        an error page rather than a "signed out" that did not happen.
        """
        if self.record is not None and self._store is not None:
            self._store.delete(self.record.key)
            self.ended_key = self.record.key
            self.record = None
        self.rotate_requested = True
        self.modified = True


class PanelSessionInterface(SessionInterface):
    serializer = TaggedJSONSerializer()

    def __init__(self, store: SessionStore) -> None:
        self.store = store

    def open_session(self, app: Flask, request: Request) -> PanelSession:
        token = request.cookies.get(self.get_cookie_name(app))
        if not token:
            return PanelSession()
        if len(token) > TOKEN_MAX_LENGTH:
            return PanelSession(cookie_sent=True)
        try:
            record = self.store.load(key_of(token))
        except SessionStoreUnavailable as exc:
            log.error("session store unavailable: %s", exc)
            failed = PanelSession(cookie_sent=True)
            failed.store_failure = exc
            return failed
        if record is None or record.expired:
            return PanelSession(cookie_sent=True)
        try:
            data = self.serializer.loads(record.data)
        except ValueError:
            return PanelSession(cookie_sent=True)
        return PanelSession(data, record=record, cookie_sent=True, store=self.store)

    def save_session(  # type: ignore[override]
        self, app: Flask, session: PanelSession, response: Response
    ) -> None:
        if session.store_failure is not None:
            return
        if session.accessed:
            response.vary.add("Cookie")
        try:
            self._save(app, session, response)
        except SessionStoreUnavailable as exc:
            # The page is already rendered; the next request will answer 503 if it persists.
            log.error("session not saved, store unavailable: %s", exc)

    def _save(self, app: Flask, session: PanelSession, response: Response) -> None:
        record = session.record
        if session.ended_key is not None and self.store.in_database:
            self.store.delete(session.ended_key)
        if record is not None and (session.rotate_requested or not session):
            self.store.delete(record.key)
            record = None
        if not session:
            if session.cookie_sent:
                response.delete_cookie(
                    self.get_cookie_name(app),
                    domain=self.get_cookie_domain(app),
                    path=self.get_cookie_path(app),
                    secure=self.get_cookie_secure(app),
                    httponly=self.get_cookie_httponly(app),
                    samesite=self.get_cookie_samesite(app),
                )
            return
        now = utcnow()
        data = self.serializer.dumps(dict(session))
        account_id = _account_id(session)
        oidc_sid, oidc_sub = _provider_session(session)
        if record is None:
            token = secrets.token_urlsafe(32)
            browser, system = describe(request.headers.get("User-Agent"))
            lifetime = app.permanent_session_lifetime
            if account_id is None:
                lifetime = min(lifetime, VISITOR_LIFETIME)
            self.store.save(
                StoredSession(
                    key=key_of(token),
                    account_id=account_id,
                    data=data,
                    browser=browser,
                    system=system,
                    created_at=now,
                    last_seen_at=now,
                    expires_at=now + lifetime,
                    oidc_sid=oidc_sid,
                    oidc_sub=oidc_sub,
                ),
                create=True,
            )
            response.set_cookie(
                self.get_cookie_name(app),
                token,
                expires=self.get_expiration_time(app, session),
                httponly=self.get_cookie_httponly(app),
                domain=self.get_cookie_domain(app),
                path=self.get_cookie_path(app),
                secure=self.get_cookie_secure(app),
                samesite=self.get_cookie_samesite(app),
            )
            return
        changed = data != record.data or account_id != record.account_id
        if changed or now - record.last_seen_at >= TOUCH_INTERVAL:
            self.store.save(
                replace(
                    record,
                    data=data,
                    account_id=account_id,
                    last_seen_at=now,
                    oidc_sid=oidc_sid,
                    oidc_sub=oidc_sub,
                ),
                create=False,
            )


def _account_id(session: PanelSession) -> int | None:
    user_id = str(session.get("_user_id") or "")
    return int(user_id) if user_id.isdigit() and len(user_id) < 19 else None


def _provider_session(session: PanelSession) -> tuple[str | None, str | None]:
    """The OpenID provider's session id and subject of a sign-in through it (app/oidc/)."""
    signed_in = session.get("oidc")
    if not isinstance(signed_in, dict) or not session.get("_user_id"):
        return None, None
    sid, sub = signed_in.get("sid"), signed_in.get("sub")
    return (
        str(sid)[:255] if sid else None,
        str(sub)[:255] if sub else None,
    )


def current_session_key(session: Any) -> str | None:
    record = getattr(session, "record", None)
    return record.key if record is not None else None
