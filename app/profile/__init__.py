"""The hoster's self-description (`hoster.toml`): loaded once, validated, shared by every page."""

from app.profile.loading import current_profile, load_profile
from app.profile.model import HosterProfile, ProfileError, Service

__all__ = ["HosterProfile", "ProfileError", "Service", "current_profile", "load_profile"]
