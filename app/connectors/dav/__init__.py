"""The `dav` connector: calendars (CalDAV), address books (CardDAV) and files (WebDAV).

Discovery follows RFC 6764 and RFC 4791/6352: the principal of the person (the
service account's own `current-user-principal` with its last segment replaced by the
person's login, or the `principal` template), then its `calendar-home-set` and
`addressbook-home-set`, then a Depth 1 PROPFIND of each home for the collections. Only the
collections that are hers count (holdings.py); those shared with her stay their owners'.

Export writes one iCalendar file per calendar (every object of a REPORT calendar-query
merged into one VCALENDAR, each time zone once) and one vCard file per address book,
parsed while the server's answer arrives. A server or collection that refuses those
REPORTs (405, 501), or a table with `report = false`, is read member by member instead.
With `files = true`, the WebDAV tree under `files_path` as files with their names and
modification times, empty folders included. Delete removes every collection and file of
hers, then the emptied homes the server lets go (connector.py).

The package: protocol.py (requests, Basic/Digest, PROPFIND, safe paths), holdings.py (what
is the person's), calendar.py (iCalendar and vCard), connector.py (the connector),
importing.py (moving house: calendars, address books and files written in).
The service account's password is sent to the configured server only (never to a redirect
elsewhere) and never appears in a message.
"""

from app.connectors.dav import protocol
from app.connectors.dav.calendar import CalendarMerger, _fold, vcards
from app.connectors.dav.connector import OUTCOMES as _CONNECTOR_OUTCOMES
from app.connectors.dav.connector import DavConnector, build
from app.connectors.dav.importing import OUTCOMES as _IMPORT_OUTCOMES

OUTCOMES = (*_CONNECTOR_OUTCOMES, *protocol.OUTCOMES, *_IMPORT_OUTCOMES)

__all__ = ["OUTCOMES", "CalendarMerger", "DavConnector", "_fold", "build", "vcards"]
