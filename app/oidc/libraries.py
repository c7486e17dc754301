"""Authlib, joserfc and requests as the OpenID client uses them, imported together.

app/oidc/client.py loads this module on first use only (with cryptography, about 25 MiB):
a web worker of a panel without OpenID sign-in never needs it.
"""

import requests
from authlib.common.security import generate_token
from authlib.common.urls import add_params_to_uri
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import ClaimError, ExpiredTokenError, InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

__all__ = [
    "ClaimError",
    "CodeIDToken",
    "ExpiredTokenError",
    "InvalidKeyIdError",
    "JWTClaimsRegistry",
    "JoseError",
    "KeySet",
    "OAuth2Session",
    "OAuthError",
    "add_params_to_uri",
    "generate_token",
    "jwt",
    "requests",
]
