"""Readers turning one archive member into the items of a part (see app/connectors/importing).

Each reader takes a binary stream (a member of the ZIP on disk, read as it goes, never
whole) and yields ImportItems; a malformed item is yielded as `Malformed` so the connector
refuses it by name and goes on.

- `mbox.read_mbox(stream, folder)`: the inverse of app/connectors/imap/mbox.py's writer.
- `dav.read_calendar(stream, name)` / `dav.read_contacts(stream, name)`: one item per UID.
"""

from __future__ import annotations

from app.connectors.importing import Malformed

__all__ = ["Malformed"]
