"""raw/days.py: a range's days fetched concurrently, with the cycle collector paused meanwhile."""

from __future__ import annotations

import gc
import threading
from dataclasses import dataclass

from diga_assets.assets.raw.days import cyclic_gc_paused, run_days
from diga_assets.partitions import DayWindow
from diga_assets_tests.assets.conftest import window_of


@dataclass
class Fetched:
    window: DayWindow
    collector_on: bool


def test_the_cycle_collector_is_off_while_days_are_fetched_and_on_again_after():
    windows = [window_of("2026-11-17"), window_of("2026-11-18")]

    def fetch(window: DayWindow, cancelled: threading.Event) -> Fetched:
        return Fetched(window, gc.isenabled())

    results, failures = run_days(windows, fetch, max_concurrency=2)

    assert failures == [] and sorted(r.window.key for r in results) == ["2026-11-17", "2026-11-18"]
    assert [r.collector_on for r in results] == [False, False]
    assert gc.isenabled()


def test_a_paused_collector_stays_off_after_if_it_was_off_before():
    gc.disable()
    try:
        with cyclic_gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_overlapping_pauses_end_with_the_collector_on():
    first, second = cyclic_gc_paused(), cyclic_gc_paused()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert not gc.isenabled(), "still paused while the second block runs"
    second.__exit__(None, None, None)
    assert gc.isenabled()
