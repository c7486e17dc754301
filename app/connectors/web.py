"""HTTP plumbing shared by the `http`, `dav` and `matrix` connectors: options, secrets, client.

Every request has a connect and a read timeout; bodies are streamed; every failure of the
network or the server becomes one ConnectorError whose message names the service and what
to check, and never holds a secret (requests puts neither headers nor passwords in its
messages, and URLs here never carry credentials).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from flask_babel import gettext as _

from app.connectors.base import ConnectorError

CHUNK = 256 * 1024
DEFAULT_TIMEOUT = 30.0


# Options ---------------------------------------------------------------------------------


class Options:
    """Reads a connector's table of hoster.toml; every mistake names the key.

    The messages are ValueError, which the registry prefixes with
    `services.<slug>.connector:` so a hoster sees exactly which line to fix.
    """

    def __init__(self, options: Mapping[str, Any], known: tuple[str, ...]) -> None:
        self.values = dict(options)
        unknown = sorted(set(self.values) - set(known))
        for key in unknown:
            if f"{key}_file" in known:
                raise ValueError(
                    f"{key} must not be written in hoster.toml: use {key}_file or {key}_env"
                )
        if unknown:
            raise ValueError(f"unknown key {unknown[0]!r} (known keys: {', '.join(sorted(known))})")

    def text(self, key: str, default: str | None = None, *, example: str = "") -> str:
        value = self.values.get(key, default)
        if value is None:
            hint = f", e.g. {key} = {example!r}" if example else ""
            raise ValueError(f"{key} is missing{hint}")
        if not isinstance(value, str) or not value:
            raise ValueError(f"{key} must be a non-empty string")
        return value

    def optional_text(self, key: str) -> str | None:
        if self.values.get(key) is None:
            return None
        return self.text(key)

    def url(self, key: str = "url", *, example: str = "https://service.example.org/") -> str:
        value = self.text(key, example=example)
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{key} must be an http:// or https:// address, e.g. {example!r}")
        if parts.username or parts.password:
            raise ValueError(f"{key} must not hold a login or password: use the *_file keys")
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.values.get(key, default)
        if not isinstance(value, bool):
            raise ValueError(f"{key} must be true or false")
        return value

    def seconds(self, key: str, default: float) -> float:
        value = self.values.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ValueError(f"{key} must be a positive number of seconds")
        return float(value)

    def secret(self, name: str, *, required: bool = True) -> Secret | None:
        """`<name>_file` or `<name>_env`: where the secret is, never the secret itself."""
        file_key, env_key = f"{name}_file", f"{name}_env"
        if name in self.values:
            raise ValueError(
                f"{name} must not be written in hoster.toml: use {file_key} or {env_key}"
            )
        path, env = self.values.get(file_key), self.values.get(env_key)
        if path is not None and env is not None:
            raise ValueError(f"give {file_key} or {env_key}, not both")
        if path is None and env is None:
            if required:
                raise ValueError(f"{file_key} (or {env_key}) is missing")
            return None
        key = file_key if path is not None else env_key
        value = path if path is not None else env
        if not isinstance(value, str) or not value:
            raise ValueError(f"{key} must be a non-empty string")
        return Secret(key, value)


@dataclass(frozen=True)
class Secret:
    """Where a password or token is kept; read at each use, so a rotated secret is taken."""

    key: str  # "token_file" or "token_env": named in errors instead of the value
    where: str  # the file's path or the variable's name

    def read(self) -> str:
        if self.key.endswith("_env"):
            value = os.environ.get(self.where, "")
            if not value:
                raise ConnectorError(
                    _("the variable %(name)s (%(key)s) is not set", name=self.where, key=self.key)
                )
            return value
        try:
            value = Path(self.where).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConnectorError(
                _(
                    "the secret file %(path)s (%(key)s) cannot be read: %(error)s",
                    path=self.where,
                    key=self.key,
                    error=exc.strerror,
                )
            ) from exc
        if not value:
            raise ConnectorError(_("the secret file %(path)s is empty", path=self.where))
        return value


# Client ----------------------------------------------------------------------------------


class HttpFailure(ConnectorError):
    """A request failed; `status` is the HTTP status when the server answered."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Client:
    """A requests session bound to one service: base address, auth, timeouts, CA file."""

    def __init__(
        self,
        base: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        ca_file: str | None = None,
        user_agent: str = "chatons-panel",
    ) -> None:
        self.base = base if base.endswith("/") else base + "/"
        self.timeout = timeout
        self.session = requests.Session()
        self.session.trust_env = False  # no proxy or .netrc credentials picked up silently
        self.session.verify = ca_file or True
        self.session.headers["User-Agent"] = user_agent
        self.session.max_redirects = 5

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
        **kw: Any,
    ) -> requests.Response:
        """The response, if its status is in `ok`; otherwise HttpFailure (body closed)."""
        if not self.same_origin(url):
            raise HttpFailure(_("the server pointed to another address (%(url)s)", url=url))
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
            raise HttpFailure(
                _("the TLS certificate of %(host)s is not trusted (see ca_file)", host=_host(url))
            ) from exc
        except requests.exceptions.Timeout as exc:
            raise HttpFailure(
                _(
                    "%(host)s did not answer within %(seconds)s s",
                    host=_host(url),
                    seconds=f"{self.timeout:g}",
                )
            ) from exc
        except requests.exceptions.RequestException as exc:
            raise HttpFailure(
                _("%(host)s cannot be reached: %(error)s", host=_host(url), error=_short(exc))
            ) from exc
        if response.status_code in ok:
            return response
        status = response.status_code
        response.close()
        if status in (401, 403):
            raise HttpFailure(
                _(
                    "%(host)s refused the panel's credentials (HTTP %(status)s)",
                    host=_host(url),
                    status=status,
                ),
                status,
            )
        raise HttpFailure(
            _(
                "%(host)s answered HTTP %(status)s to %(method)s %(path)s",
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
            raise HttpFailure(
                _(
                    "%(host)s did not answer JSON to %(path)s",
                    host=_host(url),
                    path=urlsplit(url).path,
                )
            ) from exc
        finally:
            response.close()

    def close(self) -> None:
        self.session.close()


def body_chunks(response: requests.Response, what: str) -> Iterator[bytes]:
    """The body as it arrives; a cut or a stalled connection becomes a ConnectorError."""
    try:
        yield from response.iter_content(CHUNK)
    except requests.exceptions.RequestException as exc:
        raise ConnectorError(
            _("the transfer of %(what)s broke off: %(error)s", what=what, error=_short(exc))
        ) from exc
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
            raise ConnectorError(
                _(
                    "the transfer of %(what)s broke off: %(error)s",
                    what=self.what,
                    error=_short(exc),
                )
            ) from exc
        return data

    def close(self) -> None:
        self.response.close()


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
            return str(strerror)
    return type(exc).__name__
