"""How long each unit of work of the suite took in CI, so pytest-xdist hands out the longest
first (tests/conftest.py); with `--dist loadfile` a unit is a file, or a file's tests for one
parameter value (SPLIT_BY_PARAMETER).

Refresh durations.json from a run with `--durations=0` (both passes, as `make test` runs
them), after adding or reshaping slow tests:

    PYTEST_ARGS="-n 3 --dist loadfile --durations=0" make test 2>&1 | tee /tmp/run.log
    .venv/bin/python tests/work_units.py /tmp/run.log > tests/durations.json

A unit it does not list is given the median of those it lists.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
from collections import Counter
from pathlib import Path

# Files whose parametrized tests go to workers one parameter value at a time (each language's
# page walk is one unit); their other tests stay together.
SPLIT_BY_PARAMETER = frozenset(
    {
        "tests/test_phone.py",
        "tests/disclosure/test_closing_browser.py",
        "tests/support/test_browser.py",
    }
)
PASSES = ("sqlite", "postgresql")
_LINE = re.compile(r"^([\d.]+)s (?:setup|call|teardown)\s+(\S+)$")
_SECOND_PASS = "== the same suite on PostgreSQL =="


def work_unit(nodeid: str) -> str:
    path = nodeid.split("::", 1)[0]
    if path in SPLIT_BY_PARAMETER and nodeid.endswith("]"):
        return f"{path}[{nodeid.rsplit('[', 1)[1]}"
    return path


def expected_seconds(engine: str) -> dict[str, float]:
    """The seconds each unit took in the pass on that engine ({} without the file)."""
    path = Path(__file__).with_name("durations.json")
    if not path.exists():
        return {}
    return dict(json.loads(path.read_text(encoding="utf-8")).get(engine, {}))


def longest_first(units: list[str], engine: str) -> list[str]:
    known = expected_seconds(engine)
    default = statistics.median(known.values()) if known else 0.0
    return sorted(units, key=lambda unit: -known.get(unit, default))


def read_log(text: str) -> dict[str, dict[str, float]]:
    found = {engine: Counter[str]() for engine in PASSES}
    engine = PASSES[0]
    for line in text.splitlines():
        if line.startswith(_SECOND_PASS):
            engine = PASSES[1]
        matched = _LINE.match(line)
        if matched:
            found[engine][work_unit(matched[2])] += float(matched[1])
    return {
        engine: {unit: round(seconds, 1) for unit, seconds in sorted(units.items())}
        for engine, units in found.items()
    }


if __name__ == "__main__":
    print(json.dumps(read_log(Path(sys.argv[1]).read_text(errors="replace")), indent=1))
