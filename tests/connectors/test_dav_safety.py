"""What the `dav` connector refuses: addresses that leave the person's, secrets in messages.

Issue 19: with `login = "{email}"`, a `mail` value such as `x/../bob` made alice's export
ask Radicale for bob's principal with the service account (and her deletion would have
deleted bob's calendars).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from connectors.conftest import build, collect

import connector_servers as servers
from app.connectors import dav
from app.connectors.base import ConnectorError
from app.connectors.dav.holdings import is_own
from app.connectors.dav.protocol import (
    Resource,
    fill_template,
    offered_schemes,
    person_value,
    scrub,
    server_answer,
    sibling,
)
from app.directory import Person
from app.profile.model import ProfileError


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    path = tmp_path / "dav.secret"
    path.write_text(servers.ADMIN_PASSWORD + "\n")
    return path


def with_mail(mail: str) -> Person:
    return Person(uid="alice", dn="uid=alice,ou=people,dc=example,dc=org",
                  display_name="Alice", email=mail, language="en")  # fmt: skip


@pytest.mark.parametrize("mail", ["x/../bob", "x/..%2Fbob", "..", "x\\..\\bob", "bob/"])
def test_a_mail_value_climbing_to_bob_is_refused_and_bob_is_untouched(
    radicale: servers.Process, password_file: Path, mail: str
) -> None:
    servers.seed_radicale(radicale, "bob")
    before = {p: servers.dav_items(radicale, "bob", p) for p in ("/bob/work/", "/bob/contacts/")}
    agenda = build(dav, "agenda", {"url": radicale.url + "/", "login": "{email}",
                                   "admin_user": servers.ADMIN_USER,
                                   "password_file": str(password_file)})  # fmt: skip
    with pytest.raises(ConnectorError, match="cannot be used in a DAV address"):
        collect(agenda.export(with_mail(mail)))
    result = agenda.delete(with_mail(mail))
    assert not result.ok and "cannot be used in a DAV address" in result.detail
    after = {p: servers.dav_items(radicale, "bob", p) for p in ("/bob/work/", "/bob/contacts/")}
    assert after == before and all(after.values())


def test_a_principal_template_gets_the_login_as_one_encoded_segment() -> None:
    base = "https://dav.example.org/dav/"
    assert fill_template(base, "principals/{login}/", "alice@example.org") == (
        "https://dav.example.org/dav/principals/alice%40example.org/"
    )
    assert fill_template(base, "/{login}/", "a b?#") == "https://dav.example.org/a%20b%3F%23/"
    assert sibling("https://h/principals/users/panel/", "alice") == (
        "https://h/principals/users/alice/"
    )
    for value in ("..", "a/b", "a\\b", "a\nb", "", "x/../bob"):
        with pytest.raises(ConnectorError):
            person_value(value)


def test_the_scheme_comes_from_every_challenge_the_server_sends() -> None:
    assert offered_schemes(
        'Digest realm="x", nonce="n", qop="auth, auth-int", Basic realm="x"'
    ) == [
        "digest",
        "basic",
    ]
    assert offered_schemes('Basic realm="Radicale - Password Required"') == ["basic"]
    assert offered_schemes(None) == []


def test_server_text_in_a_failure_holds_no_secret_and_no_url_password() -> None:
    response = requests.Response()
    response.status_code = 500
    response.reason = "Internal Server Error"
    response._content = (
        b'<?xml version="1.0"?><d:error xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns">'
        b"<s:message>cannot bind with panel-secret-4d1a at https://panel:hunter2@db.example/"
        b"</s:message></d:error>"
    )
    answer = server_answer(response, ("panel-secret-4d1a",))
    assert answer.startswith("HTTP 500 Internal Server Error: cannot bind with *** at https://")
    assert "panel-secret-4d1a" not in answer and "hunter2" not in answer
    assert scrub("see http://u:p@h/x\nand\x1b[31m") == "see http://h/x and [31m"


def test_auth_accepts_basic_or_digest_only() -> None:
    options = {"url": "https://x", "admin_user": "p", "password_env": "HOME"}
    assert build(dav, "agenda", {**options, "auth": "digest"}).session.forced == "digest"
    with pytest.raises(ProfileError, match=r"connector\.auth: 'ntlm' is not known"):
        build(dav, "agenda", {**options, "auth": "ntlm"})


def test_ownership_follows_dav_owner_nextcloud_owner_and_the_shared_type() -> None:
    calendar = frozenset({"{DAV:}collection", "{urn:ietf:params:xml:ns:caldav}calendar"})
    principal = "https://cloud.example.org/remote.php/dav/principals/users/alice/"

    def own(owner: str | None, kinds: frozenset[str] = calendar) -> bool:
        resource = Resource("https://cloud.example.org/x/", kinds, owner=owner)
        return is_own(resource, principal, "alice")

    assert own(None)  # in her home, no owner given: hers
    assert own("/remote.php/dav/principals/users/alice/")
    assert not own("/remote.php/dav/principals/users/bob/")  # DAV:owner href
    assert not own("principals/users/bob")  # Nextcloud's oc:owner-principal
    assert own("principals/users/alice")
    assert not own(None, calendar | {"{http://calendarserver.org/ns/}shared"})
    # Files carry Nextcloud's owner-id, a login.
    assert is_own(Resource("u", frozenset(), owner="alice"), None, "alice")
    assert not is_own(Resource("u", frozenset(), owner="bob"), None, "alice")
