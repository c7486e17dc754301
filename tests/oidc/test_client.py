"""The token checks of app/oidc/client.py, with keys made here (fast, no provider running)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, OctKey, RSAKey

from app.oidc.client import (
    LOGOUT_EVENT,
    OpenIDProvider,
    ProviderSettings,
    TokenRefused,
)

ISSUER = "https://sso.example.org/realms/chatons"
CLIENT = "chatons-panel"
RSA = RSAKey.generate_key(2048, parameters={"kid": "rsa-1"})
EC = ECKey.generate_key("P-256", parameters={"kid": "ec-1"})


@pytest.fixture
def provider() -> OpenIDProvider:
    """A provider whose discovery document and keys are already read (no network)."""
    found = OpenIDProvider(ProviderSettings(issuer=ISSUER, client_id=CLIENT, client_secret=None))
    found._metadata = {"issuer": ISSUER, "jwks_uri": "https://sso.invalid/jwks"}
    found._metadata_at = time.monotonic()
    public = [
        RSAKey.import_key(RSA.as_dict(private=False)),
        ECKey.import_key(EC.as_dict(private=False)),
    ]
    found._keys = KeySet(public)  # type: ignore[arg-type]
    found._keys_at = time.monotonic()
    return found


def sign(claims: dict[str, Any], key: Any = RSA, alg: str = "RS256") -> str:
    return jwt.encode({"alg": alg, "kid": key.kid}, claims, key)


def id_token(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": CLIENT, "sub": "s-1", "iat": now, "exp": now + 300}
    claims.update({"nonce": "n-1", **changes})
    return {k: v for k, v in claims.items() if v is not None}


def logout_token(**changes: Any) -> dict[str, Any]:
    claims = {
        "iss": ISSUER,
        "aud": CLIENT,
        "iat": int(time.time()),
        "jti": "j-1",
        "sub": "s-1",
        "sid": "sid-1",
        "events": {LOGOUT_EVENT: {}},
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def test_rs256_and_es256_id_tokens_from_the_providers_keys_are_accepted(provider):
    assert provider.check_id_token(sign(id_token()), nonce="n-1")["sub"] == "s-1"
    assert provider.check_id_token(sign(id_token(), EC, "ES256"), nonce="n-1")["sub"] == "s-1"


def _unsigned(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none'})}.{part(claims)}."


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (lambda: _unsigned(id_token()), "signature"),
        # HMAC with a key anyone holding the client secret (or the public key) could use.
        (
            lambda: jwt.encode({"alg": "HS256"}, id_token(), OctKey.import_key(b"k" * 32)),
            "signature",
        ),
        (
            lambda: sign(id_token(), RSAKey.generate_key(2048, parameters={"kid": "rsa-1"})),
            "signature",
        ),
        (lambda: sign(id_token(aud="another-service")), "claim aud"),
        (lambda: sign(id_token(iss="https://elsewhere.example.org")), "claim iss"),
        (lambda: sign(id_token(exp=int(time.time()) - 3600)), "expired"),
        (lambda: sign(id_token(nonce="someone-elses")), "claim nonce"),
        (lambda: sign(id_token(nonce=None)), "claim nonce"),
        (lambda: sign(id_token(aud=[CLIENT, "other"], azp="other")), "claim azp"),
        (lambda: sign(id_token(sub=None)), "claim sub"),
    ],
)
def test_an_id_token_that_fails_a_check_is_refused(provider, token, reason):
    with pytest.raises(TokenRefused) as refused:
        provider.check_id_token(token(), nonce="n-1")
    assert refused.value.reason.startswith(reason)


def test_a_key_rotated_just_after_the_keys_were_read_is_fetched_but_not_twice(
    provider, monkeypatch
):
    # The key set was read a moment ago (the fixture); the provider then signs with a new key.
    rotated = RSAKey.generate_key(2048, parameters={"kid": "rsa-2"})
    fetched: list[str] = []

    def get_json(url: str, what: str) -> dict[str, Any]:
        fetched.append(url)
        return KeySet([RSAKey.import_key(rotated.as_dict(private=False))]).as_dict()

    monkeypatch.setattr(provider, "_get_json", get_json)
    provider.check_id_token(sign(id_token(), rotated), nonce="n-1")
    assert fetched == ["https://sso.invalid/jwks"]
    # Another unknown key right after: refused without asking the provider again.
    stranger = RSAKey.generate_key(2048, parameters={"kid": "rsa-3"})
    with pytest.raises(TokenRefused) as refused:
        provider.check_id_token(sign(id_token(), stranger), nonce="n-1")
    assert refused.value.reason == "unknown signing key"
    assert len(fetched) == 1


def test_a_small_clock_difference_is_tolerated_and_a_large_one_is_not(provider):
    now = int(time.time())
    provider.check_id_token(sign(id_token(exp=now - 30)), nonce="n-1")
    with pytest.raises(TokenRefused):
        provider.check_id_token(sign(id_token(exp=now - 120)), nonce="n-1")


def test_a_valid_logout_token_names_the_session_and_the_person(provider):
    logout = provider.check_logout_token(sign(logout_token()))
    assert (logout.sid, logout.sub, logout.jti) == ("sid-1", "s-1", "j-1")


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"events": None}, "no back-channel logout event"),
        ({"events": {"http://example.org/other": {}}}, "no back-channel logout event"),
        ({"nonce": "n-1"}, "nonce in a logout token"),
        ({"sub": None, "sid": None}, "logout token names neither"),
        ({"aud": "another-service"}, "claim aud"),
        ({"iss": "https://elsewhere.example.org"}, "claim iss"),
        ({"jti": None}, "claim jti"),
        ({"iat": None}, "claim iat"),
        ({"iat": int(time.time()) - 3600}, "logout token too old"),
    ],
)
def test_a_logout_token_that_fails_a_check_is_refused(provider, changes, reason):
    with pytest.raises(TokenRefused) as refused:
        provider.check_logout_token(sign(logout_token(**changes)))
    assert refused.value.reason.startswith(reason)
