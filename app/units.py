"""Quantities as people read them, in their language: sizes of files, mailboxes and limits."""

from __future__ import annotations

from flask_babel import format_decimal, gettext

KIB = 1024


def byte_size(size: int) -> str:
    """A byte count as people read it: "850 bytes", "12.5 KB", "5 MB", "1.2 GB" (localised).

    Binary multiples (1 KB = 1,024 bytes), one decimal at most, written the reader's way
    (12,5 Ko in French): the same figure wherever the panel shows a size.
    """
    if size < KIB:
        return gettext("%(num)s bytes", num=size)
    if size < KIB**2:
        return gettext("%(num)s KB", num=format_decimal(round(size / KIB, 1)))
    if size < KIB**3:
        return gettext("%(num)s MB", num=format_decimal(round(size / KIB**2, 1)))
    return gettext("%(num)s GB", num=format_decimal(round(size / KIB**3, 1)))
