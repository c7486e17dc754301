"""Terms feature: cost of the acceptance gate per request, and of diff/render on big texts.

Run by hand: `.venv/bin/python bench/legal_bench.py`. Prints times and ratios against a
baseline measured in the same run (never used as a timed test).
"""

from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from app import create_app
from app.cli import upgrade_database
from app.db import session_scope
from app.legal import services
from app.legal.diff import diff_texts
from app.legal.rendering import render_markdown, text_blocks

REQUESTS = 300


def timed(fn, repeat: int = 1) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def sign_in(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    client.post("/login", data={"login": "alice", "password": "demo", "csrf_token": token})


def gate_overhead() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        upgrade_database(url)
        app = create_app({"SECRET_KEY": "bench", "DATABASE_URL": url, "TESTING": True})
        client = app.test_client()
        sign_in(client)
        # Baseline: a private page while no version exists (the gate's query finds nothing).
        client.get("/")
        baseline = timed(lambda: client.get("/"), REQUESTS)
        with session_scope(app) as session:
            for document in ("terms", "privacy"):
                for n in range(20):
                    services.publish_version(
                        session,
                        document,
                        {"fr": services.DraftText(f"Version {n}\n\n" + "Texte. " * 2000, "R")},
                        zone=ZoneInfo("Europe/Paris"),
                    )
        page = client.get("/legal/accept").get_data(as_text=True)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        versions = re.search(r'id="versions" name="versions" type="hidden" value="([^"]*)"', page)
        client.post("/legal/accept", data={"csrf_token": token, "versions": versions.group(1)})  # type: ignore[union-attr]
        assert client.get("/").status_code == 200
        gated = timed(lambda: client.get("/"), REQUESTS)
        with app.test_request_context():
            session = app.extensions["panel_db"].sessions()
            question = timed(lambda: services.needs_acceptance(session, 1), 1000)
            session.close()
        print(f"gate query (needs_acceptance, 2x20 versions): {question * 1e6:.0f} µs per request")
        print(
            f"GET / (overview, signed in), {REQUESTS} requests: "
            f"no versions {baseline * 1000:.2f} ms,"
            f" 2x20 versions accepted (gate + acceptances card) {gated * 1000:.2f} ms,"
            f" ratio {gated / baseline:.2f}"
        )


def big_texts() -> None:
    def paragraph(n: int) -> str:
        sentence = f"L'article {n} dit que nous conservons les données {n % 7} mois au plus. "
        return sentence * 6

    old = "\n\n".join(f"## Article {n}\n\n{paragraph(n)}" for n in range(2000))
    new = old.replace("## Article 1000\n\nL'article", "## Article 1000\n\nNouveau. L'article")
    new = new.replace("## Article 1500\n\n", "## Article 1500\n\nAjout d'une phrase.\n\n")
    rewrite = old.replace("données", "informations")
    print(f"text size: {len(old.encode()) / 1024:.0f} KiB, {len(old.split())} words")

    def compare(a: str, b: str) -> object:
        text_blocks.cache_clear()  # the caches would hide the work (parsing included)
        return diff_texts.__wrapped__(a, b)

    small = timed(lambda: compare("Un deux trois.", "Un deux quatre."), 200)
    local = timed(lambda: compare(old, new))
    every = timed(lambda: compare(old, rewrite))
    diff_texts(old, new)
    cached = timed(lambda: diff_texts(old, new), 20)
    print(
        f"diff: 3-word baseline {small * 1e6:.0f} µs; two local changes {local * 1000:.0f} ms "
        f"({local / small:.0f}x); a word changed in every paragraph {every * 1000:.0f} ms "
        f"({every / small:.0f}x); the same comparison again (cached, every gated user) "
        f"{cached * 1000:.2f} ms"
    )
    render_markdown.cache_clear()
    first = timed(lambda: render_markdown(old))
    cached = timed(lambda: render_markdown(old), 50)
    print(
        f"render: first {first * 1000:.0f} ms, cached {cached * 1000:.3f} ms "
        f"(versions never change, so the cache is always right)"
    )


if __name__ == "__main__":
    gate_overhead()
    big_texts()
