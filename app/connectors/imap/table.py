"""What the export and the import know of a folder's messages before reading them: UID,
size, arrival time and flags, from a metadata FETCH."""

from __future__ import annotations

import re
from array import array
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

_FETCH_META = re.compile(
    rb"UID (?P<uid>\d+)|RFC822\.SIZE (?P<size>\d+)|INTERNALDATE \"(?P<date>[^\"]+)\""
    rb"|FLAGS \((?P<flags>[^)]*)\)"
)
SEQUENCE = re.compile(rb"^(\d+) \(")  # imaplib's FETCH lines, without the "* "
# INTERNALDATE as servers write it (RFC 3501 date-time): read without strptime, which cost
# a third of the metadata FETCH of every folder (the export waits for it). Any other
# spelling strptime accepts goes to it.
_INTERNALDATE = re.compile(
    rb"(\d\d?| \d)-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)([0-5]\d)"
)
_MONTHS = {
    name: at
    for at, name in enumerate(b"jan feb mar apr may jun jul aug sep oct nov dec".split(), 1)
}


@dataclass(frozen=True)
class MessageInfo:
    uid: int
    size: int
    received: datetime | None


class MessageTable:
    """UID, size and arrival time of every message of a folder, in sequence order, in
    flat arrays: 24 bytes a message instead of about 500 for MessageInfo objects and the
    dictionaries to find them (a folder of 100 000 messages: 2.4 instead of 50 MB)."""

    def __init__(self, count: int) -> None:
        self.uids = array("Q", bytes(8 * count))  # 0: expunged before its line came
        self.sizes = array("Q", bytes(8 * count))
        self.stamps = array("q", bytes(8 * count))  # seconds since 1970 (UTC); -1: unknown
        # Flags: the index of the message's set among the few different sets of the folder.
        self.flag_ids = array("I", bytes(4 * count))
        self.flag_sets: list[tuple[str, ...]] = [()]
        self._flag_index: dict[tuple[str, ...], int] = {(): 0}

    def __len__(self) -> int:
        return len(self.uids) - self.uids.count(0)

    def set(
        self, sequence: int, uid: int, size: int, stamp: int, flags: tuple[str, ...] = ()
    ) -> None:
        if 1 <= sequence <= len(self.uids):
            self.uids[sequence - 1] = uid
            self.sizes[sequence - 1] = size
            self.stamps[sequence - 1] = stamp
            index = self._flag_index.get(flags)
            if index is None:
                index = self._flag_index[flags] = len(self.flag_sets)
                self.flag_sets.append(flags)
            self.flag_ids[sequence - 1] = index

    def entries(self) -> Iterator[tuple[int, int]]:
        """(uid, size) of each message, in UID order."""
        for uid, size in zip(self.uids, self.sizes, strict=True):
            if uid:
                yield uid, size

    def uid_at(self, sequence: int) -> int | None:
        if 1 <= sequence <= len(self.uids) and self.uids[sequence - 1]:
            return self.uids[sequence - 1]
        return None

    def _position(self, uid: int | None) -> int | None:
        """Where a UID is (UIDs grow with sequence numbers: a binary search)."""
        if uid is None:
            return None
        at = bisect_left(self.uids, uid)
        if at == len(self.uids) or self.uids[at] != uid:
            try:  # a message expunged meanwhile left a 0 that breaks the order
                at = self.uids.index(uid)
            except ValueError:
                return None
        return at

    def received(self, uid: int | None) -> datetime | None:
        """Arrival time of a message."""
        at = self._position(uid)
        if at is None:
            return None
        stamp = self.stamps[at]
        return datetime.fromtimestamp(stamp, UTC) if stamp >= 0 else None

    def flags(self, uid: int | None) -> tuple[str, ...]:
        """A message's flags (\\Recent left out: no one can set it back)."""
        at = self._position(uid)
        return () if at is None else self.flag_sets[self.flag_ids[at]]

    def newest(self) -> datetime | None:
        stamp = max(self.stamps, default=-1)
        return datetime.fromtimestamp(stamp, UTC) if stamp >= 0 else None


def meta_of(line: bytes) -> tuple[int | None, int | None, datetime | None, tuple[str, ...]]:
    """(uid, size, arrival time, flags) of a metadata FETCH line, None or () when absent."""
    uid = size = None
    received = None
    flags: tuple[str, ...] = ()
    for match in _FETCH_META.finditer(line):
        if match["uid"]:
            uid = int(match["uid"])
        elif match["size"]:
            size = int(match["size"])
        elif match["date"]:
            received = internaldate(match["date"])
        elif match["flags"] is not None:
            flags = flag_list(match["flags"])
    return uid, size, received, flags


def internaldate(raw: bytes) -> datetime | None:
    """An INTERNALDATE (`14-Nov-2023 22:13:20 +0100`) in UTC; None when it is not one."""
    found = _INTERNALDATE.fullmatch(raw)
    month = _MONTHS.get(found[2].lower()) if found is not None else None
    try:
        if found is None or month is None:
            return datetime.strptime(raw.decode(), "%d-%b-%Y %H:%M:%S %z").astimezone(UTC)
        offset = timedelta(hours=int(found[8]), minutes=int(found[9]))
        zone = timezone(-offset if found[7] == b"-" else offset)
        day, year, hour, minute, second = (int(found[at]) for at in (1, 3, 4, 5, 6))
        return datetime(year, month, day, hour, minute, second, tzinfo=zone).astimezone(UTC)
    except ValueError:
        return None


def flag_list(raw: bytes) -> tuple[str, ...]:
    """`\\Seen $Label1 \\Recent` -> ("$Label1", "\\Seen"): sorted, without \\Recent."""
    words = raw.decode("utf-8", "replace").split()
    return tuple(sorted(w for w in words if w.lower() != "\\recent"))
