"""Staff text (updates, post-mortems) as Markdown: raw HTML off, then sanitised."""

from __future__ import annotations

from functools import cache, lru_cache
from typing import TYPE_CHECKING

from markupsafe import Markup

from app.text import sanitised_html

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
    return sanitised_html(
        html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes=ALLOWED_PROTOCOLS
    )
