"""Today's calls within the hour: the day so far fetched, then refreshed with only what can have
changed (the calls made since, and those still unfinished), marked partial through the curated
calls and the metrics, and whole once the day has ended; the schedule that drives it.

The simulator's clock is the fetch's clock here, so a test can say "ten minutes later".
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import dagster as dg
import duckdb
import pytest

from diga_assets.api.records import CALLS
from diga_assets.api.spec import UNFINISHED_CALL_STATUSES
from diga_assets.assets.common import DigaGraph
from diga_assets.assets.curated import build_curated_calls_asset
from diga_assets.assets.metrics import build_metric_assets
from diga_assets.assets.raw.calls import fetch_calls_day, refresh_start
from diga_assets.names import CALL_OUTCOME_RATES, CURATED_CALLS
from diga_assets.schedules import INTRADAY_TAG, intraday_request
from diga_assets.simulator import World
from diga_assets_tests.assets.conftest import api_resource, range_tags, settings_for, storage_for, window_of
from diga_assets_tests.assets.test_raw import planted_call, stored_rows

TODAY = "2026-11-20"
MORNING = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
PAGE = 20
CALLS_PATH = "/v1/call/"


def api_calls(world: World, key: str) -> dict[str, dict]:
    window = window_of(key)
    return {call["id"]: call for call in world.calls_created_between(window.start, window.end)}


def stored_by_id(tmp_path, key: str) -> dict[str, dict]:
    return {row["id"]: row for row in stored_rows(tmp_path, key).to_pylist()}


def assert_stored_day_equals_the_api(tmp_path, world: World, key: str) -> None:
    """Every call of the day as the API serves it now, field by field (the stamp aside)."""
    served = CALLS.to_record_batch(list(api_calls(world, key).values()), world.now).to_pylist()
    stored = stored_by_id(tmp_path, key)
    assert sorted(stored) == sorted(row["id"] for row in served)
    for row in served:
        assert {k: v for k, v in stored[row["id"]].items() if k != "fetched_at"} == {
            k: v for k, v in row.items() if k != "fetched_at"
        }, row["id"]


def curate_and_measure(tmp_path, key: str) -> None:
    graph = DigaGraph(settings_for(tmp_path / "data"))
    assets = [build_curated_calls_asset(graph), *build_metric_assets(graph)]
    selection = dg.AssetSelection.assets(CURATED_CALLS, CALL_OUTCOME_RATES)
    result = dg.materialize(
        assets, selection=selection, partition_key=key, resources={"storage": storage_for(tmp_path)}
    )
    assert result.success


def query(tmp_path, sql: str) -> list[tuple]:
    storage = storage_for(tmp_path)
    with duckdb.connect(str(storage.analysis_db), read_only=True) as con:
        storage.store.register(con)
        return con.sql(sql).fetchall()


def test_a_call_made_during_the_day_is_in_the_calls_view_after_the_next_refresh_and_the_day_ends_whole(
    start_simulator, tmp_path
):
    world = World(now=MORNING, days=3, calls_per_day=3000, status_model="current")
    sim = start_simulator(world=world)
    storage, window = storage_for(tmp_path), window_of(TODAY)
    clock = lambda: world.now  # noqa: E731 - the fetch's clock is the simulator's

    with api_resource(sim).make_client() as client:
        first = fetch_calls_day(client, storage, window, page_size=PAGE, clock=clock)
        assert first.partial and first.refreshed_from is None
        assert_stored_day_equals_the_api(tmp_path, world, TODAY)
        before = stored_rows(tmp_path, TODAY)

        # Ten minutes on, a call made five minutes after the first refresh.
        world.advance(timedelta(minutes=10))
        made_at = MORNING + timedelta(minutes=5)
        call_id = "00000000-0000-4000-8000-00000000c0de"
        world.add_call(planted_call(world, call_id, made_at.isoformat().replace("+00:00", "Z")))
        since = refresh_start(before, MORNING)
        walked = [c for c in api_calls(world, TODAY).values() if datetime.fromisoformat(c["created_date"]) >= since]
        sim.request_log.clear()

        second = fetch_calls_day(client, storage, window, page_size=PAGE, clock=clock)

    # What the refresh walked: from the oldest call still unfinished at the first refresh (or
    # the newest stored), not the whole day again.
    unfinished = [r for r in before.to_pylist() if r["status"] in UNFINISHED_CALL_STATUSES]
    assert unfinished, "the morning's last calls should still be running"
    assert second.refreshed_from == since == min(r["created_date"] for r in unfinished)
    requests = sim.request_log.requests_to(CALLS_PATH)
    assert len(requests) <= math.ceil(len(walked) / PAGE) + 1
    assert len(requests) < math.ceil(len(api_calls(world, TODAY)) / PAGE)
    assert {r.query["start_created_date"] for r in requests} == {
        (since - timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    }
    assert_stored_day_equals_the_api(tmp_path, world, TODAY)

    curate_and_measure(tmp_path, TODAY)
    assert query(tmp_path, f"SELECT partial FROM calls WHERE id = '{call_id}'") == [(True,)]
    assert query(tmp_path, f"SELECT DISTINCT partial FROM call_outcome_rates WHERE day = '{TODAY}'") == [(True,)]

    # After midnight the day is fetched whole: final, and the API's call for call.
    world.advance(window.end - world.now + timedelta(minutes=15))
    with api_resource(sim).make_client() as client:
        final = fetch_calls_day(client, storage, window, page_size=PAGE, clock=clock)
    assert not final.partial and final.refreshed_from is None
    assert_stored_day_equals_the_api(tmp_path, world, TODAY)
    curate_and_measure(tmp_path, TODAY)
    assert query(tmp_path, f"SELECT DISTINCT partial FROM calls WHERE day = '{TODAY}'") == [(False,)]
    assert query(tmp_path, f"SELECT DISTINCT partial FROM call_outcome_rates WHERE day = '{TODAY}'") == [(False,)]


def test_a_refresh_drops_calls_deleted_since_and_keeps_the_earlier_ones_untouched(start_simulator, tmp_path):
    world = World(now=MORNING, days=3, calls_per_day=3000, status_model="current")
    sim = start_simulator(world=world)
    storage, window = storage_for(tmp_path), window_of(TODAY)
    clock = lambda: world.now  # noqa: E731

    with api_resource(sim).make_client() as client:
        fetch_calls_day(client, storage, window, page_size=PAGE, clock=clock)
        before = stored_by_id(tmp_path, TODAY)
        latest = max(before.values(), key=lambda row: (row["created_date"], row["id"]))
        world.delete_calls([latest["id"]])
        world.advance(timedelta(minutes=15))
        refresh = fetch_calls_day(client, storage, window, page_size=PAGE, clock=clock)

    assert refresh.removed_ids == [latest["id"]]
    after = stored_by_id(tmp_path, TODAY)
    kept = [call_id for call_id, row in before.items() if row["created_date"] < refresh.refreshed_from]
    assert kept and all(after[call_id] == before[call_id] for call_id in kept)  # fetched_at included
    assert_stored_day_equals_the_api(tmp_path, world, TODAY)


@pytest.fixture
def instance():
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


def test_the_refresh_asks_for_today_and_at_the_first_tick_of_a_day_for_yesterday_whole_too(instance):
    first_day = datetime(2026, 1, 1).date()
    at_ten = intraday_request(instance, "diga_calls_job", datetime(2026, 11, 20, 10, 15, tzinfo=UTC), 15, first_day)
    assert isinstance(at_ten, dg.RunRequest)
    assert at_ten.partition_key == TODAY and at_ten.tags[INTRADAY_TAG] == "true"

    midnight = intraday_request(instance, "diga_calls_job", datetime(2026, 11, 21, 0, 0, tzinfo=UTC), 15, first_day)
    assert isinstance(midnight, dg.RunRequest) and midnight.partition_key is None
    assert {k: midnight.tags[k] for k in range_tags("x", "y")} == range_tags(TODAY, "2026-11-21")

    before_start = intraday_request(instance, "diga_calls_job", datetime(2025, 12, 31, 9, tzinfo=UTC), 15, first_day)
    assert isinstance(before_start, dg.SkipReason)


def test_a_tick_while_the_previous_refresh_runs_is_skipped(instance):
    job = dg.GraphDefinition(name="noop", node_defs=[]).to_job(name="diga_calls_job")
    running = instance.create_run_for_job(job, tags={INTRADAY_TAG: "true"})  # not started yet: in flight
    at = datetime(2026, 11, 20, 10, 30, tzinfo=UTC)

    tick = intraday_request(instance, "diga_calls_job", at, 15, MORNING.date())
    assert isinstance(tick, dg.SkipReason) and running.run_id in (tick.skip_message or "")

    instance.report_run_canceled(running)
    assert isinstance(intraday_request(instance, "diga_calls_job", at, 15, MORNING.date()), dg.RunRequest)
