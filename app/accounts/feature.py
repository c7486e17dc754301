"""Start-up of accounts: the sign-in and account pages, and the labels of their events."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.accounts import bp, views  # noqa: F401 - routes
from app.features import Feature

FEATURE = Feature(
    name="accounts",
    blueprints=(bp,),
    audit_labels={
        "login.succeeded": _l("Signed in"),
        "login.failed": _l("Failed sign-in attempt (wrong password)"),
        "logout": _l("Signed out"),
        "reauth.succeeded": _l("Password confirmed for a sensitive action"),
        "reauth.failed": _l("Wrong password when confirming a sensitive action"),
        "access.revoked": _l("Access removed: the account is no longer in the directory"),
        "staff.granted": _l("Staff rights granted"),
        "staff.revoked": _l("Staff rights removed"),
    },
)
