"""call_day_audit: stored days compared with the API at one request per day, the days that drifted
found exactly (calls deleted, calls finished after they were stored), and those days fetched again
until every stored day equals the API's."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
import duckdb
import pytest

from diga_assets.assets.common import DigaGraph
from diga_assets.assets.raw import build_raw_assets
from diga_assets.assets.raw.audit import REFETCH, audit_call_days, audit_windows
from diga_assets.names import CALL_DAY_AUDIT
from diga_assets.schedules import refetch_requests
from diga_assets.simulator import Fault
from diga_assets_tests.assets.conftest import api_resource, settings_for, storage_for, window_of
from diga_assets_tests.assets.test_raw import expected_ids, materializations, stored_ids, stored_rows

pytestmark = pytest.mark.usefixtures("each_storage")

DAYS = [f"2026-11-{day}" for day in range(11, 20)]
DELETED_ON = ("2026-11-11", "2026-11-13", "2026-11-16")
UNFINISHED_ON = ("2026-11-12", "2026-11-17")
CALLS_PATH = "/v1/call/"


def drift(sim, materialize_raw) -> dict[str, list[str]]:
    """Store DAYS, with one call of each UNFINISHED_ON day still in progress when fetched; then,
    in the API, delete two calls of each DELETED_ON day and let the unfinished calls finish.
    Returns the ids deleted, by day."""
    world = sim.world
    unfinished = [expected_ids(world, day)[5] for day in UNFINISHED_ON]
    for call_id in unfinished:
        world.change_call(call_id, status="in_progress", end_time=None, duration=None, end_reason=None)
    materialize_raw(sim, first=DAYS[0], last=DAYS[-1])
    # Calls from the middle of the day: one at midnight would also change the day before's count
    # (the API is asked for each day widened by a second).
    deleted = {day: expected_ids(world, day)[5:7] for day in DELETED_ON}
    assert world.delete_calls([call_id for ids in deleted.values() for call_id in ids]) == 6
    for call_id in unfinished:
        world.change_call(call_id, status="completed", duration=61, end_reason="sim_agent_hangup")
    return deleted


def test_the_audit_finds_exactly_the_days_with_deleted_or_finished_calls_at_one_request_per_day(
    start_simulator, materialize_raw, tmp_path
):
    sim = start_simulator(days=10, calls_per_day=30, status_model="current")
    drift(sim, materialize_raw)
    sim.request_log.clear()
    storage = storage_for(tmp_path)
    windows = [window_of(day) for day in DAYS]

    with api_resource(sim).make_client() as client:
        audits, failures = audit_call_days(client, storage.store, windows, max_concurrency=4)

    assert failures == []
    changed = {audit.window.key: audit for audit in audits if audit.action == REFETCH}
    assert sorted(changed) == sorted(DELETED_ON + UNFINISHED_ON)
    # The API is asked for the day widened by a second each side, so its count also takes in the
    # next day's calls at midnight: exactly the ones the stored side counts as surely in it.
    for day in DELETED_ON:
        assert changed[day].api_calls == changed[day].fewest_expected - 2, changed[day].reason
    for day in UNFINISHED_ON:
        audit = changed[day]
        assert audit.stale_unfinished == 1 and audit.fewest_expected <= audit.api_calls <= audit.most_expected
    requests = sim.request_log.requests_to(CALLS_PATH)
    assert len(requests) == len(DAYS)
    assert all(r.query.get("limit") == "1" and r.query.get("page") == "1" for r in requests)


def test_an_audit_run_keeps_its_findings_and_the_refetched_days_equal_the_api(
    start_simulator, materialize_raw, tmp_path
):
    sim = start_simulator(days=10, calls_per_day=30, status_model="current")
    deleted = drift(sim, materialize_raw)
    graph = DigaGraph(settings_for(tmp_path / "data"))
    audit_asset = next(a for a in build_raw_assets(graph) if a.key == dg.AssetKey(CALL_DAY_AUDIT))
    resources = {"diga": api_resource(sim), "storage": storage_for(tmp_path)}
    instance = dg.DagsterInstance.ephemeral()

    audit = dg.materialize([audit_asset], resources=resources, instance=instance)

    metadata = audit.asset_materializations_for_node(CALL_DAY_AUDIT)[0].metadata
    assert sorted(metadata["changed_days"].value) == sorted(DELETED_ON + UNFINISHED_ON)
    assert metadata["requests"].value == metadata["days_audited"].value
    with duckdb.connect(str(storage_for(tmp_path).analysis_db), read_only=True) as con:
        storage_for(tmp_path).store.register(con)
        refetch = con.sql("SELECT day::VARCHAR FROM call_day_audit WHERE action = 'refetch' ORDER BY day").fetchall()
    assert [day for (day,) in refetch] == sorted(DELETED_ON + UNFINISHED_ON)

    # What the sensor asks for: one calls run per changed day, nothing for the others.
    event = instance.get_latest_materialization_event(dg.AssetKey(CALL_DAY_AUDIT))
    requests = refetch_requests(event)
    assert sorted(r.partition_key for r in requests) == sorted(DELETED_ON + UNFINISHED_ON)
    sim.request_log.clear()
    for request in requests:
        result = materialize_raw(sim, first=request.partition_key)
        removed = materializations(result)[request.partition_key]["removed_since_last_fetch"].value
        assert removed == len(deleted.get(request.partition_key, []))

    # Only the changed days were fetched again; now every stored day is the API's, field by field.
    fetched = {r.query["start_created_date"][:10] for r in sim.request_log.requests_to(CALLS_PATH)}
    assert len(fetched) == len(requests)
    for day in DAYS:
        assert stored_ids(tmp_path, day) == expected_ids(sim.world, day)
        window = window_of(day)
        served = {c["id"]: c for c in sim.world.calls_created_between(window.start, window.end)}
        for row in stored_rows(tmp_path, day, "calls", columns=["id", "status", "end_reason"]).to_pylist():
            assert (row["status"], row["end_reason"]) == (served[row["id"]]["status"], served[row["id"]]["end_reason"])
    again = dg.materialize([audit_asset], resources=resources, instance=instance)
    assert again.asset_materializations_for_node(CALL_DAY_AUDIT)[0].metadata["days_changed"].value == 0


def test_the_audit_asks_only_about_stored_days_of_its_range(tmp_path, start_simulator, materialize_raw):
    sim = start_simulator(days=10, calls_per_day=10, status_model="current")
    materialize_raw(sim, first="2026-11-15", last="2026-11-17")
    graph = DigaGraph(settings_for(tmp_path / "data", audit_days=4))

    windows = audit_windows(graph, storage_for(tmp_path).store, today=datetime(2026, 11, 20, tzinfo=UTC).date())

    # Four days back from yesterday (11-16 to 11-19), of which 11-16 and 11-17 are stored.
    assert [w.key for w in windows] == ["2026-11-16", "2026-11-17"]


def test_an_api_that_does_not_count_is_asked_for_the_ids_and_the_audit_says_so(
    start_simulator, materialize_raw, tmp_path
):
    sim = start_simulator(days=10, calls_per_day=20, status_model="current")
    materialize_raw(sim, first="2026-11-17", last="2026-11-18")
    sim.world.delete_calls(expected_ids(sim.world, "2026-11-18")[3:4])
    # Every count answered without total_pages; the id walks (one page a day) untouched.
    sim.faults.script.extend([Fault("no_total_pages"), None, Fault("no_total_pages"), None])
    windows = [window_of("2026-11-17"), window_of("2026-11-18")]

    with api_resource(sim).make_client() as client:
        audits, failures = audit_call_days(client, storage_for(tmp_path).store, windows, max_concurrency=1)

    assert failures == []
    assert [audit.counted_by for audit in audits] == ["ids", "ids"]
    assert [audit.action for audit in audits] == ["none", REFETCH]
    assert audits[1].api_calls == audits[1].stored_calls - 1
    assert [audit.requests for audit in audits] == [2, 2]


def test_a_count_is_one_request_and_an_empty_window_counts_zero(start_simulator):
    sim = start_simulator(days=5, calls_per_day=40)
    # Hours inside the day: the bounds' inclusiveness cannot matter (no call at these instants).
    start, end = datetime(2026, 11, 18, 1, 0, 0, 500, tzinfo=UTC), datetime(2026, 11, 18, 23, 0, 0, 500, tzinfo=UTC)

    with api_resource(sim).make_client() as client:
        counted = client.count_calls(start_created_date=start, end_created_date=end)
        empty = client.count_calls(start_created_date="2026-01-01T00:00:00Z", end_created_date="2026-01-02T00:00:00Z")

    assert counted == len(sim.world.calls_created_between(start, end)) > 0
    assert empty == 0
    assert len(sim.request_log) == 2


def test_an_audit_before_any_day_is_stored_asks_nothing_and_succeeds(start_simulator, tmp_path):
    sim = start_simulator(days=3, calls_per_day=10)
    graph = DigaGraph(settings_for(tmp_path / "data"))
    audit_asset = next(a for a in build_raw_assets(graph) if a.key == dg.AssetKey(CALL_DAY_AUDIT))

    result = dg.materialize([audit_asset], resources={"diga": api_resource(sim), "storage": storage_for(tmp_path)})

    assert result.asset_materializations_for_node(CALL_DAY_AUDIT)[0].metadata["days_audited"].value == 0
    assert sim.request_log == []
