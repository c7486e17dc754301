"""The checker and "where to go next" against a federation served over HTTP on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from federation_server import PLANTED_ERRORS, Federation, serve_federation
from flask import Flask

from app.disclosure import checker, federation


@pytest.fixture
def test_federation(tmp_path: Path) -> Iterator[Federation]:
    yield from serve_federation(tmp_path / "federation")


def _errors(reports: list[checker.FileReport], base: str) -> set[tuple[str, str]]:
    return {
        (r.url.removeprefix(base + "/"), f.key)
        for r in reports
        for f in r.findings
        if f.severity == checker.ERROR
    }


def test_checker_finds_exactly_the_planted_errors(test_federation: Federation) -> None:
    reports = checker.crawl(test_federation.url, federation.fetch_text)
    assert _errors(reports, test_federation.base) == PLANTED_ERRORS
    unreachable = [r for r in reports if r.unreachable]
    assert [r.url for r in unreachable] == [
        f"http://127.0.0.1:{test_federation.closed_port}/organization.properties"
    ]
    by_url = {r.url.removeprefix(test_federation.base + "/"): r for r in reports}
    # Alpha's files are complete: nothing to say, metrics included (a short series is fine).
    for name in ("chatons.properties", "alpha/organization.properties", "alpha/cloud.properties"):
        assert by_url[name].errors == 0, by_url[name].findings
    assert by_url["alpha/cloud-metrics.properties"].file_class == "metrics"
    assert by_url["alpha/cloud-metrics.properties"].errors == 0
    # An unknown path is a warning, not an error.
    assert any(
        f.key == "service.colour" and f.severity == checker.WARNING
        for f in by_url["beta/cloud.properties"].findings
    )


def test_malformed_values_name_the_expected_type(test_federation: Federation) -> None:
    reports = checker.crawl(test_federation.url, federation.fetch_text)
    messages = {f.key: f.message for r in reports for f in r.findings}
    assert "ACTIVE, IDLE, AWAY" in messages["organization.status.level"]
    assert "2024-05-31" in messages["organization.startdate"]
    assert "13 values" in messages["metrics.service.accounts.2025.months"]


def test_check_command_exits_non_zero_on_errors(app: Flask, test_federation: Federation) -> None:
    result = app.test_cli_runner().invoke(
        args=["chatonsinfos", "check", test_federation.url, "--language", "en"]
    )
    assert result.exit_code == 1
    assert f"{len(PLANTED_ERRORS) + 1} errors" in result.output
    assert "Mandatory key missing." in result.output
    french = app.test_cli_runner().invoke(
        args=["chatonsinfos", "check", test_federation.url, "--language", "fr"]
    )
    assert "Clé obligatoire manquante." in french.output


def test_where_to_go_next_proposes_only_open_members_running_the_same_software(
    test_federation: Federation,
) -> None:
    cache = federation.refresh_federation(test_federation.url, datetime.now(UTC))
    # Beta's file has no name: it is known by its address.
    assert [m.name for m in cache.members] == [
        "Alpha",
        f"{test_federation.base}/beta/organization.properties",
    ]
    # The member that does not answer is skipped, with a note.
    assert len(cache.unreachable) == 1 and str(test_federation.closed_port) in cache.unreachable[0]
    nextcloud = federation.alternatives(cache, "nextcloud")
    assert [(a.member, a.service, a.registration) for a in nextcloud] == [
        ("Alpha", "Alpha Cloud", "Free;Member")
    ]
    # Alpha's pads are full; nobody else runs Etherpad.
    assert federation.alternatives(cache, "Etherpad") == []
    # The hoster itself is never proposed.
    assert federation.alternatives(cache, "Nextcloud", own_website="https://alpha.example") == []


def test_a_file_too_big_or_unreachable_is_a_fetch_error(tmp_path: Path) -> None:
    big = tmp_path / "big.properties"
    big.write_bytes(b"a = b\n" * 200_000)
    with pytest.raises(checker.FetchError, match="larger than"):
        federation.fetch_text(str(big))
    with pytest.raises(checker.FetchError):
        federation.fetch_text("ftp://example.org/x.properties")
    with pytest.raises(checker.FetchError):
        federation.fetch_text(str(tmp_path / "missing.properties"))


def test_federation_command_fills_the_cache_the_pages_read(
    make_app, tmp_path: Path, test_federation: Federation
) -> None:
    app = make_app(
        FEDERATION_URL=test_federation.url, FEDERATION_CACHE_FILE=str(tmp_path / "fed.json")
    )
    result = app.test_cli_runner().invoke(args=["chatonsinfos", "federation"])
    assert result.exit_code == 0, result.output
    assert "2 members" in result.output and "1 unreachable" in result.output
    cache = federation.load_cache(app)
    assert cache is not None and cache.members[0].name == "Alpha"


def test_a_file_on_the_web_cannot_make_the_panel_read_a_local_file(
    tmp_path: Path, test_federation: Federation
) -> None:
    secret = tmp_path / "secret.properties"
    secret.write_text("organization.name = SECRET VALUE\n", encoding="utf-8")
    planted = tmp_path / "federation" / "chatons.properties"
    planted.write_text(
        planted.read_text(encoding="utf-8")
        + f"subs.evil = {secret}\nsubs.evil2 = file://{secret}\n",
        encoding="utf-8",
    )
    cache = federation.refresh_federation(test_federation.url, datetime.now(UTC))
    assert all(m.name != "SECRET VALUE" for m in cache.members)
    assert sum("cannot link to a local file" in note for note in cache.unreachable) == 2
    reports = checker.crawl(test_federation.url, federation.fetcher_from(test_federation.url))
    assert "SECRET VALUE" not in repr(reports)
    # The hoster's own choice of a local federation file may link local files (tests, no web).
    local = checker.crawl(str(planted), federation.fetcher_from(str(planted)))
    assert any(r.name == "SECRET VALUE" for r in local)


def test_a_redirect_to_another_scheme_is_not_followed(tmp_path: Path) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Redirect(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(302)
            self.send_header("Location", "ftp://127.0.0.1/secret")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(checker.FetchError, match="not a web address"):
            federation.fetch_text(f"http://127.0.0.1:{server.server_port}/x.properties")
    finally:
        server.shutdown()
        server.server_close()
