"""hoster.toml's data read into the model; the first mistake becomes a message naming its key."""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from app.profile.model import HosterProfile, ProfileError
from app.profile.texts import FALLBACK_LANGUAGE, TEXT_LANGUAGES


def missing_key(path: str, key: str, data: Mapping[str, Any], example: str = "") -> ProfileError:
    """The error for a required key left out, naming a key nearby that is probably it misspelt."""
    message = f"{path} is missing: add it to hoster.toml"
    message += f", e.g. {key} = {example}." if example else "."
    close = difflib.get_close_matches(key, list(data), n=1, cutoff=0.8)
    if close:
        message += f" ({close[0]!r} looks like a misspelling of it.)"
    return ProfileError(message)


def parse_profile(data: dict[str, Any], *, updated_at: datetime | None = None) -> HosterProfile:
    # Texts written as a plain string are in the file's language: the text fields read it here.
    language = data.get("language")
    folded = {code.casefold(): code for code in TEXT_LANGUAGES}
    context = {
        "language": folded.get(language.strip().casefold(), FALLBACK_LANGUAGE)
        if isinstance(language, str)
        else FALLBACK_LANGUAGE
    }
    try:
        profile = HosterProfile.model_validate(data, context=context)
    except ValidationError as exc:
        raise _profile_error(exc.errors()[0]) from None
    return profile.loaded_from(data, updated_at)


def key_name(loc: tuple[int | str, ...]) -> str:
    """A pydantic location as hoster.toml writes it: ("services", 0, "url") → services[0].url"""
    name = ""
    for part in loc:
        name += f"[{part}]" if isinstance(part, int) else f".{part}" if name else part
    return name


def _profile_error(error: ErrorDetails) -> ProfileError:
    loc = error["loc"]
    path = key_name(loc)
    kind = error["type"]
    if kind == "hoster":
        return ProfileError(path + error["msg"])
    if kind == "missing":
        return missing_key(path, str(loc[-1]), error["input"])
    if kind == "extra_forbidden":
        known = sorted(_table_at(loc[:-1]).model_fields)
        close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.8)
        return ProfileError(f"{path} is not a known key: did you mean {close[0]!r}?")
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return ProfileError(f"{path} must be a table (a [section] or {{ key = value }}).")
    if kind in ("tuple_type", "list_type"):
        return ProfileError(f"{path} must be a list of tables ([[{loc[-1]}]] sections).")
    return ProfileError(f"{path}: {error['msg']}")  # pragma: no cover - a kind not worded yet


def _table_at(loc: tuple[int | str, ...]) -> type[BaseModel]:
    """The model class of the table at `loc`, e.g. Host for ("hosts", 0)."""
    table: type[BaseModel] = HosterProfile
    for part in loc:
        if isinstance(part, str):
            table = _model_in(table.model_fields[part].annotation) or table
    return table


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is not None:
        for argument in typing.get_args(annotation):
            found = _model_in(argument)
            if found is not None:
                return found
    return None
