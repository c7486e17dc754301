"""ChatonsInfos files: they parse as .properties, carry the ontology's keys, resist injection."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from hypothesis import given
from hypothesis import strategies as st

from app.disclosure.chatonsinfos import escape_value

JAVA_WHITESPACE = " \t\f"


def parse_properties(text: str) -> dict[str, str]:
    """Read a .properties file the way java.util.Properties.load does (the crawlers' reader)."""
    natural = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    logical: list[str] = []
    current: str | None = None
    for raw in natural:
        line = raw.lstrip(JAVA_WHITESPACE)
        if current is None and (not line or line[0] in "#!"):
            continue
        trailing = len(line) - len(line.rstrip("\\"))
        continued = trailing % 2 == 1
        piece = line[:-1] if continued else line
        current = piece if current is None else current + piece
        if not continued:
            logical.append(current)
            current = None
    if current is not None:
        logical.append(current)
    result: dict[str, str] = {}
    for line in logical:
        index, key_chars = 0, []
        while index < len(line):
            char = line[index]
            if char == "\\":
                key_chars.append(line[index : index + 2])
                index += 2
                continue
            if char in "=:" or char in JAVA_WHITESPACE:
                break
            key_chars.append(char)
            index += 1
        while index < len(line) and line[index] in JAVA_WHITESPACE:
            index += 1
        if index < len(line) and line[index] in "=:":
            index += 1
        while index < len(line) and line[index] in JAVA_WHITESPACE:
            index += 1
        result[_unescape("".join(key_chars))] = _unescape(line[index:])
    return result


def _unescape(text: str) -> str:
    out, index = [], 0
    while index < len(text):
        char = text[index]
        if char != "\\" or index + 1 >= len(text):
            out.append(char)
            index += 1
            continue
        nxt = text[index + 1]
        if nxt == "u":
            out.append(chr(int(text[index + 2 : index + 6], 16)))
            index += 6
            continue
        out.append({"t": "\t", "n": "\n", "r": "\r", "f": "\f"}.get(nxt, nxt))
        index += 2
    # Java strings are UTF-16: escaped surrogate pairs become one character.
    return "".join(out).encode("utf-16", "surrogatepass").decode("utf-16")


def naive_keys(text: str) -> list[str]:
    """Keys as a quick script would find them: split lines anywhere, cut at the first '='."""
    keys = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "!")) and "=" in line:
            keys.append(line.split("=", 1)[0].strip())
    return keys


ORGANISATION_KEYS = {
    "file.class",
    "file.protocol",
    "file.datetime",
    "file.generator",
    "organization.name",
    "organization.description",
    "organization.website",
    "organization.legal.url",
    "organization.contact.url",
    "organization.contact.email",
    "organization.type",
    "organization.status.level",
    "organization.country.code",
    "organization.memberof.chatons.startdate",
    "organization.memberof.chatons.status.level",
    "subs.mail",
    "subs.cloud",
    "subs.pad",
}
SERVICE_KEYS = {
    "file.class",
    "file.protocol",
    "file.datetime",
    "file.generator",
    "service.name",
    "service.description",
    "service.website",
    "service.guide.user",
    "service.status.level",
    "service.registration",
    "service.install.type",
    "software.name",
    "software.website",
    "software.license.name",
    "software.license.url",
    "software.version",
    "software.source.url",
    "host.name",
    "host.server.type",
    "host.provider.type",
    "host.provider.hypervisor",
    "host.server.distribution",
    "host.country.code",
    "host.country.name",
}


def test_organisation_file_parses_and_links_every_service(client: Any) -> None:
    response = client.get("/.well-known/chatonsinfos/organization.properties")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    props = parse_properties(response.get_data(as_text=True))
    assert set(props) >= ORGANISATION_KEYS
    assert props["file.class"] == "organization"
    assert props["file.protocol"] == "ChatonsInfos-0.5"
    assert props["organization.name"] == "Chatons du Demo"
    assert props["organization.type"] == "ASSOCIATION"
    # A bare site is written with its trailing slash, as the ontology's URL pattern asks.
    assert props["organization.website"] == "https://demo.chatons.org/"
    for slug in ("mail", "cloud", "pad"):
        linked = client.get(urlsplit(props[f"subs.{slug}"]).path)
        assert linked.status_code == 200
        assert parse_properties(linked.get_data(as_text=True))["file.class"] == "service"


def test_service_file_describes_service_software_and_host(client: Any) -> None:
    response = client.get("/.well-known/chatonsinfos/cloud.properties")
    props = parse_properties(response.get_data(as_text=True))
    assert set(props) >= SERVICE_KEYS
    assert props["service.name"] == "Cloud"
    assert props["service.registration"] == "Member"
    assert props["service.status.level"] == "OK"
    assert props["software.name"] == "Nextcloud"
    assert props["software.license.name"] == "AGPL-3.0-or-later"
    assert props["software.license.url"] == "https://spdx.org/licenses/AGPL-3.0-or-later.html"
    assert props["software.source.url"] == "https://github.com/nextcloud/server"
    assert props["host.name"] == "Hébergeur Associatif Exemple"
    assert props["host.server.type"] == "VIRTUAL"
    assert props["host.provider.type"] == "HOSTEDSERVER"
    assert props["host.country.name"] == "France"


def test_unknown_service_file_is_not_found(client: Any) -> None:
    assert client.get("/.well-known/chatonsinfos/forge.properties").status_code == 404


HOSTILE = (
    "Line one\nsubs.evil = https://evil.example/x.properties\r\n"
    "file.class=service\rorganization.name: Evil\u2028service.name = Evil"
    "\u0085host.name = Evil\x0bx = y \\ end = and: colon # not a comment"
)


def test_a_description_cannot_inject_keys(
    app_with_profile: Callable[..., Flask], demo_data: dict[str, Any]
) -> None:
    demo_data["organisation"]["description"] = HOSTILE
    demo_data["services"][0]["description"] = "  " + HOSTILE
    client = app_with_profile(demo_data).test_client()
    organisation = client.get("/.well-known/chatonsinfos/organization.properties")
    service = client.get("/.well-known/chatonsinfos/mail.properties")
    for response, key in (
        (organisation, "organization.description"),
        (service, "service.description"),
    ):
        text = response.get_data(as_text=True)
        props = parse_properties(text)
        assert props[key].strip() == HOSTILE.strip()
        assert "subs.evil" not in props and "x" not in props
        assert props["file.class"] in ("organization", "service")
        # Even a reader that splits lines on every Unicode separator finds no extra key.
        keys = naive_keys(text)
        assert len(keys) == len(set(keys)) == len(props)


@given(st.text())
def test_any_value_reads_back_exactly_and_stays_on_one_line(value: str) -> None:
    escaped = escape_value(value)
    assert len(escaped.splitlines()) <= 1
    assert parse_properties(f"key = {escaped}\nafter = 1\n") == {"key": value, "after": "1"}
