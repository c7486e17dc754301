"""The CHATONS federation as the panel sees it: other members' files, read by the CLI only.

`fetch_text` reads one file (http, https, or a local path for tests and air-gapped hosts)
with a timeout and a size limit. `refresh_federation` reads the federation file
(`FEDERATION_URL`), each member's organisation file and its service files, and keeps what
"where to go next" needs in `instance/federation.json`. Pages read only that cache: no page
request ever contacts another member, and nothing about a person is ever sent.
"""

from __future__ import annotations

import json
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import datetime
from http.client import HTTPMessage
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

from flask import Flask

from app.disclosure.checker import SUB_NAME, Fetch, FetchError, parse_properties

MAX_BYTES = 1024 * 1024  # a properties file of a CHATON is a few kilobytes
TIMEOUT = 10.0
MAX_MEMBERS = 500
MAX_SERVICES = 100
CACHE_NAME = "federation.json"


class _WebOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects to http and https only (urllib would follow one to ftp:)."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        if urlsplit(newurl).scheme not in ("http", "https"):
            raise FetchError(f"{req.full_url}: redirected to {newurl}, which is not a web address")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_WebOnlyRedirects)


def is_local(url: str) -> bool:
    return urlsplit(url).scheme in ("", "file")


def fetch_text(url: str, *, timeout: float = TIMEOUT, max_bytes: int = MAX_BYTES) -> str:
    """The file at `url` as text; FetchError says why not (unreachable, too big, not text)."""
    scheme = urlsplit(url).scheme
    try:
        if scheme in ("http", "https"):
            # Only http and https reach the opener (checked just above).
            request = urllib.request.Request(  # noqa: S310
                url, headers={"User-Agent": "chatons-panel", "Accept": "text/plain"}
            )
            with _OPENER.open(request, timeout=timeout) as response:
                data = response.read(max_bytes + 1)
        elif scheme in ("", "file"):
            path = Path(urlsplit(url).path if scheme == "file" else url)
            with path.open("rb") as handle:
                data = handle.read(max_bytes + 1)
        else:
            raise FetchError(f"{url}: only http, https and local files are read")
    except urllib.error.HTTPError as exc:
        raise FetchError(f"{url}: HTTP {exc.code}") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise FetchError(f"{url}: {reason}") from exc
    if len(data) > max_bytes:
        raise FetchError(f"{url}: larger than {max_bytes // 1024} KiB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        # .properties files were ISO 8859-1 before Java 9; some members still write that.
        return data.decode("latin-1")


def fetcher_from(source: str, fetch: Fetch = fetch_text) -> Fetch:
    """The fetch function for a crawl that starts at `source`: a file read from the web may
    only link to the web, never to a file of this machine (the hoster chose `source`; the
    members chose their links)."""
    if is_local(source):
        return fetch

    def web_only(url: str) -> str:
        if is_local(url):
            raise FetchError(f"{url}: a file on the web cannot link to a local file")
        return fetch(url)

    return web_only


@dataclass
class MemberService:
    name: str
    software: str
    website: str | None
    registration: str | None  # None, Free, Member, Client (a ; list)
    load: str | None  # OPEN or FULL
    status: str | None


@dataclass
class Member:
    name: str
    url: str  # its organisation file
    website: str | None
    status: str | None
    services: list[MemberService] = field(default_factory=list)


@dataclass
class FederationCache:
    fetched_at: str  # ISO date-time, UTC
    source: str
    members: list[Member] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)  # one line per file not read


def refresh_federation(source: str, now: datetime, fetch: Fetch = fetch_text) -> FederationCache:
    """Read the federation file and every member's files; unreachable ones are noted."""
    cache = FederationCache(fetched_at=now.isoformat(timespec="seconds"), source=source)
    federation = parse_properties(fetch(source))
    fetch = fetcher_from(source, fetch)
    member_links = [v.strip() for k, v in federation.items() if SUB_NAME.match(k) and v.strip()]
    for link in member_links[:MAX_MEMBERS]:
        try:
            org = parse_properties(fetch(link))
        except FetchError as exc:
            cache.unreachable.append(str(exc))
            continue
        member = Member(
            name=org.get("organization.name", "").strip() or link,
            url=link,
            website=org.get("organization.website") or None,
            status=(org.get("organization.status.level") or "").strip().upper() or None,
        )
        service_links = [
            v.strip()
            for k, v in org.items()
            if SUB_NAME.match(k) and k != "subs.metrics" and v.strip()
        ]
        for service_link in service_links[:MAX_SERVICES]:
            try:
                service = parse_properties(fetch(service_link))
            except FetchError as exc:
                cache.unreachable.append(str(exc))
                continue
            if service.get("file.class", "").strip().lower() not in ("", "service"):
                continue
            member.services.append(
                MemberService(
                    name=service.get("service.name", "").strip() or service_link,
                    software=service.get("software.name", "").strip(),
                    website=service.get("service.website") or None,
                    registration=service.get("service.registration") or None,
                    load=(service.get("service.registration.load") or "").strip().upper() or None,
                    status=(service.get("service.status.level") or "").strip().upper() or None,
                )
            )
        cache.members.append(member)
    return cache


def cache_path(app: Flask) -> Path:
    configured = app.config.get("FEDERATION_CACHE_FILE")
    return Path(configured) if configured else Path(app.instance_path) / CACHE_NAME


def save_cache(app: Flask, cache: FederationCache) -> None:
    """Written whole then renamed: a page never reads half a file."""
    path = cache_path(app)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".federation-")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump(asdict(cache), out, ensure_ascii=False)
    os.replace(temporary, path)


def load_cache(app: Flask) -> FederationCache | None:
    try:
        data = json.loads(cache_path(app).read_text(encoding="utf-8"))
        members = [
            Member(
                **{**m, "services": [MemberService(**s) for s in m.get("services", [])]},
            )
            for m in data.get("members", [])
        ]
        return FederationCache(
            fetched_at=data["fetched_at"],
            source=data["source"],
            members=members,
            unreachable=list(data.get("unreachable", [])),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


@dataclass(frozen=True)
class Alternative:
    """Another member that runs the same software with registration open."""

    member: str
    member_website: str | None
    service: str
    website: str | None
    registration: str | None


def alternatives(
    cache: FederationCache | None, software: str, *, own_website: str | None = None
) -> list[Alternative]:
    """Members running `software` (same `software.name`, any case) with registration OPEN,
    still active, leaving out this hoster itself."""
    if cache is None or not software.strip():
        return []
    wanted = software.strip().casefold()
    own = (own_website or "").rstrip("/").casefold()
    found = []
    for member in cache.members:
        if member.status == "AWAY":
            continue
        if own and (member.website or "").rstrip("/").casefold() == own:
            continue
        for service in member.services:
            if service.software.casefold() != wanted or service.load != "OPEN":
                continue
            if service.status == "OVER":
                continue
            found.append(
                Alternative(
                    member=member.name,
                    member_website=member.website,
                    service=service.name,
                    website=service.website,
                    registration=service.registration,
                )
            )
    return sorted(found, key=lambda a: (a.member.casefold(), a.service.casefold()))
