"""The hoster's OpenID provider as the panel speaks to it, with Authlib (app/oidc/libraries.py).

Discovery, the provider's signing keys (fetched again when a token names a key not seen yet,
so a key rotation needs no restart), the authorization code flow with PKCE S256, and the
checks of ID tokens and back-channel logout tokens. Every network call has a timeout; what
crosses the boundary is plain data and two errors: `ProviderUnavailable` (try again later)
and `TokenRefused` (this answer is not to be trusted; its reason goes to the audit log).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app.connectors.secrets import Secret

# Authlib and joserfc (with cryptography, about 20 MiB) are loaded on first use: a web
# worker of a panel without OpenID sign-in never needs them.
if TYPE_CHECKING:
    from authlib.integrations.requests_client import OAuth2Session
    from joserfc import jwt
    from joserfc.errors import ClaimError as JoseClaimError
    from joserfc.jwk import KeySet

# Asymmetric signatures only: "none" and the HS* family (a "signature" anyone holding the
# client secret can make) are never accepted, whatever the provider advertises.
ALGORITHMS = ("RS256", "ES256")
LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
# The discovery document changes rarely; read it again now and then.
METADATA_SECONDS = 3600
# A token naming an unknown key fetches the key set again, at most this often: a stream of
# forged tokens must not turn the panel into a flood of requests to the provider. Counted
# from the last fetch an unknown key caused, not from the first reading: a provider that
# rotates its key a moment after a sign-in read the old set is followed at once.
KEYS_REFETCH_SECONDS = 2.0
# How long after its issue a logout token is still accepted (its jti is kept that long).
LOGOUT_TOKEN_SECONDS = 300


def _libraries() -> Any:
    """Authlib, joserfc and requests (app/oidc/libraries.py), imported on first use."""
    # The OpenID libraries stay out of web workers' memory until OpenID is used (~25 MiB).
    from app.oidc import libraries

    return libraries


class ProviderUnavailable(Exception):
    """The provider did not answer (discovery, keys, token or userinfo endpoint)."""


class TokenRefused(Exception):
    """An answer of the provider (or of someone pretending to be it) failed a check."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ProviderSettings:
    issuer: str
    client_id: str
    client_secret: Secret | None
    scopes: str = "openid profile email"
    timeout: float = 5.0
    leeway: int = 60


@dataclass(frozen=True)
class AuthorizationRequest:
    """Where to send the browser, and what to keep in the session until it comes back."""

    url: str
    state: str
    nonce: str
    code_verifier: str


@dataclass(frozen=True)
class ProviderSignIn:
    """A checked sign-in: claims of the ID token, completed from userinfo if needed."""

    sub: str
    sid: str | None
    auth_time: int | None
    id_token: str
    claims: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LogoutRequest:
    """A checked back-channel logout token: end that session (sid) or all of that person."""

    sub: str | None
    sid: str | None
    jti: str
    issued_at: int


def _claim_reason(error: JoseClaimError) -> str:
    lib = _libraries()

    if isinstance(error, lib.ExpiredTokenError):
        return "expired"
    return f"claim {error.claim}"


class OpenIDProvider:
    """One configured provider; shared by the requests of a process (thread-safe caches)."""

    def __init__(self, settings: ProviderSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._metadata: dict[str, Any] | None = None
        self._metadata_at = 0.0
        self._keys: KeySet | None = None
        self._keys_at = 0.0
        self._refetched_at: float | None = None  # the last fetch an unknown key caused

    # Discovery and keys --------------------------------------------------------------

    def _get_json(self, url: str, what: str) -> dict[str, Any]:
        lib = _libraries()

        try:
            response = lib.requests.get(
                url, timeout=self.settings.timeout, headers={"Accept": "application/json"}
            )
            response.raise_for_status()
            data = response.json()
        except (lib.requests.RequestException, ValueError) as exc:
            raise ProviderUnavailable(f"{what} ({url}): {type(exc).__name__}") from exc
        if not isinstance(data, dict):
            raise ProviderUnavailable(f"{what} ({url}): not a JSON object")
        return data

    def cached_metadata(self) -> dict[str, Any]:
        """The discovery document if already read (no network): for response headers."""
        with self._lock:
            return dict(self._metadata or {})

    def metadata(self) -> dict[str, Any]:
        with self._lock:
            if self._metadata and time.monotonic() - self._metadata_at < METADATA_SECONDS:
                return self._metadata
        issuer = self.settings.issuer.rstrip("/")
        found = self._get_json(f"{issuer}/.well-known/openid-configuration", "discovery")
        # OpenID Connect Discovery 1.0, section 4.3: the document must name this very issuer,
        # or tokens from one tenant could be taken for another's.
        if found.get("issuer") != self.settings.issuer:
            raise ProviderUnavailable(
                f"discovery names the issuer {found.get('issuer')!r}, "
                f"not {self.settings.issuer!r}: check PANEL_OIDC_ISSUER"
            )
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(found.get(key), str):
                raise ProviderUnavailable(f"discovery has no {key}")
        with self._lock:
            self._metadata, self._metadata_at = found, time.monotonic()
        return found

    def key_set(self, *, refresh: bool = False) -> KeySet:
        lib = _libraries()

        with self._lock:
            keys, refetched_at = self._keys, self._refetched_at
            if keys is not None and not refresh:
                return keys
            now = time.monotonic()
            if keys is not None:
                if refetched_at is not None and now - refetched_at < KEYS_REFETCH_SECONDS:
                    return keys
                self._refetched_at = now  # taken now: concurrent forged tokens fetch once
        raw = self._get_json(self.metadata()["jwks_uri"], "signing keys")
        try:
            keys = lib.KeySet.import_key_set(raw)
        except (lib.JoseError, ValueError, TypeError, KeyError) as exc:
            raise ProviderUnavailable(f"signing keys: unreadable ({type(exc).__name__})") from exc
        with self._lock:
            self._keys, self._keys_at = keys, time.monotonic()
        return keys

    def _decode(self, raw: str) -> jwt.Token:
        """Signature check against the provider's keys, fetched again for a new key id."""
        lib = _libraries()

        try:
            try:
                return lib.jwt.decode(raw, self.key_set(), algorithms=list(ALGORITHMS))
            except lib.InvalidKeyIdError:
                return lib.jwt.decode(raw, self.key_set(refresh=True), algorithms=list(ALGORITHMS))
        except lib.InvalidKeyIdError as exc:
            raise TokenRefused("unknown signing key") from exc
        except lib.JoseError as exc:
            raise TokenRefused(f"signature ({exc.error})") from exc
        except (ValueError, TypeError) as exc:
            raise TokenRefused("malformed token") from exc

    # The code flow ---------------------------------------------------------------------

    def _client(self, redirect_uri: str) -> OAuth2Session:
        lib = _libraries()

        secret = self.settings.client_secret
        return lib.OAuth2Session(
            client_id=self.settings.client_id,
            client_secret=secret.reveal() if secret else None,
            # A confidential client sends its secret in the Authorization header; a public
            # one (no secret) proves itself with PKCE alone.
            token_endpoint_auth_method="client_secret_basic" if secret else "none",
            scope=self.settings.scopes,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            default_timeout=self.settings.timeout,
        )

    def authorization_request(
        self, redirect_uri: str, *, max_age: int | None = None, ui_locales: str | None = None
    ) -> AuthorizationRequest:
        lib = _libraries()

        endpoint = self.metadata()["authorization_endpoint"]
        nonce, verifier = lib.generate_token(32), lib.generate_token(64)
        extra: dict[str, Any] = {"nonce": nonce}
        if max_age is not None:
            # Re-authentication: max_age=0 asks for the password again; prompt=login says
            # the same to providers that read only one of the two.
            extra["max_age"] = str(max_age)
            extra["prompt"] = "login"
        if ui_locales:
            extra["ui_locales"] = ui_locales
        with self._client(redirect_uri) as client:
            url, state = client.create_authorization_url(endpoint, code_verifier=verifier, **extra)
        return AuthorizationRequest(url=url, state=state, nonce=nonce, code_verifier=verifier)

    def finish_sign_in(
        self,
        *,
        code: str,
        redirect_uri: str,
        code_verifier: str,
        nonce: str,
        wanted_claim: str,
        max_age: int | None = None,
    ) -> ProviderSignIn:
        """Trade the code for tokens, check the ID token, read userinfo if it lacks a claim."""
        lib = _libraries()

        metadata = self.metadata()
        with self._client(redirect_uri) as client:
            try:
                token = client.fetch_token(
                    metadata["token_endpoint"],
                    code=code,
                    code_verifier=code_verifier,
                    grant_type="authorization_code",
                )
            except lib.OAuthError as exc:
                # invalid_grant: a code used twice, expired, or issued to someone else.
                raise TokenRefused(f"code refused ({exc.error})") from exc
            except lib.requests.RequestException as exc:
                raise ProviderUnavailable(f"token endpoint: {type(exc).__name__}") from exc
            except ValueError as exc:
                raise ProviderUnavailable("token endpoint: not a JSON answer") from exc
            raw = token.get("id_token")
            if not isinstance(raw, str):
                raise TokenRefused("no ID token")
            claims = self.check_id_token(
                raw, nonce=nonce, access_token=token.get("access_token"), max_age=max_age
            )
            merged = dict(claims)
            if wanted_claim not in merged and metadata.get("userinfo_endpoint"):
                merged.update(self._userinfo(client, metadata["userinfo_endpoint"], claims["sub"]))
        auth_time = claims.get("auth_time")
        sid = claims.get("sid")
        return ProviderSignIn(
            sub=str(claims["sub"]),
            sid=str(sid) if isinstance(sid, str) and sid else None,
            auth_time=int(auth_time) if isinstance(auth_time, int | float) else None,
            id_token=raw,
            claims=merged,
        )

    def _userinfo(self, client: OAuth2Session, endpoint: str, sub: str) -> dict[str, Any]:
        lib = _libraries()

        try:
            response = client.get(endpoint, headers={"Accept": "application/json"})
            response.raise_for_status()
            data = response.json()
        except (lib.requests.RequestException, ValueError, lib.OAuthError) as exc:
            raise ProviderUnavailable(f"userinfo: {type(exc).__name__}") from exc
        if not isinstance(data, dict):
            raise TokenRefused("userinfo is not a JSON object")
        # OpenID Connect Core 5.3.2: userinfo about someone else must not be used.
        if data.get("sub") != sub:
            raise TokenRefused("userinfo subject differs from the ID token's")
        return data

    def check_id_token(
        self,
        raw: str,
        *,
        nonce: str,
        access_token: str | None = None,
        max_age: int | None = None,
        now: int | None = None,
    ) -> dict[str, Any]:
        lib = _libraries()

        token = self._decode(raw)
        params: dict[str, Any] = {"nonce": nonce, "client_id": self.settings.client_id}
        if access_token:
            params["access_token"] = access_token
        if max_age is not None:
            params["max_age"] = max_age or 1  # Authlib asks for auth_time when max_age is set
        claims = lib.CodeIDToken(
            token.claims,
            token.header,
            {
                "iss": {"essential": True, "value": self.settings.issuer},
                "aud": {"essential": True, "value": self.settings.client_id},
            },
            params,
        )
        try:
            claims.validate(now=now, leeway=self.settings.leeway)
        except lib.ClaimError as exc:
            raise TokenRefused(_claim_reason(exc)) from exc
        return dict(claims)

    # Back-channel logout -------------------------------------------------------------------

    def check_logout_token(self, raw: str, *, now: int | None = None) -> LogoutRequest:
        """OpenID Connect Back-Channel Logout 1.0, section 2.6 (the jti is the caller's)."""
        lib = _libraries()

        token = self._decode(raw)
        claims = token.claims
        registry = lib.JWTClaimsRegistry(
            now=now,
            leeway=self.settings.leeway,
            iss={"essential": True, "value": self.settings.issuer},
            aud={"essential": True, "value": self.settings.client_id},
            iat={"essential": True},
            jti={"essential": True},
        )
        try:
            registry.validate(claims)
        except lib.ClaimError as exc:
            raise TokenRefused(_claim_reason(exc)) from exc
        current = int(time.time()) if now is None else now
        if current - int(claims["iat"]) > LOGOUT_TOKEN_SECONDS + self.settings.leeway:
            raise TokenRefused("logout token too old")
        events = claims.get("events")
        if not isinstance(events, dict) or not isinstance(events.get(LOGOUT_EVENT), dict):
            raise TokenRefused("no back-channel logout event")
        if "nonce" in claims:
            # An ID token (which carries a nonce) must never pass for a logout token.
            raise TokenRefused("nonce in a logout token")
        sub, sid = claims.get("sub"), claims.get("sid")
        if not (isinstance(sub, str) and sub) and not (isinstance(sid, str) and sid):
            raise TokenRefused("logout token names neither sub nor sid")
        return LogoutRequest(
            sub=sub if isinstance(sub, str) and sub else None,
            sid=sid if isinstance(sid, str) and sid else None,
            jti=str(claims["jti"]),
            issued_at=int(claims["iat"]),
        )

    # RP-initiated logout -----------------------------------------------------------------

    def end_session_url(self, *, id_token_hint: str, post_logout_redirect_uri: str) -> str | None:
        """Where to send the browser so the provider ends its own session too, if it says."""
        lib = _libraries()

        endpoint = self.metadata().get("end_session_endpoint")
        if not isinstance(endpoint, str):
            return None
        return str(
            lib.add_params_to_uri(
                endpoint,
                [
                    ("id_token_hint", id_token_hint),
                    ("post_logout_redirect_uri", post_logout_redirect_uri),
                    ("client_id", self.settings.client_id),
                ],
            )
        )
