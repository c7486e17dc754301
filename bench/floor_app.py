"""The panel as `wsgi:app` serves it, plus the benchmark-only signed-in floor page.

    gunicorn -c gunicorn.conf.py bench.floor_app:app     # what bench/pages.py starts

See `common.add_signed_in_floor`. Never part of the panel itself: only this module, which
the benchmarks load, adds the page.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import add_signed_in_floor

from wsgi import app

add_signed_in_floor(app)
