"""The `imap` connector, and the panel's only IMAP client (mail in Dovecot, Cyrus, …).

The panel signs in *as the person* through the server's master/proxy authentication:
SASL PLAIN with an authorisation identity (RFC 4616) — the person's login as authzid, the
panel's admin user and its password as credentials — which Dovecot master users and
Cyrus admins accept; the person's password is never needed.

Only the person's personal namespace (RFC 2342) is hers (namespaces.py): the inventory,
the export, the deletion plan and the deletion all read the same split of the folders the
server lists, so folders others share with her are never exported nor touched.

Export writes each of her folders as `services/<slug>/<Folder>.mbox` (mboxrd, RFC 4155):
names decoded from modified UTF-7 (RFC 3501 §5.1.3) and made safe as paths (names.py),
messages fetched in batches of bounded size and written while they arrive (mbox.py).
Delete expunges her messages and removes her folders but INBOX; what the server keeps is
reported as `kept`, per server kind (Cyrus's delayed delete, Dovecot's lazy_expunge).

Package layout: client.py (ImapClient), fetching.py (reading messages), table.py (a
folder's message metadata), errors.py, names.py, mbox.py, namespaces.py, connector.py,
append.py (the import).

`ImapClient` is reusable by other features (the support mailbox): connect as a person or
as the admin user, list folders, fetch messages, move and expunge.
"""

from app.connectors.imap.client import DEFAULT_TIMEOUT, Folder, ImapClient, ImapSettings
from app.connectors.imap.connector import OUTCOMES, ImapConnector, Mailbox, build
from app.connectors.imap.errors import ImapError
from app.connectors.imap.fetching import (
    BATCH_BYTES,
    STREAM_BATCH_BYTES,
    FetchedMessage,
    StreamedMessage,
)
from app.connectors.imap.mbox import MboxrdBuffer, mbox_from_line, mboxrd_message, quote_from_lines
from app.connectors.imap.names import (
    decode_mailbox_name,
    encode_mailbox_name,
    folder_path,
    path_component,
    quote_mailbox,
)
from app.connectors.imap.table import MessageInfo, MessageTable

__all__ = [
    "BATCH_BYTES",
    "DEFAULT_TIMEOUT",
    "OUTCOMES",
    "STREAM_BATCH_BYTES",
    "FetchedMessage",
    "Folder",
    "ImapClient",
    "ImapConnector",
    "ImapError",
    "ImapSettings",
    "Mailbox",
    "MboxrdBuffer",
    "MessageInfo",
    "MessageTable",
    "StreamedMessage",
    "build",
    "decode_mailbox_name",
    "encode_mailbox_name",
    "folder_path",
    "mbox_from_line",
    "mboxrd_message",
    "path_component",
    "quote_from_lines",
    "quote_mailbox",
]
