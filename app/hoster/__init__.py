"""The hoster's self-description (`hoster.toml`): loaded once, validated, shared by every page."""

from app.hoster.model import HosterProfile, ProfileError, Service
from app.hoster.profile import current_profile, load_profile

__all__ = ["HosterProfile", "ProfileError", "Service", "current_profile", "load_profile"]
