"""List requests and pages: what the HTTP layer asks the world for and what it gets back.

A listing is a range ``[lo, hi)`` of positions in an ascending sequence (calls by creation
instant, phones by assignment instant), an optional filter on positions, and a way to find the
position an ``after``/``before`` cursor names. Choosing a page from those is the same for every
list, so it lives here, apart from how each list orders its records.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

Match = Callable[[int], bool]
# The kind of cursor a query carries ("after", "before" or None) and the position it names.
Cursor = tuple[str | None, int]


@dataclass(frozen=True)
class ListQuery:
    """A validated list request, in the world's terms (instants as integer microseconds).

    ``start_us`` is an inclusive and ``end_us`` an exclusive bound on the ordering instant; the
    HTTP layer turns the API's inclusive or exclusive ``end_*`` reading into this half-open form.
    """

    order: str = "desc"
    limit: int = 50
    page: int | None = None
    after: str | None = None
    before: str | None = None
    start_us: int | None = None
    end_us: int | None = None
    filters: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Page:
    """One page, with the records already encoded as JSON objects."""

    data: list[bytes]
    first_id: Any
    last_id: Any
    has_more: bool
    current_page: int | None
    total_pages: int | None


class UnknownCursorError(LookupError):
    """An ``after``/``before`` id that names no visible record (the API answers 400)."""

    def __init__(self, parameter: str, value: str) -> None:
        super().__init__(f"{parameter}={value!r} does not name a visible record")
        self.parameter = parameter
        self.value = value


def locate_cursor(query: ListQuery, find: Callable[[str], int | None]) -> Cursor:
    """The query's cursor and the position ``find`` gives its id; raises if it names nothing."""
    if query.after is None and query.before is None:
        return None, -1
    kind = "after" if query.after is not None else "before"
    value = query.after if query.after is not None else query.before
    assert value is not None
    position = find(value)
    if position is None:
        raise UnknownCursorError(kind, value)
    return kind, position


def select_page(
    query: ListQuery, lo: int, hi: int, match: Match | None, cursor: Cursor
) -> tuple[list[int], bool, int | None, int | None]:
    """``select_positions`` with the order, limit, page number and cursor taken from ``query``."""
    cursor_kind, cursor_pos = cursor
    return select_positions(
        lo,
        hi,
        match,
        order=query.order,
        limit=query.limit,
        page=query.page,
        cursor_kind=cursor_kind,
        cursor_pos=cursor_pos,
    )


def select_positions(
    lo: int,
    hi: int,
    match: Match | None,
    *,
    order: str,
    limit: int,
    page: int | None,
    cursor_kind: str | None,
    cursor_pos: int,
) -> tuple[list[int], bool, int | None, int | None]:
    """Choose the positions of one page within the ascending candidate range ``[lo, hi)``.

    Cursor semantics follow Stripe: ``after=X`` returns the items that follow X in the requested
    order; ``before=X`` returns the page that immediately precedes X in the requested order,
    still served in the requested order, and ``has_more`` says whether more items lie beyond the
    page in the direction of travel. ``cursor_pos`` is X's position in the unfiltered ascending
    sequence, so a cursor keeps working when it does not itself match the filters.
    Returns (positions in served order, has_more, current_page, total_pages).
    """
    if page is not None:
        skip = (page - 1) * limit
        if match is None:
            count = max(0, hi - lo)
            take = max(0, min(limit, count - skip))
            if order == "asc":
                positions = list(range(lo + skip, lo + skip + take))
            else:
                positions = list(range(hi - 1 - skip, hi - 1 - skip - take, -1))
        else:
            matched = [pos for pos in range(lo, hi) if match(pos)]
            if order != "asc":
                matched.reverse()
            count = len(matched)
            positions = matched[skip : skip + limit]
        total_pages = -(-count // limit)
        return positions, page < total_pages, page, total_pages

    forward = order == "asc"
    reverse_output = False
    if cursor_kind is None:
        start = lo if forward else hi - 1
    else:
        if cursor_kind == "before":
            # Walk away from X against the requested order, then serve the page in that order.
            forward = not forward
            reverse_output = True
        start = cursor_pos + 1 if forward else cursor_pos - 1
    want = limit + 1
    if forward:
        start = max(start, lo)
        if match is None:
            found = list(range(start, min(hi, start + want)))
        else:
            found = []
            for pos in range(start, hi):
                if match(pos):
                    found.append(pos)
                    if len(found) == want:
                        break
    else:
        start = min(start, hi - 1)
        if match is None:
            found = list(range(start, max(lo - 1, start - want), -1))
        else:
            found = []
            for pos in range(start, lo - 1, -1):
                if match(pos):
                    found.append(pos)
                    if len(found) == want:
                        break
    has_more = len(found) > limit
    found = found[:limit]
    if reverse_output:
        found.reverse()
    return found, has_more, None, None
