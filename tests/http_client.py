"""A tiny cookie-keeping HTTP client for tests against real servers (stdlib only)."""

from __future__ import annotations

import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass


@dataclass
class Reply:
    status: int
    text: str
    location: str | None


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


class Browser:
    def __init__(self) -> None:
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), NoRedirect()
        )

    def share_cookies_with(self, other: Browser) -> None:
        for cookie in self.cookies:
            other.cookies.set_cookie(cookie)

    def request(self, url: str, data: dict[str, str] | None = None, timeout: float = 30) -> Reply:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with self.opener.open(url, data=body, timeout=timeout) as response:
                return Reply(
                    response.status, response.read().decode(), response.headers.get("Location")
                )
        except urllib.error.HTTPError as error:
            text = error.read().decode(errors="replace")
            return Reply(error.code, text, error.headers.get("Location"))

    def token(self, url: str) -> str:
        page = self.request(url).text
        match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
        assert match, f"no CSRF token at {url}"
        return match.group(1)

    def login(self, base: str, login: str, password: str = "demo") -> Reply:
        token = self.token(f"{base}/login")
        return self.request(
            f"{base}/login", {"login": login, "password": password, "csrf_token": token}
        )
