"""Sizes read the same wherever the panel shows one: binary multiples, the reader's language."""

from __future__ import annotations

import pytest
from flask import Flask
from flask_babel import force_locale

from app.units import byte_size


@pytest.mark.parametrize(
    ("size", "english", "french"),
    [
        (0, "0 bytes", "0 octets"),
        (850, "850 bytes", "850 octets"),
        (1024, "1 KB", "1 Ko"),
        (12_800, "12.5 KB", "12,5 Ko"),
        (5 * 1024 * 1024, "5 MB", "5 Mo"),
        (1536 * 1024 * 1024, "1.5 GB", "1,5 Go"),
    ],
)
def test_a_size_reads_in_the_readers_language(
    app: Flask, size: int, english: str, french: str
) -> None:
    with app.test_request_context():
        with force_locale("en"):
            assert byte_size(size) == english
        with force_locale("fr"):
            assert byte_size(size).replace("\u202f", " ").replace("\xa0", " ") == french


def test_pages_and_mail_reach_the_formatter_as_a_filter(app: Flask) -> None:
    with app.test_request_context(), force_locale("en"):
        assert app.jinja_env.from_string("{{ 2048|byte_size }}").render() == "2 KB"
