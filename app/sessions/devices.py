"""Browser and system in words, from a User-Agent header; only these words are kept."""

from __future__ import annotations

import re

# Order matters: Edge and Opera also say "Chrome", Chrome also says "Safari".
BROWSERS: tuple[tuple[str, str], ...] = (
    (r"\bEdg(?:e|A|iOS)?/", "Edge"),
    (r"\b(?:OPR|Opera)/", "Opera"),
    (r"\bVivaldi/", "Vivaldi"),
    (r"\bSamsungBrowser/", "Samsung Internet"),
    (r"\b(?:Firefox|FxiOS)/", "Firefox"),
    (r"\bChromium/", "Chromium"),
    (r"\b(?:Chrome|CriOS)/", "Chrome"),
    (r"\bVersion/[\d.]+.*\bSafari/", "Safari"),
    (r"\bcurl/", "curl"),
    (r"\bWget/", "Wget"),
    (r"\bpython-(?:requests|urllib)|Python-urllib/", "Python"),
)
SYSTEMS: tuple[tuple[str, str], ...] = (
    (r"\bAndroid\b", "Android"),
    (r"\biPhone\b", "iPhone"),
    (r"\biPad\b", "iPad"),
    (r"\bWindows\b", "Windows"),
    (r"\bCrOS\b", "ChromeOS"),
    (r"\b(?:Macintosh|Mac OS X)\b", "macOS"),
    (r"\b(?:FreeBSD|OpenBSD|NetBSD)\b", "BSD"),
    (r"\bLinux\b", "Linux"),
)


def _first(table: tuple[tuple[str, str], ...], user_agent: str) -> str:
    for pattern, name in table:
        if re.search(pattern, user_agent):
            return name
    return ""


def describe(user_agent: str | None) -> tuple[str, str]:
    """(browser, system), each "" when not recognised."""
    text = (user_agent or "")[:512]
    return _first(BROWSERS, text), _first(SYSTEMS, text)
