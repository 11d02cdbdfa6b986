"""One busy day walked in sub-windows side by side: exact to the row under every reading of the
API's bounds, on a tie at a cut, with offsets and on a DST day, in requests the pages and the
sub-windows account for, and really at once.

The split only changes how a day is fetched, not where it is stored, so these run against a
local data directory only (test_raw.py covers both storages).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import pytest

from diga_assets.api import spec
from diga_assets.api.client import DigaClient
from diga_assets.api.split import split_window, sub_windows
from diga_assets.simulator import Fault, FaultConfig, World
from diga_assets_tests.assets.conftest import window_of
from diga_assets_tests.assets.test_raw import expected_ids, materializations, planted_call, stored_ids
from diga_assets_tests.conftest import SIM_KEY, SIM_NOW

DAY = "2026-11-18"
DST_DAY = "2026-10-25"  # Europe/Madrid: 25 hours, the clocks go back at 03:00 local
PAGE = 100
timezone_plus_0530 = datetime.fromisoformat("2026-01-01T00:00:00+05:30").tzinfo


def call_requests(sim) -> list:
    return [r for r in sim.request_log.all() if r.path == spec.CALLS_PATH and r.status == 200]


def test_a_busy_day_alone_is_walked_in_sub_windows_at_once_in_pages_plus_sub_windows_requests(
    start_simulator, materialize_raw, tmp_path
):
    sim = start_simulator(days=5, calls_per_day=2000, faults=FaultConfig(latency_ms=20))

    result = materialize_raw(sim, first=DAY, calls_page_size=PAGE, max_concurrency=4)

    assert sorted(stored_ids(tmp_path, DAY)) == sorted(expected_ids(sim.world, DAY))
    metadata = materializations(result)[DAY]
    assert metadata["sub_windows"].value == 4
    pages = metadata["pages_fetched"].value
    requests = call_requests(sim)
    assert len(requests) == pages + 4  # the count, three probes, and every page of the four walks
    # Each sub-window costs at most one page more than its share of the day.
    assert pages <= math.ceil(len(expected_ids(sim.world, DAY)) / PAGE) + 4
    # The walks overlapped: every later sub-window had started before the first one ended.
    walks: dict[str, list[int]] = {}
    for index, record in enumerate(requests):
        if "page" not in record.query:
            walks.setdefault(record.query["start_created_date"], []).append(index)
    first_walk_end = max(walks[min(walks)])
    assert len(walks) == 4
    assert all(indexes[0] < first_walk_end for indexes in walks.values())


def test_a_day_of_one_page_is_not_split(start_simulator, materialize_raw, tmp_path):
    sim = start_simulator(days=5, calls_per_day=50)

    result = materialize_raw(sim, first=DAY, calls_page_size=PAGE, max_concurrency=4)

    assert set(stored_ids(tmp_path, DAY)) == set(expected_ids(sim.world, DAY))
    assert materializations(result)[DAY]["sub_windows"].value == 1
    assert len(call_requests(sim)) == 2  # the count, and the one page


def test_days_enough_to_fill_the_concurrency_are_not_split(start_simulator, materialize_raw):
    sim = start_simulator(days=9, calls_per_day=400)

    result = materialize_raw(sim, first="2026-11-12", last="2026-11-15", calls_page_size=PAGE, max_concurrency=4)

    assert {m["sub_windows"].value for m in materializations(result).values()} == {1}
    assert not [r for r in call_requests(sim) if "page" in r.query]  # no count, no probe


@pytest.mark.parametrize("end_inclusive", [True, False], ids=["end-inclusive", "end-exclusive"])
@pytest.mark.parametrize(("day", "timezone"), [(DAY, "UTC"), (DST_DAY, "Europe/Madrid")], ids=["utc", "madrid-dst"])
def test_a_split_day_is_exact_at_ties_offsets_and_bounds(
    start_simulator, materialize_raw, tmp_path, day, timezone, end_inclusive
):
    world = World(now=SIM_NOW, days=30, calls_per_day=600)
    window = window_of(day, timezone)
    template = planted_call(world, "00000000-0000-4000-8000-000000000000", window.start.isoformat())

    def plant(call_id: str, created_date: str) -> None:
        world.add_call({**template, "id": call_id, "created_date": created_date})

    # A third of the day at one instant in its middle, so the median cut lands on a tie that
    # pages of 100 split: every call of the tie must land in the same sub-window, once.
    tie = window.start + (window.end - window.start) / 2 + timedelta(microseconds=500_000)
    for n in range(300):
        plant(f"00000000-0000-4000-8000-{n:012x}", tie.isoformat())
    edge = [
        ("00000000-0000-4000-8000-aaaaaaaaa001", window.start, True),  # the first instant of the day
        ("00000000-0000-4000-8000-aaaaaaaaa002", window.end, False),  # the next day's first instant
        ("00000000-0000-4000-8000-aaaaaaaaa003", window.end - timedelta(microseconds=1), True),
        ("00000000-0000-4000-8000-aaaaaaaaa004", window.start - timedelta(microseconds=1), False),
    ]
    for call_id, instant, _ in edge:
        plant(call_id, instant.isoformat())
    # The same instant as the tie, written with another offset and nine fractional digits.
    spelled = tie.astimezone(timezone_plus_0530).isoformat()
    plant("00000000-0000-4000-8000-bbbbbbbbb001", spelled[:-6] + "000" + spelled[-6:])
    sim = start_simulator(world=world, end_date_inclusive=end_inclusive)

    result = materialize_raw(sim, first=day, timezone=timezone, calls_page_size=PAGE, max_concurrency=4)

    stored = stored_ids(tmp_path, day)
    assert len(stored) == len(set(stored)), "a call was stored twice"
    assert set(stored) == set(expected_ids(world, day, timezone))
    for call_id, _, inside in edge:
        assert (call_id in stored) is inside, call_id
    assert "00000000-0000-4000-8000-bbbbbbbbb001" in stored
    metadata = materializations(result)[day]
    assert metadata["sub_windows"].value > 1
    assert metadata["dropped_duplicate_ids"].value == 0, "neighbouring sub-windows overlapped"
    # Some sub-window begins exactly at the tie (its walk asks from a second before it).
    starts = {r.query["start_created_date"] for r in call_requests(sim) if "page" not in r.query}
    assert any(datetime.fromisoformat(s.replace("Z", "+00:00")) == tie - timedelta(seconds=1) for s in starts)


def test_cuts_follow_where_the_calls_are_not_the_clock(start_simulator):
    sim = start_simulator(days=5, calls_per_day=3000)
    window = window_of(DAY)
    with DigaClient(SIM_KEY, sim.base_url, max_concurrency=4) as client:
        split = split_window(client, window.start, window.end, parts=4, page_size=PAGE)

    calls = [
        datetime.fromisoformat(c["created_date"]) for c in sim.world.calls_created_between(window.start, window.end)
    ]
    parts = sub_windows(window.start, window.end, split.cuts)
    sizes = [sum(low <= instant < high for instant in calls) for low, high in parts]
    assert split.requests == 4 and len(parts) == 4
    assert sum(sizes) == len(calls)
    # Quantile cuts: each sub-window holds a quarter of the calls, give or take the few in the
    # second of slack the count includes; equal hours would not (nights are quiet).
    assert max(sizes) - min(sizes) <= 3, sizes
    hours = [
        sum(low <= instant < low + (window.end - window.start) / 4 for instant in calls)
        for low, _ in [(window.start + i * (window.end - window.start) / 4, None) for i in range(4)]
    ]
    assert max(hours) - min(hours) > 100, hours


def test_an_api_that_does_not_count_gets_one_walk_and_the_day_is_still_exact(
    start_simulator, materialize_raw, tmp_path
):
    sim = start_simulator(days=5, calls_per_day=2000)
    sim.faults.script.append(Fault("no_total_pages"))  # the count: total_pages null

    result = materialize_raw(sim, first=DAY, calls_page_size=PAGE, max_concurrency=4)

    assert sorted(stored_ids(tmp_path, DAY)) == sorted(expected_ids(sim.world, DAY))
    metadata = materializations(result)[DAY]
    assert metadata["sub_windows"].value == 1
    assert len(call_requests(sim)) == metadata["pages_fetched"].value + 1
