"""Markdown to safe HTML for terms texts, with heading anchors for a table of contents.

markdown-it-py parses with raw HTML disabled, so `<script>` in a text is shown as text;
bleach then keeps only an allowlist of tags and attributes, in case a future option or
plugin lets something through. Versions never change, so rendered texts are cached.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import bleach
from markdown_it import MarkdownIt
from markupsafe import Markup

ALLOWED_TAGS = frozenset(
    {
        "p", "br", "hr", "em", "strong", "code", "pre", "blockquote",
        "ul", "ol", "li", "a", "h2", "h3", "h4", "h5", "h6",
        "table", "thead", "tbody", "tr", "th", "td",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": ["href", "title"],
    "ol": ["start"],
    **{f"h{level}": ["id"] for level in range(2, 7)},
}
ALLOWED_PROTOCOLS = frozenset({"http", "https", "mailto"})
# The page title is the h1; the text's own top headings become h2 whatever level it used.
TOP_HEADING_LEVEL = 2
# Enough structure to be worth a table of contents.
TOC_MIN_HEADINGS = 3


@dataclass(frozen=True)
class TocEntry:
    level: int  # 2 = top level of the text
    anchor: str
    title: str


@dataclass(frozen=True)
class RenderedText:
    html: Markup
    toc: tuple[TocEntry, ...]

    @property
    def has_toc(self) -> bool:
        return len(self.toc) >= TOC_MIN_HEADINGS


def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def slugify(text: str) -> str:
    normalised = unicodedata.normalize("NFKD", text)
    ascii_text = "".join(c for c in normalised if not unicodedata.combining(c)).lower()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")[:60] or "section"


@lru_cache(maxsize=64)
def render_markdown(source: str, top_level: int = TOP_HEADING_LEVEL) -> RenderedText:
    """Safe HTML and its outline; headings get stable `section-…` ids for the contents.

    `top_level` is the heading level the text's own top headings get (2 under the page's
    h1; 3 where the text sits under an h2 of the page).
    """
    md = _parser()
    tokens = md.parse(source)
    levels = [int(t.tag[1]) for t in tokens if t.type == "heading_open"]
    shift = top_level - min(levels) if levels else 0
    toc: list[TocEntry] = []
    used: set[str] = set()
    for index, token in enumerate(tokens):
        if token.type not in ("heading_open", "heading_close"):
            continue
        level = min(int(token.tag[1]) + shift, 6)
        token.tag = f"h{level}"
        if token.type == "heading_close":
            continue
        inline = tokens[index + 1]
        title = "".join(
            child.content
            for child in (inline.children or [])
            if child.type in ("text", "code_inline")
        ).strip()
        base = f"section-{slugify(title)}"
        anchor, counter = base, 2
        while anchor in used:
            anchor, counter = f"{base}-{counter}", counter + 1
        used.add(anchor)
        token.attrSet("id", anchor)
        toc.append(TocEntry(level=level, anchor=anchor, title=title))
    html = md.renderer.render(tokens, md.options, {})
    clean = bleach.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        protocols=ALLOWED_PROTOCOLS,
        strip=True,
    )
    return RenderedText(html=Markup(clean), toc=tuple(toc))  # nosec B704 # noqa: S704 - sanitised above
