"""The hoster's accent colour as a tiny stylesheet, so no inline style is needed (strict CSP)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app

from app.security import public_endpoint

bp = Blueprint("theme", __name__)


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def text_on(hex_colour: str) -> str:
    """Black or white, whichever contrasts more with the accent (WCAG contrast ratio)."""
    lum = _luminance(hex_colour)
    white = 1.05 / (lum + 0.05)
    black = (lum + 0.05) / 0.05
    return "#ffffff" if white >= black else "#000000"


@bp.route("/theme.css")
@public_endpoint
def theme_css() -> Response:
    accent = current_app.config["HOSTER_ACCENT_COLOUR"]
    css = f":root {{ --accent: {accent}; --on-accent: {text_on(accent)}; }}\n"
    response = Response(css, mimetype="text/css")
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response
