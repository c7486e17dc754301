"""Faults under load: the database or the directory goes away and comes back."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pg_server
import pytest
from http_client import Browser

import ldap_server as L
from app.cli import upgrade_database
from helpers import missing_tool

pytestmark = pytest.mark.slow


@pytest.fixture
def private_postgres():
    if pg_server.binaries() is None:
        missing_tool("PostgreSQL server binaries are needed: apt-get install postgresql")
    server = pg_server.PrivatePostgres()
    server.start()
    upgrade_database(server.url)
    yield server
    server.cleanup()


class Hammer:
    """Browsers asking for pages in a loop, each answer noted with the phases of the outage
    in which its request was sent and answered (in order, per browser)."""

    def __init__(self, browsers: list[Browser], pages: list[str]) -> None:
        self.phase = "up"
        self.results: list[list[tuple[str, str, int]]] = [[] for _ in browsers]
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(browser, pages, self.results[i]))
            for i, browser in enumerate(browsers)
        ]

    def _run(self, browser: Browser, pages: list[str], results: list[tuple[str, str, int]]) -> None:
        while not self._stop.is_set():
            for url in pages:
                sent = self.phase
                try:
                    status = browser.request(url, timeout=10).status
                except OSError:
                    status = -1
                results.append((sent, self.phase, status))

    def __enter__(self) -> Hammer:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def wait_for(self, condition: Callable[[], bool], what: str, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while not condition():
            assert time.monotonic() < deadline, f"{what} not seen within {seconds} s"
            time.sleep(0.05)

    def statuses(self) -> set[int]:
        return {status for results in self.results for _sent, _answered, status in list(results)}

    def recovered(self, rounds: int) -> bool:
        """Every browser had `rounds` answers of 200 to requests sent after the restart."""
        return all(
            sum(1 for sent, _answered, status in list(results) if sent == "back" and status == 200)
            >= rounds
            for results in self.results
        )


def test_database_restart_gives_503_only_during_the_outage(start_instance, private_postgres):
    instance = start_instance(workers=2, DATABASE_URL=private_postgres.url)
    pages = [f"{instance.url}/", f"{instance.url}/account/activity", f"{instance.url}/healthz"]

    browsers = [Browser() for _ in range(4)]
    for browser in browsers:
        assert browser.login(instance.url, "alice").status == 302
    with Hammer(browsers, pages) as hammer:
        hammer.wait_for(lambda: all(len(r) >= len(pages) for r in hammer.results), "pages")
        hammer.phase = "down"
        private_postgres.stop()
        hammer.wait_for(lambda: 503 in hammer.statuses(), "a 503 during the outage")
        private_postgres.start()
        hammer.phase = "back"
        hammer.wait_for(lambda: hammer.recovered(rounds=2 * len(pages)), "the recovery")

    statuses = hammer.statuses()
    assert 500 not in statuses and -1 not in statuses, (sorted(statuses), instance.errors())
    assert statuses <= {200, 503}, sorted(statuses)
    for results in hammer.results:
        # Answered before the server stopped: all served.
        assert {status for _sent, answered, status in results if answered == "up"} == {200}
        # Sent after the restart: once a browser is served again, it stays served (the
        # pool's dead connections are replaced once, not discovered one request at a time).
        back = [status for sent, _answered, status in results if sent == "back"]
        assert 503 not in back[back.index(200) :], back


@pytest.mark.ldap
def test_directory_outage_under_gunicorn(start_instance):
    directory = L.start_slapd()
    try:
        settings = {k: str(v) for k, v in directory.settings(LDAP_TIMEOUT=2).items()}
        instance = start_instance(**settings)
        browser = Browser()
        assert browser.login(instance.url, "alice", L.PASSWORD).status == 302
        directory.stop()
        started = time.monotonic()
        reply = Browser().login(instance.url, "bob", L.PASSWORD)
        assert reply.status == 503 and time.monotonic() - started < 6
        # Signed-in people keep browsing until their re-check; public pages stay up.
        assert browser.request(f"{instance.url}/").status == 200
        assert Browser().request(f"{instance.url}/login").status == 200
        directory.start()
        assert Browser().login(instance.url, "bob", L.PASSWORD).status == 302
    finally:
        L.cleanup(directory)
