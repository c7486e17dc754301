"""The new text of a reply mail: HTML made plain, quoted history and signature cut."""

from __future__ import annotations

import re

# "On Mon, 30 Nov 2026 at 12:00, Panel <x@y> wrote:" and "Le lun. 30 nov. 2026 à 12:00,
# Panel <x@y> a écrit :" — clients wrap them, so two lines are joined before matching.
ATTRIBUTION = re.compile(
    r"^\s*(On\s.{1,300}?\bwrote\s*:|Le\s.{1,300}?\ba\s+écrit\s*:)\s*$", re.IGNORECASE | re.DOTALL
)
FORWARD_MARKERS = re.compile(
    r"^\s*-{2,}\s*(Original Message|Message original|Message d'origine|Forwarded message"
    r"|Message transféré)\s*-{2,}\s*$",
    re.IGNORECASE,
)
# Outlook puts the quoted mail under a header block.
OUTLOOK_HEADER = re.compile(r"^\s*(From|De)\s*:\s*.+$", re.IGNORECASE)
SIGNATURE = "-- "


def html_to_text(html: str) -> str:
    """Visible text of an HTML mail; scripts, styles and quoted blocks are dropped."""
    # Imported here: only mail-in needs it, and web workers start faster without it.
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "head", "title", "blockquote"]):
        tag.decompose()
    for quoted in soup.select(".gmail_quote, .moz-cite-prefix, #divRplyFwdMsg, #appendonsend"):
        quoted.decompose()
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for block in soup.find_all(["p", "div", "li", "tr", "h1", "h2", "h3", "h4", "pre"]):
        block.insert_after("\n")
    text = soup.get_text()
    lines = [line.rstrip() for line in text.replace("\xa0", " ").splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def new_text(body: str) -> str:
    """What the sender wrote, without the mail they answered and without their signature."""
    lines = body.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for index, line in enumerate(lines):
        if line == SIGNATURE or (line.rstrip() == "--" and index > 0):
            break
        if line.lstrip().startswith(">"):
            break
        if FORWARD_MARKERS.match(line):
            break
        joined = line if index + 1 >= len(lines) else f"{line} {lines[index + 1]}"
        if ATTRIBUTION.match(line):
            break
        if ATTRIBUTION.match(joined) and _quote_follows(lines, index + 2):
            break
        if OUTLOOK_HEADER.match(line) and kept and not kept[-1].strip():
            following = "\n".join(lines[index : index + 4])
            if re.search(r"^\s*(Sent|Envoyé|To|À)\s*:", following, re.IGNORECASE | re.MULTILINE):
                break
        kept.append(line)
    return "\n".join(kept).strip()


def _quote_follows(lines: list[str], start: int) -> bool:
    """After a two-line attribution comes the quote (or nothing)."""
    rest = [line for line in lines[start:] if line.strip()]
    return not rest or rest[0].lstrip().startswith(">")
