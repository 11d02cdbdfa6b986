"""Read-ahead: the next page is fetched while the current one is processed, in order, with the
walk's errors delivered where they happened and nothing fetched after the consumer stops."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from diga_assets.api.read_ahead import ReadAhead


class CountingWalk:
    """A source that counts the items it has produced and whether it was closed."""

    def __init__(self, items: int, *, fail_at: int | None = None) -> None:
        self.items = items
        self.fail_at = fail_at
        self.produced = 0
        self.closed = False
        self.changed = threading.Condition()

    def __iter__(self) -> Iterator[int]:
        try:
            for n in range(self.items):
                if n == self.fail_at:
                    raise ConnectionError(f"page {n} failed")
                with self.changed:
                    self.produced += 1
                    self.changed.notify_all()
                yield n
        finally:
            self.closed = True

    def wait_until_produced(self, count: int) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: self.produced >= count, timeout=10), self.produced


def test_items_come_out_in_order_and_complete():
    walk = CountingWalk(50)
    with ReadAhead(iter(walk)) as pages:
        assert list(pages) == list(range(50))
    assert walk.closed


def test_an_error_in_the_walk_reaches_the_consumer_after_the_items_before_it():
    walk = CountingWalk(10, fail_at=3)
    seen = []
    with pytest.raises(ConnectionError, match="page 3 failed"), ReadAhead(iter(walk)) as pages:
        for page in pages:
            seen.append(page)
    assert seen == [0, 1, 2]


def test_the_walk_stays_at_most_depth_pages_ahead_and_stops_when_the_consumer_leaves():
    walk = CountingWalk(100)
    ahead = ReadAhead(iter(walk), depth=1)
    with ahead:
        pages = iter(ahead)
        assert next(pages) == 0
        # One page taken and one waiting: the walk asks for no third until there is room.
        walk.wait_until_produced(2)
    assert walk.produced == 2, "the walk fetched beyond its depth, or after the consumer stopped"
    assert walk.closed, "the walk's generator was not closed, so its clean-up did not run"


def test_an_error_in_the_consumer_stops_the_walk_and_propagates():
    walk = CountingWalk(100)
    with pytest.raises(ValueError, match="bad page"), ReadAhead(iter(walk), name="test-read-ahead") as pages:
        for page in pages:
            if page == 5:
                raise ValueError("bad page")
    assert walk.closed and walk.produced <= 7
    assert not any(t.name == "test-read-ahead" for t in threading.enumerate())


def test_depth_must_be_positive():
    with pytest.raises(ValueError, match="depth must be at least 1"):
        ReadAhead(iter([]), depth=0)
