"""The hoster's LDAP directory: the only package that imports ldap3."""

from app.directory.client import (
    Directory,
    DirectorySettings,
    DirectoryUnavailable,
    Person,
)
from app.directory.dn import same_dn

__all__ = ["Directory", "DirectorySettings", "DirectoryUnavailable", "Person", "same_dn"]
