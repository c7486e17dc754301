"""The export's tables meant for people: local dates with their zone, words for codes."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from flask.testing import FlaskClient


def test_the_activity_table_reads_like_the_activity_page(
    client: FlaskClient, sign_in: Any, download: Any
) -> None:
    client.set_cookie("panel_tz", "America/Montreal")
    result = download(sign_in(client, "alice"))
    text = result.zip.read("panel/activity/events.csv").decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["Quand (America/Montreal)", "Ce qui s'est passé", "Par", "Détails"]
    when, _what, by, _details = rows[1]
    assert re.fullmatch(r"\d{1,2} \w+ \d{4} à \d\d:\d\d UTC-0[45]:00", when), when
    assert by in ("Vous", "L'équipe", "Le panneau")
    assert "login.succeeded" not in text and "system" not in {r[2] for r in rows}
