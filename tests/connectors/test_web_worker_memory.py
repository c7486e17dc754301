"""A web worker builds every connector at start-up but loads requests only on first use."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_building_the_dav_connector_does_not_load_requests(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        from app import create_app
        from app.connectors import service_connectors

        app = create_app({{
            "DATABASE_URL": "sqlite:///{tmp_path / "panel.sqlite3"}",
            "SECRET_KEY": "test-secret",
            "RATELIMIT_STORAGE_URL": "memory://",
        }})
        kinds = sorted(type(c).__name__ for c in service_connectors(app).values())
        assert any("Dav" in kind for kind in kinds), kinds
        assert "requests" not in sys.modules, "requests loaded at start-up"
        connector = next(c for c in service_connectors(app).values() if "Dav" in type(c).__name__)
        connector.client.session  # the first request makes the session
        assert "requests" in sys.modules
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")
