"""Which IMAP folders are the person's: namespaces (RFC 2342), server kinds, kept notes.

A person signed in to Dovecot with the ACL plugin or to Cyrus sees, besides her own
folders, those others shared with her (`Other Users/alice/…`, `shared/alice/…`) and the
team's (`Shared Folders/…`, `Public/…`), often with every right. Principle 7: only her
personal namespace is hers. `Namespaces.kind_of` decides it for every folder the server
lists; the inventory, the export, the deletion plan and the deletion itself all ask it,
so they can never disagree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.connectors.base import N_

PERSONAL = "personal"
OTHER_USERS = "other"
SHARED = "shared"

# Where a server does not answer NAMESPACE: the roots hosters' servers use for what is
# not the person's (Cyrus with and without altnamespace, Dovecot's usual prefixes,
# Courier and UW's #-names). Compared without case: leaving out a personal folder that
# happens to bear one of these names is the safe mistake.
FALLBACK_OTHER_USERS = ("Other Users", "shared", "user", "#user", "#users")
FALLBACK_SHARED = ("Shared Folders", "Public", "#shared", "#public", "#news", "#ftp")


@dataclass(frozen=True)
class Prefix:
    """One namespace: its prefix as the server spells it, and its hierarchy delimiter."""

    kind: str  # PERSONAL, OTHER_USERS or SHARED
    prefix: str
    delimiter: str | None

    def root(self) -> str:
        """The prefix without its trailing delimiter ("Other Users/" -> "Other Users")."""
        if self.delimiter and self.prefix.endswith(self.delimiter):
            return self.prefix[: -len(self.delimiter)]
        return self.prefix


@dataclass(frozen=True)
class Namespaces:
    prefixes: tuple[Prefix, ...]
    announced: bool  # the server's NAMESPACE answer; False: the usual prefixes assumed

    @classmethod
    def fallback(cls) -> Namespaces:
        return cls(
            (
                Prefix(PERSONAL, "", None),
                *(Prefix(OTHER_USERS, root, None) for root in FALLBACK_OTHER_USERS),
                *(Prefix(SHARED, root, None) for root in FALLBACK_SHARED),
            ),
            announced=False,
        )

    def kind_of(self, name: str, delimiter: str | None) -> str | None:
        """PERSONAL, OTHER_USERS or SHARED for a folder name as LIST gives it; None when
        no namespace holds it (never the person's then)."""
        if name.upper() == "INBOX":
            return PERSONAL if any(p.kind == PERSONAL for p in self.prefixes) else None
        best: Prefix | None = None
        best_length = -1
        for prefix in self.prefixes:
            root = prefix.root()
            if not root:
                length = 0  # "" holds everything: the weakest match
            elif self._under(name, root, prefix.delimiter or delimiter):
                length = len(root)
            else:
                continue
            if length > best_length:
                best, best_length = prefix, length
        return best.kind if best else None

    def _under(self, name: str, root: str, delimiter: str | None) -> bool:
        """`name` is the namespace's root itself or a folder below it."""
        fold = not self.announced or root.upper().startswith("INBOX")
        if fold:
            name, root = name.casefold(), root.casefold()
        if name == root:
            return True
        return bool(delimiter) and name.startswith(root + (delimiter or ""))

    def owner_of(self, name: str, delimiter: str | None) -> str | None:
        """For a folder under another person's namespace, that person's name
        ("Other Users/alice/Projet" -> "alice")."""
        for prefix in self.prefixes:
            root = prefix.root()
            sep = prefix.delimiter or delimiter
            if prefix.kind != OTHER_USERS or not root or not sep:
                continue
            if self._under(name, root, sep) and name != root:
                rest = name[len(root) + len(sep) :]
                return rest.split(sep, 1)[0] or None
        return None


_TOKEN = re.compile(r'\s*(\(|\)|NIL|"(?:[^"\\]|\\.)*"|[^\s()"]+)', re.I)


def _tokens(text: str) -> list[str]:
    found: list[str] = []
    at = 0
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None:
            break
        found.append(match[1])
        at = match.end()
    return found


def _parse(words: list[str], at: int) -> tuple[object, int]:
    """One value: NIL, a string, or a parenthesised list of values."""
    word = words[at]
    if word == "(":
        items: list[object] = []
        at += 1
        while at < len(words) and words[at] != ")":
            item, at = _parse(words, at)
            items.append(item)
        return items, at + 1
    if word.upper() == "NIL":
        return None, at + 1
    if word.startswith('"'):
        return re.sub(r"\\(.)", r"\1", word[1:-1]), at + 1
    return word, at + 1


def parse_namespace(text: str) -> Namespaces:
    """The three lists of a NAMESPACE answer (`(("" "/")) (("Other Users/" "/")) NIL`)."""
    tokens = _tokens(text)
    groups: list[object] = []
    at = 0
    try:
        while at < len(tokens) and len(groups) < 3:
            value, at = _parse(tokens, at)
            groups.append(value)
    except IndexError:
        return Namespaces.fallback()
    if len(groups) != 3:
        return Namespaces.fallback()
    prefixes: list[Prefix] = []
    for kind, group in zip((PERSONAL, OTHER_USERS, SHARED), groups, strict=True):
        if not isinstance(group, list):
            continue
        for entry in group:
            if isinstance(entry, list) and len(entry) >= 2 and isinstance(entry[0], str):
                delimiter = entry[1] if isinstance(entry[1], str) else None
                prefixes.append(Prefix(kind, entry[0], delimiter))
    return Namespaces(tuple(prefixes), announced=True)


# Server kinds --------------------------------------------------------------------------------

CYRUS = "cyrus"
DOVECOT = "dovecot"
UNKNOWN = "unknown"


def server_kind(greeting: str, identity: str, capabilities: tuple[str, ...]) -> str:
    """Cyrus, Dovecot or unknown, from the greeting, the ID answer (RFC 2971), and last
    from capabilities only one of them announces."""
    for text in (identity, greeting):
        lowered = text.lower()
        if "cyrus" in lowered:
            return CYRUS
        if "dovecot" in lowered:
            return DOVECOT
    caps = {c.upper() for c in capabilities}
    if "X-REPLICATION" in caps or "ANNOTATE-EXPERIMENT-1" in caps:
        return CYRUS
    if "I18NLEVEL=1" in caps or "CONTEXT=SEARCH" in caps:
        return DOVECOT
    return UNKNOWN


# What the server keeps after a deletion, per kind: recorded in English, read in the
# reader's language (app/deletion/outcomes.py). KEPT_MAILBOX (Dovecot's) is in connector.py.
KEPT_CYRUS = N_(
    "Cyrus keeps deleted folders and expunged messages for a while (delayed delete and "
    "delayed expunge) until `cyr_expire` runs on the server, for example "
    "`cyr_expire -E 1 -X 0 -D 0`. The empty INBOX (`%(mailbox)s`) stays until an "
    "administrator deletes that mailbox there."
)
KEPT_DOVECOT_LAZY = N_(
    "Where Dovecot's lazy_expunge plugin is on, expunged messages stay in its "
    "lazy-expunge folder until `doveadm purge -u %(login)s` or its own expiry."
)
KEPT_OTHER_SERVER = N_(
    "The empty INBOX and the mailbox itself stay on the mail server until the account "
    "is removed there; the server may also keep expunged messages for a while."
)
KEPT_SHARED_BY_OTHERS = N_(
    "%(count)s folders that others share with this person stay theirs: they were not touched."
)
SHARED_WITH_YOU_BY = N_("shared with this person by %(owner)s: it stays theirs")
SHARED_FOLDER = N_("a shared or public folder (%(namespace)s): it stays the team's")
OUTSIDE_NAMESPACES = N_("outside the personal namespace: not the person's")
NOTE_CYRUS = N_(
    "Cyrus IMAP: deleted folders and expunged messages stay until `cyr_expire` runs "
    "(delayed delete and delayed expunge)."
)
NOTE_DOVECOT = N_(
    "Dovecot: with the lazy_expunge plugin, expunged messages stay until "
    "`doveadm purge`; the empty INBOX and the user's directory stay until removed there."
)
NOTE_OTHER = N_("Unknown IMAP server: it may keep deleted messages for a while.")
NOTE_NO_NAMESPACE = N_(
    "The server does not announce its namespaces (NAMESPACE): folders under the usual "
    "other-users and shared names are left alone."
)
OUTCOMES = (
    KEPT_CYRUS,
    KEPT_DOVECOT_LAZY,
    KEPT_OTHER_SERVER,
    KEPT_SHARED_BY_OTHERS,
    SHARED_WITH_YOU_BY,
    SHARED_FOLDER,
    OUTSIDE_NAMESPACES,
    NOTE_CYRUS,
    NOTE_DOVECOT,
    NOTE_OTHER,
    NOTE_NO_NAMESPACE,
)
