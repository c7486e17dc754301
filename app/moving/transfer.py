"""Fetching an export straight from the old panel with a transfer code (seam).

The transfer feature replaces this module: `fetch_export` downloads the old panel's export
to `destination` (at most `max_bytes`), or raises TransferRefused with a message for the
person. Until it is merged, a transfer is refused.
"""

from __future__ import annotations

from pathlib import Path

from app.connectors.base import N_


class TransferRefused(Exception):
    """The old panel refused the code, or could not be reached; the message says which."""


def fetch_export(panel_url: str, code: str, destination: Path, *, max_bytes: int) -> None:
    raise TransferRefused(N_("Transfers from another panel are not available yet."))
