"""RFC 4514 distinguished-name comparison, so group membership is matched exactly."""

from __future__ import annotations

from functools import lru_cache

_HEX = "0123456789abcdefABCDEF"


def _unescape(value: str) -> str:
    out = bytearray()
    i = 0
    while i < len(value):
        char = value[i]
        if char == "\\" and i + 1 < len(value):
            pair = value[i + 1 : i + 3]
            if len(pair) == 2 and pair[0] in _HEX and pair[1] in _HEX:
                out.append(int(pair, 16))
                i += 3
                continue
            out.extend(value[i + 1].encode())
            i += 2
            continue
        out.extend(char.encode())
        i += 1
    return out.decode("utf-8", errors="replace")


def _strip(value: str) -> str:
    """Drop surrounding spaces but keep an escaped trailing space (`a\\ `)."""
    value = value.lstrip()
    while value.endswith(" ") and not value.endswith("\\ "):
        value = value[:-1]
    return value


def _split_unescaped(text: str, separators: str) -> list[str]:
    parts, current, i = [], [], 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            current.append(text[i : i + 2])
            i += 2
            continue
        if char in separators:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    parts.append("".join(current))
    return parts


# Group members and people's DNs repeat from one sign-in to the next.
@lru_cache(maxsize=8192)
def normalise_dn(dn: str) -> tuple[tuple[tuple[str, str], ...], ...]:
    """A DN as comparable RDNs: attribute types and values case-folded, escapes resolved.

    Multi-valued RDNs are sorted so that `a=1+b=2` equals `b=2+a=1`.
    """
    rdns = []
    for rdn in _split_unescaped(dn.strip(), ","):
        if not rdn.strip():
            continue
        pairs = []
        for ava in _split_unescaped(rdn, "+"):
            attr_type, _, value = ava.partition("=")
            pairs.append((attr_type.strip().casefold(), _unescape(_strip(value)).casefold()))
        rdns.append(tuple(sorted(pairs)))
    return tuple(rdns)


def same_dn(left: str, right: str) -> bool:
    """True when both strings name the same entry (never a substring or suffix match)."""
    return normalise_dn(left) == normalise_dn(right)
