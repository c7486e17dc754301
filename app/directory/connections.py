"""Connections to the directory: failover order, a pool of service connections, error kinds.

ldap3 objects never leave this package. Every Server here is built with get_info=NONE: the
schema is read once per process by `schema.py`, not downloaded on every connection.
"""

from __future__ import annotations

import logging
import math
import re
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any, TypeVar

from ldap3 import ANONYMOUS, MOCK_SYNC, NONE, SIMPLE, SYNC, Connection, Server, Tls
from ldap3.core.exceptions import (
    LDAPCommunicationError,
    LDAPException,
    LDAPResponseTimeoutError,
    LDAPSASLPrepError,
    LDAPStartTLSError,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

# How long a server that timed out or dropped the connection is tried last.
DEMOTION_SECONDS = 60.0
# Servers close idle connections (OpenLDAP idletimeout, 389 DS nsslapd-idletimeout);
# a pooled connection older than this is closed rather than reused.
POOL_MAX_IDLE_SECONDS = 60.0
POOL_SIZE = 4


class DirectoryUnavailable(Exception):
    """The directory cannot be reached or does not answer in time."""


class DirectoryMisconfigured(DirectoryUnavailable):
    """The directory answers, but a setting of the panel is wrong: the hoster must act.

    A subclass of DirectoryUnavailable because, for a person, signing in is impossible
    either way; the log and `flask doctor` name it as a configuration problem.
    """


class PasswordNotAcceptable(Exception):
    """The password cannot be sent at all (SASLprep forbids a character): a wrong password."""


_NETWORK_ERRORS = (LDAPCommunicationError, LDAPResponseTimeoutError, LDAPStartTLSError, OSError)
_SSL_REASON = re.compile(r"\[SSL: ([A-Z_]+)\][^(\]']*?([a-z][^(\]']*)")


def _short_tls_reason(exc: BaseException) -> str | None:
    """One short line for a certificate failure, never the certificate itself."""
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text:
        match = _SSL_REASON.search(text)
        detail = match.group(2).strip().rstrip(" ,") if match else "verify failed"
        return f"certificate not trusted ({detail})"
    if "doesn't match" in text or ("hostname" in text.casefold() and "match" in text):
        return "certificate does not name this host"
    if "WRONG_VERSION_NUMBER" in text or "UNEXPECTED_EOF" in text or "wrong version" in text:
        return "no TLS on this port (ldaps:// on a plain port?)"
    return None


def describe_error(exc: BaseException) -> str:
    """A one-line description of an ldap3 or socket error for the log."""
    reason = _short_tls_reason(exc)
    if reason:
        return f"TLS {reason}"
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text[:200]}"


class Servers:
    """The configured servers in failover order; thread-safe.

    A server that times out or drops a connection is demoted: tried after the others for
    DEMOTION_SECONDS, then first again. A hung first server thus costs one timeout, once.
    """

    def __init__(
        self,
        urls: tuple[str, ...],
        *,
        timeout: float,
        starttls: bool,
        ca_file: str | None,
        demo_server: Any | None = None,
    ) -> None:
        self.urls = urls
        self.timeout = timeout
        self.starttls = starttls
        self.ca_file = ca_file
        self.demo_server = demo_server
        self._demoted_until: dict[str, float] = {}
        self._lock = threading.Lock()

    def ordered(self) -> list[str]:
        now = time.monotonic()
        with self._lock:
            demoted = {u for u, until in self._demoted_until.items() if until > now}
        return [u for u in self.urls if u not in demoted] + [u for u in self.urls if u in demoted]

    def demote(self, url: str, reason: str) -> None:
        if len(self.urls) > 1:
            log.warning("directory server %s demoted for %.0f s: %s", url, DEMOTION_SECONDS, reason)
        with self._lock:
            self._demoted_until[url] = time.monotonic() + DEMOTION_SECONDS

    def is_demoted(self, url: str) -> bool:
        with self._lock:
            return self._demoted_until.get(url, 0) > time.monotonic()

    def _server(self, url: str) -> Server:
        tls = None
        if url.startswith("ldaps://") or self.starttls:
            tls = Tls(
                validate=ssl.CERT_REQUIRED,
                ca_certs_file=self.ca_file,
                version=ssl.PROTOCOL_TLS_CLIENT,
            )
        return Server(
            url,
            use_ssl=url.startswith("ldaps://"),
            tls=tls,
            connect_timeout=self.timeout,
            get_info=NONE,
        )

    def open(self, dn: str | None, password: str | None) -> Any:
        """A connection bound as `dn` (anonymous if None) on the first server that answers.

        The returned connection may be unbound (`.bound` False) when the server refused the
        credentials; `.result` says why. Raises DirectoryUnavailable when no server answers,
        DirectoryMisconfigured on a TLS or client-side error, PasswordNotAcceptable when
        SASLprep rejects the password.
        """
        if self.demo_server is not None:
            conn = Connection(
                self.demo_server,
                user=dn,
                password=password,
                authentication=SIMPLE if dn else ANONYMOUS,
                client_strategy=MOCK_SYNC,
                raise_exceptions=False,
            )
            conn.open()
            try:
                conn.bind()
            except LDAPSASLPrepError as exc:
                raise PasswordNotAcceptable(str(exc)) from exc
            return conn
        failures: list[str] = []
        tls_failure = False
        for url in self.ordered():
            try:
                return self._open_one(url, dn, password)
            except (LDAPSASLPrepError, PasswordNotAcceptable) as exc:
                raise PasswordNotAcceptable(str(exc)) from exc
            except _NETWORK_ERRORS as exc:
                description = describe_error(exc)
                tls_failure = tls_failure or _short_tls_reason(exc) is not None
                log.warning("directory %s: %s", url, description)
                failures.append(f"{url}: {description}")
                self.demote(url, description)
            except LDAPException as exc:
                raise DirectoryMisconfigured(
                    f"configuration problem talking to {url}: {describe_error(exc)}"
                ) from exc
        message = "; ".join(failures) or "no directory server configured"
        if tls_failure:
            raise DirectoryMisconfigured(
                f"{message} (check PANEL_LDAP_CA_FILE and the server's certificate)"
            )
        raise DirectoryUnavailable(message)

    def _open_one(self, url: str, dn: str | None, password: str | None) -> Any:
        conn = Connection(
            self._server(url),
            user=dn,
            password=password,
            authentication=SIMPLE if dn else ANONYMOUS,
            client_strategy=SYNC,
            # ldap3 packs this into SO_RCVTIMEO as an integer on Linux.
            receive_timeout=max(1, math.ceil(self.timeout)),
            raise_exceptions=False,
            auto_referrals=False,
        )
        try:
            conn.open()
            if self.starttls and not conn.start_tls():
                raise LDAPStartTLSError(f"StartTLS refused: {conn.result.get('description')}")
            conn.bind()
        except BaseException:
            close_quietly(conn)
            raise
        if conn.result.get("result") in (51, 52):  # busy, unavailable
            close_quietly(conn)
            raise LDAPCommunicationError(f"server {conn.result.get('description')}")
        return conn


def close_quietly(conn: Any) -> None:
    with suppress(LDAPException, OSError):
        conn.unbind()


def url_of(conn: Any) -> str:
    server = conn.server
    scheme = "ldaps" if server.ssl else "ldap"
    return f"{scheme}://{server.host}:{server.port}"


class ServicePool:
    """A few connections bound as the service account, reused across requests.

    Each connection serves one thread at a time (taken from the pool, given back); under
    gunicorn's gthread workers the pool is shared by the worker's threads.
    """

    def __init__(
        self, servers: Servers, dn: str | None, password: str | None, size: int = POOL_SIZE
    ) -> None:
        self.servers = servers
        self.dn = dn
        self.password = password
        self.size = size
        self._idle: deque[tuple[Any, float]] = deque()
        self._lock = threading.Lock()

    def _take(self, fresh: bool = False) -> tuple[Any, bool]:
        """A bound connection, and whether it was reused from the pool."""
        now = time.monotonic()
        while not fresh:
            with self._lock:
                if not self._idle:
                    break
                conn, since = self._idle.pop()
            stale = now - since > POOL_MAX_IDLE_SECONDS or conn.closed
            demoted = self.servers.demo_server is None and self.servers.is_demoted(url_of(conn))
            if stale or demoted:
                close_quietly(conn)
                continue
            return conn, True
        conn = self.servers.open(self.dn, self.password)
        if not conn.bound:
            description = conn.result.get("description")
            close_quietly(conn)
            if self.dn:
                raise DirectoryMisconfigured(
                    f"the service account {self.dn} cannot bind ({description}): "
                    "check PANEL_LDAP_BIND_DN and PANEL_LDAP_BIND_PASSWORD"
                )
            raise DirectoryMisconfigured(f"anonymous bind refused ({description})")
        return conn, False

    def _give_back(self, conn: Any) -> None:
        with self._lock:
            if len(self._idle) < self.size and not conn.closed:
                self._idle.append((conn, time.monotonic()))
                return
        close_quietly(conn)

    def run(self, operation: Callable[[Any], T]) -> T:
        """Run `operation(conn)` on a service connection; one retry on a fresh connection
        (another server first) if the pooled one turns out dead or hung."""
        for attempt in (1, 2):
            try:
                # The retry never reuses: the other pooled connections may be dead alike.
                conn, reused = self._take(fresh=attempt == 2)
            except PasswordNotAcceptable as exc:
                raise DirectoryMisconfigured(
                    "PANEL_LDAP_BIND_PASSWORD holds a character SASLprep forbids"
                ) from exc
            try:
                result = operation(conn)
            except _NETWORK_ERRORS as exc:
                close_quietly(conn)
                description = describe_error(exc)
                # A pooled connection the server closed while idle says nothing about the
                # server; a timeout, or a fresh connection dropping, does.
                hung = isinstance(exc, LDAPResponseTimeoutError) or "timed out" in str(exc)
                if self.servers.demo_server is None:
                    if hung or not reused:
                        self.servers.demote(url_of(conn), description)
                    self._drop_idle(url_of(conn))
                if attempt == 2:
                    raise DirectoryUnavailable(description) from exc
                continue
            except DirectoryUnavailable:
                close_quietly(conn)
                raise
            except LDAPException as exc:
                close_quietly(conn)
                raise DirectoryMisconfigured(
                    f"configuration problem (client side): {describe_error(exc)}"
                ) from exc
            self._give_back(conn)
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    def _drop_idle(self, url: str) -> None:
        """Close the idle connections to a server one of whose connections just died."""
        with self._lock:
            keep = deque(item for item in self._idle if url_of(item[0]) != url)
            dropped = [item[0] for item in self._idle if url_of(item[0]) == url]
            self._idle = keep
        for conn in dropped:
            close_quietly(conn)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = list(self._idle), deque()
        for conn, _since in idle:
            close_quietly(conn)

    def forget(self) -> None:
        """Drop the idle connections without closing them: in a process forked from the one
        that opened them, their sockets are shared with it, and an unbind would end its
        sessions too."""
        self._lock = threading.Lock()
        self._idle = deque()


@contextmanager
def user_connection(servers: Servers, dn: str, password: str) -> Iterator[Any]:
    """A fresh connection bound as the person (never pooled: it carries their identity)."""
    try:
        conn = servers.open(dn, password)
    except LDAPException as exc:  # pragma: no cover - open() converts what it can
        raise DirectoryUnavailable(describe_error(exc)) from exc
    try:
        yield conn
    finally:
        close_quietly(conn)
