"""Mail brought in (moving house): one archive folder appended to the person's own folder
of the same name, with its flags and internal dates, skipping what is already there.

- The folder is named in the person's personal namespace only (its prefix and delimiter,
  "INBOX." on a classic Cyrus), in modified UTF-7; a name that would land in another
  namespace ("Public/…", "shared/…", a team folder at the top of a classic Cyrus) gets
  " (imported)" after its first part instead, so nothing is ever written into a folder
  someone else owns or shares.
- "Already there" is counted: the folder's Message-IDs are read once (and the digests of
  its messages that have none, only when the archive has such messages too); the n-th
  copy of a key in the archive is skipped when the folder held at least n before. Running
  the same part twice, or again after a worker died, writes nothing twice.
- APPEND uses LITERAL+ (RFC 7888) when the server has it: one round trip a message.
"""

from __future__ import annotations

import hashlib
import imaplib
import logging
import re
from collections.abc import Iterable
from datetime import datetime
from functools import partial

from app.connectors.base import N_
from app.connectors.imap import namespaces as ns
from app.connectors.imap.client import ImapClient
from app.connectors.imap.errors import ImapError
from app.connectors.imap.fetching import FETCH_UID
from app.connectors.imap.mbox import message_id_key
from app.connectors.imap.names import encode_mailbox_name, quote_mailbox
from app.connectors.imap.table import MessageTable
from app.connectors.importing import (
    IMPORTED,
    REFUSED,
    SKIPPED,
    ImportItem,
    ImportPart,
    ImportProgress,
    Malformed,
)

log = logging.getLogger(__name__)

KEY_BATCH = 5000  # messages per FETCH of their Message-IDs
SMALL_MESSAGE = 256 * 1024  # sent with its command in one write; larger ones after it
IMPORTED_SUFFIX = " (imported)"
_SYSTEM_FLAGS = {
    flag.lower(): flag for flag in ("\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft")
}
_KEYWORD = re.compile(r"[!#$&'+-Z^-z|~]+")
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")
_BARE_LINE_END = re.compile(rb"\r\n|\r|\n")
_STORAGE = re.compile(rb"STORAGE (\d+) (\d+)", re.I)
_APPEND_LIMIT = re.compile(r"APPENDLIMIT=(\d+)")

TOO_BIG = N_("this message is bigger than the mail server accepts")
OVER_QUOTA = N_("the mailbox is full: its quota leaves no room for this message")
SERVER_REFUSED = N_("the mail server refused this message")
NOT_OWN_FOLDER = N_("this folder cannot be created among your own folders on the mail server")
APPEND_MESSAGES = (TOO_BIG, OVER_QUOTA, SERVER_REFUSED, NOT_OWN_FOLDER)


def _key_hash(key: str) -> int:
    """8 bytes of a key: a folder of a million messages stays a few dozen megabytes."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big")


# Where the folder goes -----------------------------------------------------------------------


def personal_folder(spaces: ns.Namespaces, path: str, delimiter: str | None) -> str | None:
    """The server's name (modified UTF-7) for an archive folder path ("Archives/2024")
    among the person's own folders; None when no name there is hers."""
    personal = next((p for p in spaces.prefixes if p.kind == ns.PERSONAL), None)
    if personal is None:
        return None
    sep = personal.delimiter or delimiter or "/"
    parts = [part.replace(sep, "_") for part in path.split("/") if part] or ["INBOX"]
    for attempt in range(2):
        if parts[0].upper() == "INBOX":
            parts[0] = "INBOX"
            name = sep.join(parts)  # INBOX and its children are hers whatever the prefix
        else:
            name = personal.prefix + sep.join(parts)
        encoded = encode_mailbox_name(name)
        if spaces.kind_of(encoded, sep) == ns.PERSONAL:
            return encoded
        if attempt == 0:
            parts[0] += IMPORTED_SUFFIX
    return None


# What is already there -----------------------------------------------------------------------


class Present:
    """How many times each key is in the folder (Message-ID, else digest)."""

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.without_id = MessageTable(0)  # UIDs and sizes of messages with no Message-ID
        self._pending: list[tuple[int, int]] = []
        self.digested = False

    def add(self, key: str) -> None:
        hashed = _key_hash(key)
        self.counts[hashed] = self.counts.get(hashed, 0) + 1

    def take(self, key: str) -> bool:
        """True (and one copy fewer) when the folder already holds this key."""
        hashed = _key_hash(key)
        left = self.counts.get(hashed, 0)
        if not left:
            return False
        self.counts[hashed] = left - 1
        return True


def read_present(client: ImapClient, folder: str) -> Present:
    """The Message-IDs of a folder's messages, read once (headers only, never bodies)."""
    present = Present()
    count = client.select(folder, readonly=True)
    without: list[tuple[int, int]] = []
    for first in range(1, count + 1, KEY_BATCH):
        which = f"{first}:{min(first + KEY_BATCH - 1, count)}"
        data = client._call(
            f"FETCH {folder}",
            partial(
                client._conn.fetch,
                which,
                "(UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])",
            ),
        )
        head = b""
        for item in data:
            if isinstance(item, tuple):
                head, header = item[0], item[1]
                key = message_id_key(header)
                if key is not None:
                    present.add(key)
                    head = b""
                    continue
                head += b" "
            elif isinstance(item, bytes) and head:
                head += item  # UID and size may come after the header's literal
            else:
                continue
            found_uid, found_size = FETCH_UID.search(head), _SIZE.search(head)
            if found_uid and found_size:
                without.append((int(found_uid[1]), int(found_size[1])))
                head = b""
        del data
    client._call("CLOSE", client._conn.close)
    client.selected = None
    table = MessageTable(len(without))
    for sequence, (uid, size) in enumerate(sorted(without), start=1):
        table.set(sequence, uid, size, -1)
    present.without_id = table
    return present


def add_digests(client: ImapClient, folder: str, present: Present) -> None:
    """The digests of the folder's messages without a Message-ID, read as they arrive."""
    present.digested = True
    if not len(present.without_id):
        return
    client.select(folder, readonly=True)
    buffer = bytearray(512 * 1024)
    for message in client.stream_messages(folder, present.without_id):
        digest = hashlib.sha256()
        carry = b""  # a CR at the end of a read, waiting to see whether LF follows
        left = message.size
        with memoryview(buffer) as view:
            while left:
                count = message.read_into(view[: min(left, len(buffer))])
                left -= count
                piece = carry + bytes(view[:count])
                carry = b"\r" if piece.endswith(b"\r") and left else b""
                if carry:
                    piece = piece[:-1]
                digest.update(piece.replace(b"\r\n", b"\n"))
        present.add("sha256:" + digest.hexdigest())
    client._call("CLOSE", client._conn.close)
    client.selected = None


# Writing -------------------------------------------------------------------------------------


def append_flags(flags: Iterable[str]) -> str:
    """The flags APPEND may set: system flags but \\Recent, and keywords that are atoms."""
    kept: list[str] = []
    for flag in flags:
        system = _SYSTEM_FLAGS.get(flag.lower())
        if system:
            kept.append(system)
        elif not flag.startswith("\\") and _KEYWORD.fullmatch(flag):
            kept.append(flag)
    return "(" + " ".join(dict.fromkeys(kept)) + ")"


def _crlf(data: bytes) -> bytes:
    """IMAP wants CRLF line ends (Cyrus refuses bare LF); messages fetched from IMAP have
    them already, another program's mbox may not."""
    if data.count(b"\n") == data.count(b"\r\n") and data.count(b"\r") == data.count(b"\r\n"):
        return data
    return _BARE_LINE_END.sub(b"\r\n", data)


def append_message(
    client: ImapClient, folder: str, data: bytes, flags: str, when: datetime | None
) -> tuple[bool, str]:
    """APPEND one message; (True, "") or (False, the server's answer)."""
    conn = client._conn
    date = imaplib.Time2Internaldate(when) if when is not None else None
    what = f"APPEND {folder}"
    try:
        if "LITERAL+" in client.capabilities():
            tag = conn._new_tag()
            parts = [tag, b"APPEND", quote_mailbox(folder).encode(), flags.encode()]
            if date:
                parts.append(date.encode())
            head = b" ".join(parts) + b" {%d+}\r\n" % len(data)
            if len(data) <= SMALL_MESSAGE:
                conn.send(head + data + b"\r\n")
            else:
                conn.send(head)
                conn.send(data)
                conn.send(b"\r\n")
            typ, answer = conn._command_complete("APPEND", tag)
        else:
            typ, answer = conn.append(quote_mailbox(folder), flags, when, data)
    except imaplib.IMAP4.abort as exc:
        raise client._failure(what, exc) from exc
    except imaplib.IMAP4.error as exc:  # BAD: this message, not the session
        return False, str(exc)[:300]
    except OSError as exc:
        raise client._failure(what, exc) from None
    finally:
        conn.untagged_responses.clear()  # EXISTS, APPENDUID…: nothing to keep
    if typ == "OK":
        return True, ""
    return False, _answer(answer)


def _answer(data: object) -> str:
    if isinstance(data, list) and data:
        data = data[-1]
    if isinstance(data, bytes):
        return data.decode("utf-8", "replace")[:300]
    return str(data)[:300]


def _reason(answer: str) -> str:
    upper = answer.upper()
    if "OVERQUOTA" in upper or "QUOTA" in upper:
        return OVER_QUOTA
    if "TOOBIG" in upper or "LIMIT" in upper or "TOO LARGE" in upper or "TOO BIG" in upper:
        return TOO_BIG
    return SERVER_REFUSED


def append_limit(client: ImapClient) -> int | None:
    """The largest message the server takes (APPENDLIMIT, RFC 7889), when it says."""
    for capability in client.capabilities():
        found = _APPEND_LIMIT.fullmatch(capability)
        if found:
            return int(found[1])
    return None


def import_folder(client: ImapClient, part: ImportPart, progress: ImportProgress) -> None:
    """One archive folder into the person's own folder of the same name."""
    spaces = client.namespaces()
    folders = client.list_folders()
    delimiter = next((f.delimiter for f in folders if f.delimiter), None)
    target = personal_folder(spaces, part.name, delimiter)
    if target is None:
        for item in part.items:
            progress.done(item, REFUSED, NOT_OWN_FOLDER)
        return
    if not any(f.name == target or (f.is_inbox and target == "INBOX") for f in folders):
        try:
            client.create_folder(target)
        except ImapError as exc:
            if "ALREADYEXISTS" not in (exc.server_answer or "").upper():
                raise
    try:
        client._call(f"SUBSCRIBE {target}", lambda: client._conn.subscribe(quote_mailbox(target)))
    except ImapError:
        log.info("%s did not subscribe %s", client.settings.address, target)
    present = read_present(client, target)
    limit = append_limit(client)
    for item in part.items:
        if isinstance(item, Malformed):
            progress.done(item, REFUSED, item.reason)
            continue
        if item.key.startswith("sha256:") and not present.digested:
            add_digests(client, target, present)
        if present.take(item.key):
            progress.done(item, SKIPPED)
            continue
        data = item.data if item.data is not None else _read_whole(item)
        if limit is not None and len(data) > limit:
            progress.done(item, REFUSED, TOO_BIG)
            continue
        ok, answer = append_message(
            client, target, _crlf(data), append_flags(item.flags), item.mtime
        )
        del data
        if ok:
            progress.done(item, IMPORTED)
        else:
            log.info("%s refused %s: %s", client.settings.address, item.name, answer)
            progress.done(item, REFUSED, _reason(answer))


def _read_whole(item: ImportItem) -> bytes:
    if item.open is None:
        return b""
    with item.open() as stream:
        return stream.read()


def available_bytes(client: ImapClient) -> int | None:
    """Room left under the quota of the person's INBOX (GETQUOTAROOT, STORAGE in KiB)."""
    if "QUOTA" not in client.capabilities():
        return None
    conn = client._conn
    try:
        typ, data = conn.getquotaroot("INBOX")
    except imaplib.IMAP4.abort as exc:
        raise client._failure("GETQUOTAROOT", exc) from exc
    except imaplib.IMAP4.error:
        return None  # no quota root for her INBOX: no limit
    except OSError as exc:
        raise client._failure("GETQUOTAROOT", exc) from None
    if typ != "OK" or len(data) < 2:
        return None
    room: int | None = None
    for line in data[1] or ():
        if not isinstance(line, bytes):
            continue
        for used, limit in _STORAGE.findall(line):
            left = max(0, int(limit) - int(used)) * 1024
            room = left if room is None else min(room, left)
    return room


__all__ = [
    "APPEND_MESSAGES",
    "available_bytes",
    "import_folder",
    "personal_folder",
]
