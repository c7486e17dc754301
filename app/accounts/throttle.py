"""Sign-in throttling that cannot be turned against a person.

Only failed sign-ins count, and a success clears the count. A browser that has signed in
successfully before carries a signed *device cookie* (OWASP, "Slow down online guessing
attacks with device cookies") naming the logins it signed in as — several, since a family
or a team may share a browser: its failures for one of those logins are counted for that
browser alone, so strangers typing wrong passwords for "zoe" (or "ZOE ") lock out only the
browsers zoe never used, never zoe's own. Counts live in the rate limiter's storage, so
several instances sharing Redis count together.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from limits import RateLimitItem, parse_many

DEVICE_COOKIE = "panel_device"
NAMESPACE = "login-failures"
# Logins one browser remembers (the most recent sign-ins): enough for a household, small
# enough that the cookie stays far below the 4 KB browsers accept.
DEVICE_LOGINS = 5
MAX_COOKIE_CHARS = 2048


def normalise_login(login: str | None) -> str:
    """The login as the directory compares it (surrounding spaces and case do not count)."""
    return (login or "").strip().casefold()[:256]


@dataclass(frozen=True)
class DeviceLogin:
    """One login this browser signed in as: its keyed digest, a random nonce, and when."""

    login: str
    nonce: str
    since: int  # epoch seconds of that successful sign-in


@dataclass(frozen=True)
class Device:
    """A browser that signed in before, with the logins it used, most recent first."""

    logins: tuple[DeviceLogin, ...]


class DeviceCookies:
    def __init__(
        self, secret_key: str, max_age_seconds: int, max_logins: int = DEVICE_LOGINS
    ) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt="panel-device-cookie")
        # The cookie is signed, not encrypted: logins appear only as keyed digests, which
        # nobody without the secret key can match against a list of names.
        self._digest_key = hmac.new(
            secret_key.encode(), b"panel-device-login", hashlib.sha256
        ).digest()
        self.max_age_seconds = max_age_seconds
        self.max_logins = max_logins

    def digest(self, login: str) -> str:
        mac = hmac.new(self._digest_key, normalise_login(login).encode(), hashlib.sha256)
        return mac.hexdigest()[:24]

    def nonce_for(self, device: Device | None, login: str) -> str | None:
        """This browser's own nonce for that login, if it signed in as it before."""
        if device is None:
            return None
        digest = self.digest(login)
        for known in device.logins:
            if hmac.compare_digest(known.login, digest):
                return known.nonce
        return None

    def issue(self, login: str, previous: Device | None, now: float | None = None) -> str:
        """The cookie after a successful sign-in as `login`: that login first (with a fresh
        nonce), then the others this browser used, the oldest dropped beyond max_logins."""
        moment = int(now if now is not None else time.time())
        digest = self.digest(login)
        fresh = DeviceLogin(login=digest, nonce=secrets.token_hex(12), since=moment)
        others = [
            known
            for known in (previous.logins if previous else ())
            if known.login != digest and moment - known.since < self.max_age_seconds
        ]
        kept = [fresh, *others][: self.max_logins]
        return self._serializer.dumps([[k.login, k.nonce, k.since] for k in kept])

    def read(self, value: str | None, now: float | None = None) -> Device | None:
        """The logins of a valid cookie (expired ones left out), or None."""
        if not value or len(value) > MAX_COOKIE_CHARS:
            return None
        try:
            data = self._serializer.loads(value, max_age=self.max_age_seconds)
        except BadSignature:
            return None
        # A cookie of the single-login format (a dict) is not read: that browser counts as
        # unknown until its next successful sign-in, which writes the new format.
        if not isinstance(data, list):
            return None
        moment = now if now is not None else time.time()
        logins = []
        for entry in data[: self.max_logins]:
            if not (isinstance(entry, list) and len(entry) == 3):
                return None
            login, nonce, since = entry
            if not (isinstance(login, str) and isinstance(nonce, str) and isinstance(since, int)):
                return None
            if moment - since < self.max_age_seconds:
                logins.append(DeviceLogin(login=login, nonce=nonce, since=since))
        return Device(logins=tuple(logins)) if logins else None


class LoginThrottle:
    """Failed sign-ins per login (unknown browsers together) or per known browser."""

    def __init__(self, strategy: Any, limits: str) -> None:
        self._strategy = strategy
        self._limits: list[RateLimitItem] = list(parse_many(limits))

    @staticmethod
    def _key(login: str, device_nonce: str | None) -> str:
        if device_nonce is not None:
            return f"device:{device_nonce}"
        return f"login:{normalise_login(login)}"

    def blocked_until(self, login: str, device_nonce: str | None) -> float | None:
        """The epoch time when this login may be tried again from here, or None if now.

        `device_nonce` is this browser's nonce for this login (DeviceCookies.nonce_for), or
        None for a browser that never signed in as it.
        """
        key = self._key(login, device_nonce)
        resets = [
            self._strategy.get_window_stats(item, NAMESPACE, key).reset_time
            for item in self._limits
            if not self._strategy.test(item, NAMESPACE, key)
        ]
        return max(resets) if resets else None

    def record_failure(self, login: str, device_nonce: str | None) -> None:
        key = self._key(login, device_nonce)
        for item in self._limits:
            self._strategy.hit(item, NAMESPACE, key)

    def record_success(self, login: str, device_nonce: str | None) -> None:
        key = self._key(login, device_nonce)
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
