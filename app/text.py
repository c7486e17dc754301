"""Text people type: checks for one-line texts (titles, subjects), and the HTML made from
staff Markdown, sanitised."""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Mapping

import nh3
from markupsafe import Markup

# Characters that draw nothing although they are not "whitespace" to str.split():
# format characters (U+200B zero width space, U+FEFF, U+00AD soft hyphen, bidi marks…),
# separators, and a few letters and symbols that are blank by design.
BLANK_CATEGORIES = {"Cc", "Cf", "Zs", "Zl", "Zp"}
BLANK_CHARACTERS = {"\u115f", "\u1160", "\u2800", "\u3164", "\uffa0"}


def is_blank(text: str) -> bool:
    """True if nothing of the text would be visible on the page."""
    return all(
        unicodedata.category(ch) in BLANK_CATEGORIES or ch in BLANK_CHARACTERS for ch in text
    )


def one_line(text: str | None) -> str:
    """Whitespace collapsed to single spaces; "" when nothing visible is left."""
    collapsed = " ".join((text or "").split())
    return "" if is_blank(collapsed) else collapsed


def has_control_characters(text: str) -> bool:
    """Control characters other than tab and line breaks (NUL, escape, …)."""
    return any(unicodedata.category(ch) == "Cc" and ch not in "\t\n\r" for ch in text)


def sentence(text: object) -> str:
    """The first letter in upper case, the rest untouched (`str.capitalize` lowers it).

    Descriptions written to follow a label in running text ("the panel's database") start a
    table cell or a stacked row on their own.
    """
    value = str(text)
    return value[:1].upper() + value[1:]


def sanitised_html(
    html: str,
    *,
    tags: Collection[str],
    attributes: Mapping[str, Collection[str]],
    url_schemes: Collection[str],
) -> Markup:
    """`html` with only the allowed tags, attributes and link schemes left, safe to show."""
    clean = nh3.clean(
        html,
        tags=set(tags),
        attributes={tag: set(names) for tag, names in attributes.items()},
        url_schemes=set(url_schemes),
        # Pages send Referrer-Policy: same-origin, so other sites get no Referer already;
        # rel="noreferrer" keeps it so where a text is shown elsewhere (a feed reader).
        link_rel="noreferrer",
    )
    return Markup(clean)  # nosec B704 # noqa: S704 - sanitised by nh3 just above
