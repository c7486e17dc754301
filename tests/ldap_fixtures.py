"""Session-scoped real directories, one per layout a CHATON runs (see ldap_server.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import ldap_server as L
from helpers import missing_tool


@pytest.fixture(scope="session")
def debian_slapd() -> Iterator[L.Slapd]:
    """OpenLDAP as Debian's package configures it (cn=config, no memberof), LDAPS+StartTLS."""
    if not L.debian_slapd_available():
        missing_tool("slapd (Debian package) and openssl are needed: apt-get install slapd openssl")
    server = L.start_slapd(flavour="debian", tls=True)
    yield server
    L.cleanup(server)


@pytest.fixture(scope="session")
def yunohost_slapd() -> Iterator[L.Slapd]:
    if not L.debian_slapd_available():
        missing_tool("slapd (Debian package) is needed: apt-get install slapd")
    server = L.start_slapd(flavour="debian", layout=L.YUNOHOST)
    yield server
    L.cleanup(server)


@pytest.fixture(scope="session")
def lldap_slapd() -> Iterator[L.Slapd]:
    if not L.debian_slapd_available():
        missing_tool("slapd (Debian package) is needed: apt-get install slapd")
    server = L.start_slapd(flavour="debian", layout=L.LLDAP)
    yield server
    L.cleanup(server)


@pytest.fixture(scope="session")
def ds389() -> Iterator[Any]:
    """389 Directory Server (dscreate from-file), memberOf plugin, groupOfUniqueNames staff,
    LDAPS and StartTLS with a certificate of the fixture's own CA (`tls_files["ca"]`)."""
    import ldap_389

    if not ldap_389.available():
        missing_tool("389 Directory Server is needed: apt-get install 389-ds-base")
    server = ldap_389.start()
    yield server
    ldap_389.cleanup(server)


LAYOUTS = ("debian", "memberof", "yunohost", "lldap", "ds389")
FIXTURE_OF = {
    "debian": "debian_slapd",
    "memberof": "slapd",
    "yunohost": "yunohost_slapd",
    "lldap": "lldap_slapd",
    "ds389": "ds389",
}


@pytest.fixture(params=LAYOUTS)
def directory_server(request: pytest.FixtureRequest) -> Any:
    """Each real directory layout in turn."""
    return request.getfixturevalue(FIXTURE_OF[request.param])
