"""The hoster's LDAP directory: the only package that imports ldap3."""

from app.directory.client import Directory, DirectorySettings, Person
from app.directory.connections import DirectoryMisconfigured, DirectoryUnavailable
from app.directory.dn import same_dn

__all__ = [
    "Directory",
    "DirectoryMisconfigured",
    "DirectorySettings",
    "DirectoryUnavailable",
    "Person",
    "same_dn",
]
