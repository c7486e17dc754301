"""Start-up of OpenID Connect sign-in: the provider, its pages, its place in the CSP."""

from __future__ import annotations

from flask import Flask
from flask_babel import lazy_gettext as _l

from app.extensions import csrf
from app.features import Feature
from app.oidc import (
    SETTINGS,
    allow_forms_to_reach_provider,
    bp,
    check_settings,
    end_session_url,
    reauth_url,
    views,
)


def _init(app: Flask) -> None:
    check_settings(app)
    csrf.exempt(views.backchannel_logout)
    app.extensions["panel_reauth_url"] = reauth_url
    app.extensions["panel_end_session_url"] = end_session_url
    if app.extensions.get("panel_oidc") is not None:
        # Registered before app.security's headers, so it runs after them (Flask runs
        # after_request functions last-registered first) and widens what they set.
        app.after_request(allow_forms_to_reach_provider)


FEATURE = Feature(
    name="oidc",
    settings=SETTINGS,
    init=_init,
    blueprints=(bp,),
    audit_labels={
        "oidc.refused": _l("Sign-in through the identity provider refused"),
        "oidc.reauth_succeeded": _l("Identity confirmed again at the identity provider"),
        "oidc.reauth_refused": _l("Confirmation at the identity provider refused"),
        "oidc.backchannel_logout": _l("Signed out by the identity provider"),
    },
)
