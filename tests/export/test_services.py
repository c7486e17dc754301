"""Export services without HTTP: the archive's file name and its header."""

from __future__ import annotations

from datetime import date

from werkzeug.http import parse_options_header

from app.export.services import archive_name, content_disposition


def test_archive_name_is_hoster_login_and_day() -> None:
    name = archive_name("Les Chatons d'Été", "zoé", date(2024, 3, 1))
    assert name == "les-chatons-d-ete-zoé-2024-03-01.zip"
    assert archive_name("→ ← ", "bob", date(2024, 3, 1)) == "export-bob-2024-03-01.zip"


def test_content_disposition_gives_an_ascii_fallback_and_the_exact_utf8_name() -> None:
    header = content_disposition('chatons-zoé"; evil=1-2024-03-01.zip')
    kind, options = parse_options_header(header)
    assert kind == "attachment"
    assert options["filename"] == 'chatons-zoé"; evil=1-2024-03-01.zip'  # from filename*
    assert 'filename="chatons-zo____evil=1-2024-03-01.zip"' in header
    assert header.count('"') == 2  # the name's own quote cannot close the parameter
    assert "filename*=UTF-8''chatons-zo%C3%A9%22%3B%20evil%3D1-2024-03-01.zip" in header
