"""Markdown to safe HTML for terms texts, with heading anchors for a table of contents.

markdown-it-py parses with raw HTML disabled, so `<script>` in a text is shown as text;
nh3 (ammonia) then keeps only an allowlist of tags and attributes, in case a future option or
plugin lets something through. Versions never change, so rendered texts are cached.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from markupsafe import Markup

from app.text import sanitised_html

# markdown-it-py is loaded on the first text rendered (its rules are some 70 modules): a
# web worker that serves no terms page does without it.
if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.token import Token

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
    # markdown-it-py (some 70 modules) loads with the first text, as in app.incidents.text.
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def slugify(text: str) -> str:
    normalised = unicodedata.normalize("NFKD", text)
    ascii_text = "".join(c for c in normalised if not unicodedata.combining(c)).lower()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")[:60] or "section"


@lru_cache(maxsize=64)
def render_markdown(
    source: str, top_level: int = TOP_HEADING_LEVEL, anchor_prefix: str = "section-"
) -> RenderedText:
    """Safe HTML and its outline; headings get stable `section-…` ids for the contents.

    `top_level` is the heading level the text's own top headings get (2 under the page's
    h1; 3 where the text sits under an h2 of the page). `anchor_prefix` keeps ids unique
    where several documents share a page (both can have a "Demandes des autorités").
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
        base = f"{anchor_prefix}{slugify(title)}"
        anchor, counter = base, 2
        while anchor in used:
            anchor, counter = f"{base}-{counter}", counter + 1
        used.add(anchor)
        token.attrSet("id", anchor)
        toc.append(TocEntry(level=level, anchor=anchor, title=title))
    html = md.renderer.render(tokens, md.options, {})
    clean = sanitised_html(
        html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes=ALLOWED_PROTOCOLS
    )
    return RenderedText(html=clean, toc=tuple(toc))


@dataclass(frozen=True)
class TextBlock:
    """One block of a rendered text as a reader sees it: its kind and its plain words.

    Comparisons work on these rather than on the Markdown source, so a reader of the
    changes sees "Modération" as a heading, not "## Modération".
    """

    kind: str  # "heading", "item", "quote", "code", "row", "rule" or "paragraph"
    text: str


def _inline_text(token: Token) -> str:
    parts = []
    for child in token.children or []:
        if child.type in ("text", "code_inline", "image"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return " ".join("".join(parts).split())


@lru_cache(maxsize=64)
def text_blocks(source: str) -> tuple[TextBlock, ...]:
    """The text's blocks in reading order, Markdown syntax gone, whitespace normalised."""
    blocks: list[TextBlock] = []
    lists: list[int | None] = []  # next number of each open list; None for bullets
    marker: str | None = None  # a list item's marker, waiting for its first line
    heading = in_cell = False
    quotes = 0
    cells: list[str] = []
    for token in _parser().parse(source):
        kind = token.type
        if kind in ("heading_open", "heading_close"):
            heading = kind == "heading_open"
        elif kind in ("th_open", "td_open", "th_close", "td_close"):
            in_cell = kind.endswith("_open")
        elif kind == "bullet_list_open":
            lists.append(None)
        elif kind == "ordered_list_open":
            lists.append(int(str(token.attrGet("start") or 1)))
        elif kind in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
        elif kind == "list_item_open":
            number = lists[-1] if lists else None
            if number is None:
                marker = "•"
            else:
                marker, lists[-1] = f"{number}.", number + 1
        elif kind in ("blockquote_open", "blockquote_close"):
            quotes += 1 if kind == "blockquote_open" else -1
        elif kind == "tr_open":
            cells = []
        elif kind == "tr_close":
            blocks.append(TextBlock("row", " | ".join(cells)))
        elif kind in ("code_block", "fence"):
            blocks.append(TextBlock("code", token.content.rstrip("\n")))
        elif kind == "hr":
            blocks.append(TextBlock("rule", "* * *"))
        elif kind == "inline":
            text = _inline_text(token)
            if in_cell:
                cells.append(text)
            elif heading:
                blocks.append(TextBlock("heading", text))
            elif marker is not None:
                blocks.append(TextBlock("item", f"{marker} {text}"))
                marker = None
            else:
                blocks.append(TextBlock("quote" if quotes else "paragraph", text))
    return tuple(b for b in blocks if b.text.strip())
