"""The JSON Schema of hoster.toml, generated from the profile's dataclasses.

Editors (Taplo / "Even Better TOML", JetBrains, VS Code) use it to complete and check the
file. It is built from the same classes the loader fills, with the TOML details each
field's `metadata` gives (see `_toml` in model.py), so a field added to the code is in
the schema at once; tests check that the committed docs/hoster.schema.json is up to date.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from datetime import date
from typing import Any

from app.hoster import model
from app.hoster.texts import TEXT_LANGUAGES, LocalizedText

SCHEMA_ID = "https://chatons-panel.example/hoster.schema.json"

_FORMATS: dict[str, dict[str, Any]] = {
    "uri": {"type": "string", "format": "uri", "pattern": "^https?://[^\\s]+$"},
    "email": {"type": "string", "format": "email"},
    "contact": {
        "type": "string",
        "description": "A web address (https://…) or an e-mail address.",
    },
    "country": {"type": "string", "pattern": "^[A-Za-z]{2}$"},
    "slug": {"type": "string", "pattern": model.SLUG.pattern},
    "licence": {"type": "string", "minLength": 1},
    "timezone": {"type": "string", "examples": ["Europe/Paris", "Europe/Brussels"]},
    "text_or_number": {"type": ["string", "number"]},
    "uri_map": {
        "type": "object",
        "propertyNames": {"pattern": "^[a-z0-9][a-z0-9_-]{0,39}$"},
        "additionalProperties": {
            "type": "string",
            "format": "uri",
            "pattern": "^https?://[^\\s]+$",
        },
    },
}


def _text_definition() -> dict[str, Any]:
    languages = {
        language: {"type": "string", "description": f"The text in {name}."}
        for language, name in zip(TEXT_LANGUAGES, ("French", "English"), strict=True)
    }
    return {
        "description": (
            "A text people read: one string, or one per language "
            '{ fr = "…", en = "…" }. Readers get their language, else French.'
        ),
        "anyOf": [
            {"type": "string"},
            {
                "type": "object",
                "properties": languages,
                "additionalProperties": False,
                "minProperties": 1,
            },
        ],
    }


def _strip_optional(annotation: Any) -> Any:
    """`X | None` → X."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        remaining = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(remaining) == 1:
            return remaining[0]
    return annotation


def _value_schema(annotation: Any, meta: dict[str, Any], definitions: dict[str, Any]) -> Any:
    annotation = _strip_optional(annotation)
    if meta.get("format"):
        value = dict(_FORMATS[meta["format"]])
    elif meta.get("choices"):
        # Codes are matched without regard to case, like the loader does.
        value = {
            "type": "string",
            "enum": list(meta["choices"]),
            "description": "One of: " + ", ".join(meta["choices"]) + ".",
        }
    elif annotation is LocalizedText:
        value = {"$ref": "#/$defs/text"}
    elif annotation is str:
        value = {"type": "string"}
    elif annotation is bool:
        value = {"type": "boolean"}
    elif annotation is int:
        value = {"type": "integer"}
    elif annotation is float:
        value = {"type": "number"}
    elif annotation is date:
        # TOML dates (2024-05-31) reach validators as ISO strings; quoted ones are accepted.
        value = {"type": "string", "format": "date"}
    elif typing.get_origin(annotation) is tuple:
        item = typing.get_args(annotation)[0]
        value = {"type": "array", "items": _value_schema(item, {}, definitions)}
    elif typing.get_origin(annotation) is dict:
        value = {"type": "object", "required": ["type"], "properties": {"type": {"type": "string"}}}
    elif isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        name = annotation.__name__
        if name not in definitions:
            definitions[name] = {}  # placeholder against recursion
            definitions[name] = _table_schema(annotation, definitions)
        value = {"$ref": f"#/$defs/{name}"}
    else:  # pragma: no cover - a new field type must be taught to the schema
        raise TypeError(f"no JSON Schema for {annotation!r}")
    if meta.get("doc"):
        value = {**value, "description": meta["doc"]} if "$ref" not in value else value
    return value


def _table_schema(cls: type, definitions: dict[str, Any]) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for item in dataclasses.fields(cls):
        meta = dict(item.metadata)
        if meta.get("skip"):
            continue
        key = meta.get("key") or item.name
        value = _value_schema(hints[item.name], meta, definitions)
        if "$ref" in value and meta.get("doc"):
            value = {"allOf": [value], "description": meta["doc"]}
        properties[key] = value
        has_default = (
            item.default is not dataclasses.MISSING
            or item.default_factory is not dataclasses.MISSING
        )
        is_required = meta["required"] if meta.get("required") is not None else not has_default
        if is_required:
            required.append(key)
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if cls.__doc__ and not cls.__doc__.startswith(cls.__name__ + "("):
        schema["description"] = cls.__doc__.strip().splitlines()[0]
    if required:
        schema["required"] = required
    return schema


def hoster_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of hoster.toml."""
    definitions: dict[str, Any] = {"text": _text_definition()}
    root = _table_schema(model.HosterProfile, definitions)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "hoster.toml of chatons-panel",
        "description": (
            "How a CHATON describes itself once: organisation, hosts, services, policies, "
            "offer and reports. Generated by `flask hoster schema`; do not edit by hand."
        ),
        **root,
        "$defs": dict(sorted(definitions.items())),
    }


def schema_json() -> str:
    return json.dumps(hoster_schema(), indent=2, ensure_ascii=False) + "\n"
