"""The hoster's self-description (`hoster.toml`): loaded once, validated, shared by every page."""

from app.hoster.profile import (
    HosterProfile,
    ProfileError,
    Service,
    current_profile,
    load_profile,
)

__all__ = ["HosterProfile", "ProfileError", "Service", "current_profile", "load_profile"]
