"""Paged lists: a page that cannot exist is a 404, an empty list still has its first page."""

from __future__ import annotations

from functools import partial

import pytest
from flask import Flask
from werkzeug.exceptions import NotFound

from app.paging import page_number, paginate

ROWS = [f"row {n}" for n in range(1, 8)]  # 7 rows: 3 pages of 3


def rows_of(kind: str, *, page: int, per_page: int) -> tuple[list[str], int]:
    """A list as the services return it: one page of rows, and how many there are in all."""
    assert kind == "requests"
    start = (page - 1) * per_page
    return ROWS[start : start + per_page], len(ROWS)


@pytest.fixture
def bare_app() -> Flask:
    return Flask(__name__)


@pytest.mark.parametrize("query", ["", "?page=1", "?page=two"])
def test_the_first_page_is_shown_without_asking(bare_app: Flask, query: str) -> None:
    with bare_app.test_request_context(f"/list{query}"):
        listing = paginate(partial(rows_of, "requests"), per_page=3)
    assert listing.items == ["row 1", "row 2", "row 3"]
    assert listing.pager() == {"page": 1, "pages": 3, "total": 7}


def test_the_last_page_holds_what_is_left(bare_app: Flask) -> None:
    with bare_app.test_request_context("/list?page=3"):
        listing = paginate(partial(rows_of, "requests"), per_page=3)
    assert listing.items == ["row 7"]
    assert (listing.page, listing.pages) == (3, 3)


@pytest.mark.parametrize("query", ["?page=4", "?page=0", "?page=-1", "?page=100001"])
def test_a_page_that_does_not_exist_is_not_found(bare_app: Flask, query: str) -> None:
    with bare_app.test_request_context(f"/list{query}"), pytest.raises(NotFound):
        paginate(partial(rows_of, "requests"), per_page=3)


def test_an_empty_list_has_one_empty_page(bare_app: Flask) -> None:
    with bare_app.test_request_context("/list"):
        listing = paginate(lambda page, per_page: ([], 0), per_page=3)
    assert listing.items == []
    assert listing.pager() == {"page": 1, "pages": 1, "total": 0}


def test_a_list_may_allow_fewer_pages(bare_app: Flask) -> None:
    with bare_app.test_request_context("/list?page=11"), pytest.raises(NotFound):
        page_number(max_page=10)
    with bare_app.test_request_context("/list?page=10"):
        assert page_number(max_page=10) == 10
