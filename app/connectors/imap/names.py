"""Mailbox names: modified UTF-7 (RFC 3501 §5.1.3), quoting, and safe paths in the archive."""

from __future__ import annotations

import base64
import re
import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass


# Modified UTF-7 (RFC 3501 §5.1.3) ---------------------------------------------------------


def decode_mailbox_name(raw: str) -> str:
    """`Envoy&AOk-s` -> `Envoyés`; invalid sequences are kept as they are."""
    out: list[str] = []
    i = 0
    while i < len(raw):
        char = raw[i]
        if char != "&":
            out.append(char)
            i += 1
            continue
        end = raw.find("-", i + 1)
        if end == -1:
            out.append(raw[i:])
            break
        chunk = raw[i + 1 : end]
        if not chunk:
            out.append("&")
        else:
            padded = chunk.replace(",", "/") + "=" * (-len(chunk) % 4)
            try:
                out.append(base64.b64decode(padded, validate=True).decode("utf-16-be"))
            except (ValueError, UnicodeDecodeError):
                out.append(raw[i : end + 1])
        i = end + 1
    return "".join(out)


def encode_mailbox_name(name: str) -> str:
    """`Envoyés` -> `Envoy&AOk-s`."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            data = "".join(pending).encode("utf-16-be")
            out.append("&" + base64.b64encode(data).decode().rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)


def quote_mailbox(name: str) -> str:
    """A mailbox name as an IMAP quoted string (imaplib leaves a quoted argument alone)."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')


def path_component(name: str) -> str:
    """One folder name as a file name that every system accepts."""
    clean = _UNSAFE.sub("_", unicodedata.normalize("NFC", name)).strip().rstrip(".")
    if clean in ("", ".", ".."):
        clean = "_" + clean.replace(".", "_")
    return clean[:200]


def folder_path(name: str, delimiter: str | None) -> str:
    """`INBOX/Archives/2024` -> `INBOX/Archives/2024` with each part made safe."""
    parts = name.split(delimiter) if delimiter else [name]
    return "/".join(path_component(part) for part in parts if part != "") or "_"
