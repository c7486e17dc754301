"""`make run` with PANEL_LDAP_URL serves the panel against that directory (README's promise)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from http_client import Browser

import ldap_server as L
from helpers import wait_port

# Every test here starts a real directory server.
pytestmark = pytest.mark.ldap

ROOT = Path(__file__).resolve().parents[2]


def test_make_run_with_a_real_directory_serves_the_panel(debian_slapd, tmp_path):
    port = L.free_port()
    env = {
        **os.environ,
        **{f"PANEL_{k}": str(v) for k, v in debian_slapd.settings().items()},
        "PANEL_DATABASE_URL": f"sqlite:///{tmp_path / 'panel.sqlite3'}",
        "VENV": str(Path(sys.executable).parent.parent),
    }
    log = tmp_path / "make-run.log"
    process = subprocess.Popen(
        ["make", "run", f"PORT={port}", f"VENV={env['VENV']}"],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        # `make run` compiles catalogs, migrates and publishes the demo terms first.
        wait_port(port, timeout=180)
        browser = Browser()
        assert browser.login(f"http://127.0.0.1:{port}", L.ACCENTED_UID, L.PASSWORD).status == 302
        # Signed in: the next stop is accepting the terms `make run` published.
        staff = browser.request(f"http://127.0.0.1:{port}/staff/")
        assert (staff.location or "").startswith("/legal/accept"), staff
        assert browser.request(f"http://127.0.0.1:{port}/legal/accept").status == 200
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    assert "Only in demo mode" not in log.read_text()
