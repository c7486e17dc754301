"""Which folders are the person's, for the namespaces servers announce and for none."""

from __future__ import annotations

import pytest

from app.connectors.imap.namespaces import (
    CYRUS,
    DOVECOT,
    OTHER_USERS,
    PERSONAL,
    SHARED,
    UNKNOWN,
    Namespaces,
    parse_namespace,
    server_kind,
)

CYRUS_ALT = '(("" "/")) (("Other Users/" "/")) (("Shared Folders/" "/"))'
CYRUS_CLASSIC = '(("INBOX." ".")) (("user." ".")) (("" "."))'
DOVECOT_SHARED = '(("" "/")) (("shared/" "/")) (("Public/" "/"))'


@pytest.mark.parametrize(
    ("answer", "name", "delimiter", "kind"),
    [
        (CYRUS_ALT, "INBOX", "/", PERSONAL),
        (CYRUS_ALT, "Archives/2024", "/", PERSONAL),
        (CYRUS_ALT, "Other Users/alice/Projet", "/", OTHER_USERS),
        (CYRUS_ALT, "Other Users", "/", OTHER_USERS),
        (CYRUS_ALT, "Shared Folders/equipe", "/", SHARED),
        (CYRUS_ALT, "Other Usersx", "/", PERSONAL),  # a name that only starts the same
        (CYRUS_CLASSIC, "INBOX", ".", PERSONAL),
        (CYRUS_CLASSIC, "INBOX.Sent", ".", PERSONAL),
        (CYRUS_CLASSIC, "user.alice.Projet", ".", OTHER_USERS),
        (CYRUS_CLASSIC, "equipe", ".", SHARED),  # the shared namespace is "" here
        (DOVECOT_SHARED, "shared/alice/Projet", "/", OTHER_USERS),
        (DOVECOT_SHARED, "shared", "/", OTHER_USERS),
        (DOVECOT_SHARED, "Public/equipe", "/", SHARED),
        (DOVECOT_SHARED, "Envoy&AOk-s", "/", PERSONAL),
        ('(("" "/")) NIL NIL', "Public/equipe", "/", PERSONAL),  # announced: hers
    ],
)
def test_each_folder_falls_in_the_namespace_with_the_longest_prefix(
    answer: str, name: str, delimiter: str, kind: str
) -> None:
    spaces = parse_namespace(answer)
    assert spaces.announced
    assert spaces.kind_of(name, delimiter) == kind


def test_without_namespace_the_usual_other_users_and_shared_roots_are_left_out() -> None:
    spaces = Namespaces.fallback()
    assert not spaces.announced
    assert spaces.kind_of("INBOX", "/") == PERSONAL
    assert spaces.kind_of("Archives", "/") == PERSONAL
    for foreign in (
        "Other Users/alice/x",
        "shared/alice/x",
        "Shared Folders/equipe",
        "public/equipe",
        "user.alice.x",
        "#shared.equipe",
    ):
        delimiter = "." if "." in foreign else "/"
        assert spaces.kind_of(foreign, delimiter) != PERSONAL, foreign
    assert spaces.owner_of("Other Users/alice/x", "/") == "alice"
    assert spaces.owner_of("user.alice.x", ".") == "alice"


def test_a_broken_namespace_answer_falls_back_to_the_safe_prefixes() -> None:
    assert not parse_namespace("((").announced
    assert not parse_namespace("").announced


def test_owners_are_read_from_the_other_users_namespace() -> None:
    spaces = parse_namespace(CYRUS_ALT)
    assert spaces.owner_of("Other Users/alice/Projet commun", "/") == "alice"
    assert spaces.owner_of("Shared Folders/equipe", "/") is None
    assert parse_namespace(CYRUS_CLASSIC).owner_of("user.zoe.Sent", ".") == "zoe"


@pytest.mark.parametrize(
    ("greeting", "identity", "caps", "kind"),
    [
        ("* OK cyrus-test Cyrus IMAP 3.6.1-Debian server ready", "", (), CYRUS),
        ("* OK Dovecot (Debian) ready.", "", (), DOVECOT),
        ("* OK ready", '"name" "Cyrus IMAPD"', (), CYRUS),
        ("* OK ready", '"name" "Dovecot"', (), DOVECOT),
        ("* OK ready", "", ("IMAP4REV1", "X-REPLICATION"), CYRUS),
        ("* OK ready", "", ("IMAP4REV1",), UNKNOWN),
    ],
)
def test_the_server_kind_comes_from_greeting_id_or_capabilities(
    greeting: str, identity: str, caps: tuple[str, ...], kind: str
) -> None:
    assert server_kind(greeting, identity, caps) == kind
