"""The published manifest format: the real export's manifest validates against its schema."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
from moving.moving_support import make_export_zip

SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "export-manifest.schema.json"


def test_the_exports_manifest_follows_the_published_schema(
    signed_in: Any, write_file: Any, tmp_path: Path
) -> None:
    write_file("alice", "Documents/a.txt", b"a\n")
    archive = make_export_zip(signed_in("alice"), tmp_path / "export.zip")
    with zipfile.ZipFile(archive) as opened:
        manifest = json.loads(opened.read("manifest.json"))
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(manifest, schema, cls=jsonschema.Draft202012Validator)
    assert {s["service"]: s["connector"] for s in manifest["services"]} == {
        "panel": "panel",
        "directory": "directory",
        "cloud": "files",
    }


def test_the_schema_refuses_what_the_import_refuses() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    good = {"path": "services/cloud/a.txt", "size": 1, "sha256": "0" * 64}
    assert validator.is_valid({"manifest_version": 1, "files": [good]})
    for bad in (
        {"manifest_version": 2, "files": [good]},
        {"files": [good]},
        {"manifest_version": 1, "files": [{**good, "path": "../x"}]},
        {"manifest_version": 1, "files": [{**good, "path": "/etc/passwd"}]},
        {"manifest_version": 1, "files": [{**good, "sha256": "xyz"}]},
    ):
        assert not validator.is_valid(bad), bad
