"""Word-level differences between two versions of a text, readable without colour.

Texts are compared as readers see them: the Markdown is parsed into blocks (headings,
paragraphs, list items…) without its syntax, so a changed heading reads "Modération", not
"## Modération". Blocks are compared first (fast on long texts), then word by word inside
the blocks that changed. Whitespace alone is not a change, so re-wrapping a Markdown file
in git does not light up the whole page. Additions are marked `<ins>` and
removals `<del>`; the stylesheet adds visible `[+ … +]` / `[- … -]` markers, so the
changes read the same in black and white, in print and through a screen reader.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from functools import lru_cache
from typing import Literal

from markupsafe import Markup, escape

from app.legal.rendering import TextBlock, text_blocks

WORD = re.compile(r"\s*\S+")
# Above this many words on each side, a rewritten passage is shown as removed + added
# rather than diffed word by word (difflib is quadratic in the worst case).
MAX_WORD_DIFF = 4000
CONTEXT_PARAGRAPHS = 1


@dataclass(frozen=True)
class Segment:
    kind: Literal["same", "ins", "del"]
    text: str


@dataclass(frozen=True)
class Block:
    """One block (paragraph, heading, list item…) of the comparison."""

    segments: tuple[Segment, ...]
    kind: str = "paragraph"

    @property
    def changed(self) -> bool:
        return any(s.kind != "same" for s in self.segments)

    @property
    def html(self) -> Markup:
        parts = []
        for segment in self.segments:
            text = escape(segment.text)
            if segment.kind == "same":
                parts.append(text)
            else:
                parts.append(Markup("<{0}>{1}</{0}>").format(segment.kind, text))
        return Markup("").join(parts)


@dataclass(frozen=True)
class Skipped:
    """Unchanged paragraphs left out of a compact comparison."""

    count: int


@dataclass(frozen=True)
class TextDiff:
    items: tuple[Block | Skipped, ...]
    words_added: int
    words_removed: int
    blocks_changed: int = field(default=0)

    @property
    def changed(self) -> bool:
        return bool(self.words_added or self.words_removed)


def _split_leading_space(token: str) -> tuple[str, str]:
    word = token.lstrip()
    return token[: len(token) - len(word)], word


def _changed_run(kind: Literal["ins", "del"], tokens: list[str]) -> Iterator[Segment]:
    """A run of added or removed words; the space before it stays outside the mark."""
    if not tokens:
        return
    space, first = _split_leading_space(tokens[0])
    if space:
        yield Segment("same", space)
    yield Segment(kind, first + "".join(tokens[1:]))


def _word_segments(old: str, new: str) -> tuple[list[Segment], int, int]:
    old_tokens, new_tokens = WORD.findall(old), WORD.findall(new)
    if len(old_tokens) > MAX_WORD_DIFF and len(new_tokens) > MAX_WORD_DIFF:
        wholesale = [*_changed_run("del", old_tokens), Segment("same", "\n\n")]
        wholesale += list(_changed_run("ins", new_tokens))
        return wholesale, len(new_tokens), len(old_tokens)
    matcher = SequenceMatcher(
        None, [t.strip() for t in old_tokens], [t.strip() for t in new_tokens], autojunk=False
    )
    segments: list[Segment] = []
    added = removed = 0
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            segments.append(Segment("same", "".join(new_tokens[j1:j2])))
            continue
        if i2 > i1:
            segments.extend(_changed_run("del", old_tokens[i1:i2]))
            removed += i2 - i1
        if j2 > j1:
            run = list(_changed_run("ins", new_tokens[j1:j2]))
            if i2 > i1:
                # "[- old -] [+ new +]": always one space between a removal and its replacement.
                run = [Segment("same", " "), *(r for r in run if r.kind != "same")]
            segments.extend(run)
            added += j2 - j1
    if segments and segments[0].kind == "same":
        segments[0] = Segment("same", segments[0].text.lstrip())
    return segments, added, removed


@lru_cache(maxsize=32)
def diff_texts(old: str, new: str, *, full: bool = False) -> TextDiff:
    """Compare two Markdown texts as read; `full=False` folds unchanged blocks far from changes.

    Versions never change, so a comparison every gated user sees is computed once.
    """
    old_paragraphs, new_paragraphs = list(text_blocks(old)), list(text_blocks(new))
    # Most new versions change a few places: compare only what lies between the common
    # beginning and end, which keeps long texts fast.
    head = 0
    limit = min(len(old_paragraphs), len(new_paragraphs))
    while head < limit and old_paragraphs[head] == new_paragraphs[head]:
        head += 1
    tail = 0
    while (
        tail < limit - head
        and old_paragraphs[len(old_paragraphs) - 1 - tail]
        == new_paragraphs[len(new_paragraphs) - 1 - tail]
    ):
        tail += 1
    matcher = SequenceMatcher(
        None,
        old_paragraphs[head : len(old_paragraphs) - tail],
        new_paragraphs[head : len(new_paragraphs) - tail],
        autojunk=False,
    )
    opcodes = [("equal", 0, head, 0, head)] if head else []
    opcodes += [
        (tag, i1 + head, i2 + head, j1 + head, j2 + head)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes()
    ]
    if tail:
        opcodes.append(
            ("equal", len(old_paragraphs) - tail, len(old_paragraphs),
             len(new_paragraphs) - tail, len(new_paragraphs))
        )  # fmt: skip
    blocks: list[Block] = []
    added = removed = 0
    for tag, i1, i2, j1, j2 in opcodes:
        if tag == "equal":
            blocks.extend(Block((Segment("same", p.text),), p.kind) for p in new_paragraphs[j1:j2])
        elif tag == "delete":
            for paragraph in old_paragraphs[i1:i2]:
                blocks.append(Block((Segment("del", paragraph.text),), paragraph.kind))
                removed += len(WORD.findall(paragraph.text))
        elif tag == "insert":
            for paragraph in new_paragraphs[j1:j2]:
                blocks.append(Block((Segment("ins", paragraph.text),), paragraph.kind))
                added += len(WORD.findall(paragraph.text))
        elif i2 - i1 == j2 - j1:
            for before, after in zip(old_paragraphs[i1:i2], new_paragraphs[j1:j2], strict=True):
                segments, plus, minus = _word_segments(before.text, after.text)
                blocks.append(Block(tuple(segments), after.kind))
                added, removed = added + plus, removed + minus
        else:
            segments, plus, minus = _word_segments(
                _joined(old_paragraphs[i1:i2]), _joined(new_paragraphs[j1:j2])
            )
            blocks.append(Block(tuple(segments), new_paragraphs[j1].kind))
            added, removed = added + plus, removed + minus
    changed = sum(1 for b in blocks if b.changed)
    items: tuple[Block | Skipped, ...] = tuple(blocks) if full else _fold(blocks)
    return TextDiff(items=items, words_added=added, words_removed=removed, blocks_changed=changed)


def _joined(blocks: list[TextBlock]) -> str:
    return "\n\n".join(block.text for block in blocks)


def _fold(blocks: list[Block]) -> tuple[Block | Skipped, ...]:
    near_change = [False] * len(blocks)
    for index, block in enumerate(blocks):
        if block.changed:
            low = max(0, index - CONTEXT_PARAGRAPHS)
            for near in range(low, min(len(blocks), index + CONTEXT_PARAGRAPHS + 1)):
                near_change[near] = True
    items: list[Block | Skipped] = []
    skipped = 0
    for block, keep in zip(blocks, near_change, strict=True):
        if keep:
            if skipped:
                items.append(Skipped(skipped))
                skipped = 0
            items.append(block)
        else:
            skipped += 1
    if skipped:
        items.append(Skipped(skipped))
    return tuple(items)
