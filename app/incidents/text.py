"""Staff text (updates, post-mortems) as Markdown: raw HTML off, then sanitised."""

from __future__ import annotations

from functools import cache, lru_cache
from typing import TYPE_CHECKING

import nh3
from markupsafe import Markup

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

ALLOWED_TAGS = frozenset(
    {"p", "br", "strong", "em", "code", "pre", "ul", "ol", "li", "a", "blockquote", "h3", "h4"}
)
ALLOWED_ATTRIBUTES = {"a": ["href", "title"]}
ALLOWED_PROTOCOLS = frozenset({"http", "https", "mailto"})


@cache
def _markdown() -> MarkdownIt:
    """Built on the first text (as app.legal.rendering does): markdown-it-py is some 70
    modules a web worker needs only once an incident is shown."""
    from markdown_it import MarkdownIt  # on first use: see the docstring

    return MarkdownIt("commonmark", {"html": False, "linkify": False}).disable("image")


@lru_cache(maxsize=4096)
def render_markdown(text: str) -> Markup:
    """Safe HTML for a staff-written text; headings are shifted so pages keep their outline."""
    html = _markdown().render(text)
    for level in (1, 2):
        html = html.replace(f"<h{level}>", "<h3>").replace(f"</h{level}>", "</h3>")
    for level in (5, 6):
        html = html.replace(f"<h{level}>", "<h4>").replace(f"</h{level}>", "</h4>")
    clean = nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(ALLOWED_PROTOCOLS),
        # Pages send Referrer-Policy: same-origin, so other sites get no Referer already;
        # rel="noreferrer" keeps it so where a text is shown elsewhere (a feed reader).
        link_rel="noreferrer",
    )
    return Markup(clean)  # nosec B704 # noqa: S704 - sanitised by nh3 just above
