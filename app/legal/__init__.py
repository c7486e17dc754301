"""Terms of service and privacy clause: versions, public pages, publishing, acceptance gate."""

from flask import Blueprint

# Public pages live under /legal, the staff pages under /staff/legal.
bp = Blueprint("legal", __name__)
