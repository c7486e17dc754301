"""HTTP client and connector base shared by the `http`, `dav` and `matrix` connectors.

Every request has a connect and a read timeout; bodies are streamed; every failure of the
network or the server becomes one ConnectorError whose message names the service and what
to check, and never holds a secret (requests puts neither headers nor passwords in its
messages, and URLs here never carry credentials).

`WebService` reads what every such connector's table holds alike (url, ca_file, timeout)
and `WebConnector` holds what they do alike (the client, where the data lives, a deletion
whose failures become retryable steps); each protocol module adds only its own options and
requests. The messages are English msgids marked with N_: they are translated when they
are raised, and a deletion records them in English for app/deletion/outcomes.py to show in
the reader's language.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from flask_babel import gettext as _

from app.connectors.base import (
    N_,
    ConnectorError,
    ServiceUnreachable,
    StepResult,
)
from app.connectors.options import ConnectorOptions
from app.connectors.secrets import Secret
from app.directory import Person

if TYPE_CHECKING:
    import requests

CHUNK = 256 * 1024
DEFAULT_TIMEOUT = 30.0

OTHER_ADDRESS = N_("the server pointed to another address (%(url)s)")
UNTRUSTED = N_("the TLS certificate of %(host)s is not trusted (see ca_file)")
NO_ANSWER = N_("%(host)s did not answer within %(seconds)s s")
UNREACHABLE = N_("%(host)s cannot be reached: %(error)s")
REFUSED = N_("%(host)s refused the panel's credentials (HTTP %(status)s)")
ANSWERED = N_("%(host)s answered HTTP %(status)s to %(method)s %(path)s")
NOT_JSON = N_("%(host)s did not answer JSON to %(path)s")
BROKE_OFF = N_("the transfer of %(what)s broke off: %(error)s")
CLOSED = N_("the connection was closed before the end")
NO_DATA = N_("no data came for too long")
NOTHING_HELD = N_("Nothing held for this person.")
# The system's words for the usual network failures (strerror), which the panel translates.
SYSTEM_REASONS = (
    N_("Connection refused"),
    N_("Connection reset by peer"),
    N_("Connection timed out"),
    N_("Name or service not known"),
    N_("Temporary failure in name resolution"),
    N_("No route to host"),
    N_("Network is unreachable"),
)
# Messages a deletion step may record (see N_).
OUTCOMES = (
    *SYSTEM_REASONS,
    OTHER_ADDRESS,
    UNTRUSTED,
    NO_ANSWER,
    UNREACHABLE,
    REFUSED,
    ANSWERED,
    NOT_JSON,
    BROKE_OFF,
    CLOSED,
    NO_DATA,
    NOTHING_HELD,
)


# Client ----------------------------------------------------------------------------------


class HttpFailure(ConnectorError):
    """A request failed; `status` is the HTTP status when the server answered."""

    def __init__(
        self, message: str, status: int | None = None, challenge: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.challenge = challenge  # a 401's WWW-Authenticate: which schemes the server wants


class HttpUnreachable(HttpFailure, ServiceUnreachable):
    """The server did not answer at all (down, refused, timed out, TLS refused)."""


def read_url(options: ConnectorOptions) -> str:
    """The `url` option as given; credentials in it are refused (they belong in *_file)."""
    parts = options.url("url", ("https", "http"))
    if parts.username or parts.password:
        raise options.error(
            "url", ": must not hold a login or password; use the *_file or *_env keys."
        )
    return parts.geturl()


class Client:
    """A requests session bound to one service: base address, auth, timeouts, CA file."""

    def __init__(
        self,
        base: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        ca_file: Path | str | None = None,
        user_agent: str = "chatons-panel",
    ) -> None:
        self.base = base if base.endswith("/") else base + "/"
        self.timeout = timeout
        self._ca_file = ca_file
        self._user_agent = user_agent
        self._session: requests.Session | None = None

    @property
    def session(self) -> requests.Session:
        """Made on first use: connectors are built at start-up in every web worker, and
        requests (with urllib3 and the TLS stack, about 15 MiB) is loaded only by the
        process that talks to a service (an export, a deletion, the doctor)."""
        if self._session is None:
            import requests  # on first use: see the docstring

            session = requests.Session()
            session.trust_env = False  # no proxy or .netrc credentials picked up silently
            session.verify = str(self._ca_file) if self._ca_file else True
            session.headers["User-Agent"] = self._user_agent
            session.max_redirects = 5
            self._session = session
        return self._session

    def url(self, path: str) -> str:
        return urljoin(self.base, path)

    def same_origin(self, url: str) -> bool:
        """Credentials are only ever sent to the configured server."""
        mine, other = urlsplit(self.base), urlsplit(url)
        return (mine.scheme, mine.netloc) == (other.scheme, other.netloc)

    def request(
        self,
        method: str,
        url: str,
        *,
        ok: tuple[int, ...] = (200,),
        stream: bool = False,
        follow: int = 0,
        **kw: Any,
    ) -> requests.Response:
        """The response, if its status is in `ok`; otherwise HttpFailure (body closed).

        `follow` redirects are followed with the same method and body (RFC 6764 discovery
        answers /.well-known/caldav with one), and only on the same server: credentials
        never leave for another address.
        """
        for _hop in range(follow):
            response = self._send(
                method, url, ok=(*ok, 301, 302, 303, 307, 308), stream=stream, **kw
            )
            location = response.headers.get("Location")
            if response.status_code in ok or not location:
                return response
            response.close()
            url = urljoin(url, location)
        return self._send(method, url, ok=ok, stream=stream, **kw)

    def _send(
        self, method: str, url: str, *, ok: tuple[int, ...], stream: bool, **kw: Any
    ) -> requests.Response:
        import requests  # loaded by self.session (see there)

        if not self.same_origin(url):
            raise HttpFailure(_(OTHER_ADDRESS, url=url))
        try:
            response = self.session.request(
                method,
                url,
                stream=stream,
                timeout=(min(self.timeout, 10.0), self.timeout),
                allow_redirects=False,
                **kw,
            )
        except requests.exceptions.SSLError as exc:
            raise HttpUnreachable(_(UNTRUSTED, host=_host(url))) from exc
        except requests.exceptions.Timeout as exc:
            raise HttpUnreachable(
                _(NO_ANSWER, host=_host(url), seconds=f"{self.timeout:g}")
            ) from exc
        except requests.exceptions.RequestException as exc:
            raise HttpUnreachable(_(UNREACHABLE, host=_host(url), error=_short(exc))) from exc
        if response.status_code in ok:
            return response
        status = response.status_code
        response.close()
        if status in (401, 403):
            challenge = response.headers.get("WWW-Authenticate")
            raise HttpFailure(_(REFUSED, host=_host(url), status=status), status, challenge)
        raise HttpFailure(
            _(
                ANSWERED,
                host=_host(url),
                status=status,
                method=method,
                path=urlsplit(url).path,
            ),
            status,
        )

    def json(self, method: str, url: str, **kw: Any) -> Any:
        response = self.request(method, url, **kw)
        try:
            return response.json()
        except ValueError as exc:
            raise HttpFailure(_(NOT_JSON, host=_host(url), path=urlsplit(url).path)) from exc
        finally:
            response.close()

    def close(self) -> None:
        if self._session is not None:
            self._session.close()


def body_chunks(response: requests.Response, what: str) -> Iterator[bytes]:
    """The body as it arrives; a cut or a stalled connection becomes a ConnectorError."""
    import requests  # loaded already: this response came through it

    try:
        yield from response.iter_content(CHUNK)
    except requests.exceptions.RequestException as exc:
        raise ConnectorError(_(BROKE_OFF, what=what, error=_short(exc))) from exc
    finally:
        response.close()


class RawReader:
    """A file-like view of a streamed body for tarfile/iterparse, with errors translated."""

    def __init__(self, response: requests.Response, what: str) -> None:
        self.response = response
        self.what = what
        response.raw.decode_content = True

    def read(self, size: int = -1) -> bytes:
        try:
            data: bytes = self.response.raw.read(CHUNK if size is None or size < 0 else size)
        except Exception as exc:  # urllib3's errors share no base class with requests'
            raise ConnectorError(_(BROKE_OFF, what=self.what, error=_short(exc))) from exc
        return data

    def close(self) -> None:
        self.response.close()


# Connector base -------------------------------------------------------------------------


@dataclass(frozen=True)
class WebService:
    """What every connector over HTTP reads alike: the service and its table's common keys."""

    slug: str
    name: str  # the service's name as people know it (localised when shown)
    url: str
    ca_file: Path | None = None
    timeout: float = DEFAULT_TIMEOUT
    location: str | None = None  # hoster.toml's data_location, localised when shown
    retention: str | None = None

    @classmethod
    def from_options(cls, service: Any, options: ConnectorOptions) -> WebService:
        """`url` (no credentials in it), `ca_file` and `timeout`, with hoster.toml's words."""
        return cls(
            slug=service.slug,
            name=service.name,
            url=read_url(options),
            ca_file=options.file("ca_file"),
            timeout=options.seconds("timeout", default=DEFAULT_TIMEOUT),
            location=service.data_location,
            retention=service.retention,
        )


def bearer(token: Secret) -> dict[str, str]:
    """The Authorization header of a token; revealed here only, for the request itself."""
    return {"Authorization": f"Bearer {token.reveal()}"}


class WebConnector:
    """What the `dav`, `matrix` and `http` connectors share: one service over HTTP(S).

    Subclasses implement `_delete`; any ConnectorError it raises (the server is down,
    refuses the credentials, answers nonsense) becomes a failed step that staff can retry,
    with the reason.
    """

    plannable = False  # sizes are only known while the service answers

    def __init__(self, service: WebService) -> None:
        self.slug = service.slug
        self.name = service.name
        self.client = Client(service.url, timeout=service.timeout, ca_file=service.ca_file)
        self.location = service.location
        self.retention = service.retention

    def data_location(self) -> str:
        return str(self.location or _("the servers of %(service)s", service=self.name))

    def data_retention(self, default: str) -> str:
        return str(self.retention or default)

    def delete(self, person: Person) -> StepResult:
        try:
            return self._delete(person)
        except ConnectorError as exc:
            return StepResult(ok=False, detail=str(exc))

    def _delete(self, person: Person) -> StepResult:
        raise NotImplementedError


def _host(url: str) -> str:
    return urlsplit(url).netloc or url


def _short(exc: BaseException) -> str:
    """The innermost reason (e.g. 'Connection refused'), without URLs or object reprs."""
    inner: BaseException = exc
    while inner.__context__ is not None and inner.__context__ is not inner:
        inner = inner.__context__
    for candidate in (inner, exc):
        strerror = getattr(candidate, "strerror", None)
        if strerror:
            return _(strerror) if strerror in SYSTEM_REASONS else str(strerror)
    names = {type(e).__name__ for e in (inner, exc)}
    if names & {"ProtocolError", "IncompleteRead", "ChunkedEncodingError", "RemoteDisconnected"}:
        return _(CLOSED)
    if names & {"ReadTimeoutError", "ReadTimeout", "TimeoutError"}:
        return _(NO_DATA)
    return type(exc).__name__
