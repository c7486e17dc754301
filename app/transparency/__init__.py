"""Transparency register (requests from authorities), warrant canary and usage statistics."""

from flask import Blueprint

bp = Blueprint("transparency", __name__)
