"""Where a web worker's memory goes at start: RSS after each group of imports, then the panel.

    .venv/bin/python bench/memory.py
    PANEL_DATABASE_URL=postgresql+psycopg://… .venv/bin/python bench/memory.py

Imports the libraries the panel uses in groups, in a fresh Python, and prints the resident
memory (VmRSS) after each, then after `import wsgi` (the panel's modules and `create_app`),
and how that memory splits between file-backed pages (the libraries' code, shared by every
process that maps them) and anonymous ones (the heap, private to each worker unless
gunicorn's master loaded the panel before forking: PANEL_PRELOAD). No baseline is needed:
the figures are sizes, not speeds, and the machine's load does not change them.
"""

from __future__ import annotations

import gc
import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

GROUPS = (
    ("Python's standard library", "ssl asyncio email.parser xml.etree.ElementTree sqlite3 zipfile"),
    ("Flask, Werkzeug, Jinja", "flask jinja2 werkzeug"),
    ("SQLAlchemy and its ORM", "sqlalchemy sqlalchemy.orm"),
    ("SQLAlchemy's dialects", "sqlalchemy.dialects.postgresql sqlalchemy.dialects.sqlite"),
    ("psycopg", "psycopg"),
    ("ldap3", "ldap3"),
    ("pydantic", "pydantic"),
    ("Babel, Flask-Babel", "babel flask_babel babel.dates"),
    ("WTForms, Flask-WTF, email-validator", "wtforms flask_wtf email_validator"),
    ("Flask-Limiter, Flask-Login", "flask_limiter flask_login"),
    ("nh3, isal, zipstream, defusedxml", "nh3 isal zipstream defusedxml"),
)


def rss_mib() -> float:
    gc.collect()
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def rollup_mib() -> dict[str, float]:
    found = {}
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("Rss", "Anonymous"):
            found[name] = int(rest.split()[0]) / 1024
    return found


def main() -> int:
    before = start = rss_mib()
    print(f"{'Python itself':<40}{start:7.1f} MiB")
    for name, modules in GROUPS:
        for module in modules.split():
            try:
                importlib.import_module(module)
            except ImportError:
                print(f"  ({module} is not installed)")
        now = rss_mib()
        print(f"{name:<40}{now:7.1f} MiB  +{now - before:5.1f}")
        before = now
    count = len(sys.modules)
    import wsgi  # noqa: F401 - the panel's modules and create_app, as a worker loads them

    now = rss_mib()
    print(
        f"{'the panel (import wsgi)':<40}{now:7.1f} MiB  +{now - before:5.1f}"
        f"  ({len(sys.modules) - count} more modules)"
    )
    rollup = rollup_mib()
    print(
        f"\nof which anonymous (heap: a worker's own unless preloaded) {rollup['Anonymous']:.1f}"
        f" MiB, file-backed (libraries' code, shared) {rollup['Rss'] - rollup['Anonymous']:.1f}"
        " MiB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
