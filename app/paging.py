"""Paged lists: the page and filters a request asks for, one page of a list, its page count."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from flask import abort, request

T = TypeVar("T")
D = TypeVar("D")

# Far past any real list; a larger number is a mistyped or forged address, not a page.
MAX_PAGE = 100_000


def page_number(max_page: int = MAX_PAGE) -> int:
    """The request's `?page=` (1 when absent or not a number); 404 for 0, negative or huge."""
    page = request.args.get("page", 1, type=int)
    if page is None or page < 1 or page > max_page:
        abort(404)
    return page


def one_of(value: str | None, allowed: Collection[str], default: D) -> str | D:
    """`value` when it is one of `allowed` (a filter or sort from the query string), else
    `default`: an address typed by hand or kept from an older page shows the usual list."""
    return value if value is not None and value in allowed else default


def page_count(total: int, per_page: int) -> int:
    """How many pages `total` rows make; an empty list still has its (empty) first page."""
    return max(1, -(-total // per_page))


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    page: int
    pages: int  # at least 1: an empty list still has its (empty) first page
    total: int

    def pager(self) -> dict[str, int]:
        """What the templates' pager reads: `page`, `pages` and `total`."""
        return {"page": self.page, "pages": self.pages, "total": self.total}


def paginate(
    fetch: Callable[..., tuple[Sequence[T], int]],
    *,
    per_page: int,
    page: int | None = None,
) -> Page[T]:
    """One page of a list: `fetch(page=…, per_page=…)` returns its rows and the total count.

    `page` defaults to the request's; a page past the last one answers 404, as an address
    that does not exist.
    """
    if page is None:
        page = page_number()
    items, total = fetch(page=page, per_page=per_page)
    pages = page_count(total, per_page)
    if page > pages:
        abort(404)
    return Page(items=list(items), page=page, pages=pages, total=total)
