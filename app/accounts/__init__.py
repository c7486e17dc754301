"""Accounts: sign in and out, account overview, activity log, re-authentication."""

from flask import Blueprint

bp = Blueprint("accounts", __name__)
