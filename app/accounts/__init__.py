"""Accounts: sign in and out, account overview, activity log, re-authentication."""

from flask import Blueprint

bp = Blueprint("accounts", __name__)

from flask_babel import lazy_gettext as _l  # noqa: E402

from app import audit  # noqa: E402
from app.accounts import views  # noqa: E402,F401

audit.register_labels(
    {
        "login.succeeded": _l("Signed in"),
        "login.failed": _l("Failed sign-in attempt (wrong password)"),
        "logout": _l("Signed out"),
        "reauth.succeeded": _l("Password confirmed for a sensitive action"),
        "reauth.failed": _l("Wrong password when confirming a sensitive action"),
        "access.revoked": _l("Access removed: the account is no longer in the directory"),
        "staff.granted": _l("Staff rights granted"),
        "staff.revoked": _l("Staff rights removed"),
    }
)
