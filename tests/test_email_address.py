"""One e-mail check for the subscription form, hoster.toml and the ChatonsInfos checker."""

from __future__ import annotations

import pytest

from app.email_address import is_email_address


@pytest.mark.parametrize(
    "address",
    ["lea@example.org", "contact@demo.chatons.org", "o'neil@example.net", "é@exämple.org"],
)
def test_an_address_people_use_is_accepted(address: str) -> None:
    assert is_email_address(address)


@pytest.mark.parametrize(
    "address",
    [
        "",
        "not an address",
        "contact at demo",
        "lea@example",  # no dot in the domain
        "lea@@example.org",
        "lea@example.org.",
        "Léa <lea@example.org>",
        "lea@example.org, tom@example.org",
        "lea@example.org\nBcc: tom@example.org",
    ],
)
def test_what_is_not_one_address_is_refused(address: str) -> None:
    assert not is_email_address(address)
