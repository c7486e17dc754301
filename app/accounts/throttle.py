"""Sign-in throttling that cannot be turned against a person.

Only failed sign-ins count, and a success clears the count. A browser that has signed in
successfully before carries a signed *device cookie* for that login (OWASP, "Slow down
online guessing attacks with device cookies"): its failures are counted for that browser
alone, so strangers typing wrong passwords for "zoe" (or "ZOE ") lock out only the
browsers zoe never used, never zoe's own. Counts live in the rate limiter's storage, so
several instances sharing Redis count together.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from limits import RateLimitItem, parse_many

DEVICE_COOKIE = "panel_device"
NAMESPACE = "login-failures"


def normalise_login(login: str | None) -> str:
    """The login as the directory compares it (surrounding spaces and case do not count)."""
    return (login or "").strip().casefold()[:256]


def _login_digest(login: str) -> str:
    # The cookie names its login by digest: readable cookies should not spell out logins.
    return hashlib.sha256(normalise_login(login).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Device:
    """A browser that signed in as `login` before."""

    login: str  # digest of the normalised login
    nonce: str


class DeviceCookies:
    def __init__(self, secret_key: str, max_age_seconds: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt="panel-device-cookie")
        self.max_age_seconds = max_age_seconds

    def issue(self, login: str) -> str:
        return self._serializer.dumps(
            {"login": _login_digest(login), "nonce": secrets.token_hex(16)}
        )

    def read(self, value: str | None) -> Device | None:
        if not value or len(value) > 512:
            return None
        try:
            data = self._serializer.loads(value, max_age=self.max_age_seconds)
        except BadSignature:
            return None
        if not isinstance(data, dict):
            return None
        login, nonce = data.get("login"), data.get("nonce")
        if not isinstance(login, str) or not isinstance(nonce, str):
            return None
        return Device(login=login, nonce=nonce)


class LoginThrottle:
    """Failed sign-ins per login (unknown browsers together) or per known browser."""

    def __init__(self, strategy: Any, limits: str) -> None:
        self._strategy = strategy
        self._limits: list[RateLimitItem] = list(parse_many(limits))

    @staticmethod
    def _key(login: str, device: Device | None) -> str:
        if device is not None and device.login == _login_digest(login):
            return f"device:{device.nonce}"
        return f"login:{normalise_login(login)}"

    def blocked_until(self, login: str, device: Device | None) -> float | None:
        """The epoch time when this login may be tried again from here, or None if now."""
        key = self._key(login, device)
        resets = [
            self._strategy.get_window_stats(item, NAMESPACE, key).reset_time
            for item in self._limits
            if not self._strategy.test(item, NAMESPACE, key)
        ]
        return max(resets) if resets else None

    def record_failure(self, login: str, device: Device | None) -> None:
        key = self._key(login, device)
        for item in self._limits:
            self._strategy.hit(item, NAMESPACE, key)

    def record_success(self, login: str, device: Device | None) -> None:
        key = self._key(login, device)
        for item in self._limits:
            self._strategy.clear(item, NAMESPACE, key)


class KeyedThrottle:
    """Limits on something done under a key (an address, a client): check, then count."""

    def __init__(self, strategy: Any, limits: str, namespace: str) -> None:
        self._strategy = strategy
        self._limits: list[RateLimitItem] = list(parse_many(limits))
        self._namespace = namespace

    def blocked_until(self, key: str) -> float | None:
        """The epoch time when `key` may act again, or None if it may now."""
        resets = [
            self._strategy.get_window_stats(item, self._namespace, key).reset_time
            for item in self._limits
            if not self._strategy.test(item, self._namespace, key)
        ]
        return max(resets) if resets else None

    def hit(self, key: str) -> None:
        for item in self._limits:
            self._strategy.hit(item, self._namespace, key)
