"""The metric assets, built with real runs (``dagster.materialize``, real resources, DuckDB over
Parquet in tmp_path):

- from the simulator over HTTP, every column of call_outcome_rates, call_duration_stats and
  agent_version_outcomes equals an independent computation in plain Python, under the published
  status model (with the NULL agent group, empty days and an unknown status) and under Diga's
  newer four-status model; each day's headline metadata matches too;
- a day fetched under another partition time zone is refused, not counted on the wrong day;
- DIGA_OUTCOME_MAP replaces the outcome map, and a broken one fails the run naming it and the line;
- the phone assignment timeline over three snapshots (an agent change, a release, a phone that
  stays, one that disappears);
- two runs for different days, in two processes, write at the same moment and both succeed.
"""

import multiprocessing
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pytest

from diga_assets.assets.common import DigaGraph
from diga_assets.assets.curated import build_curated_calls_asset
from diga_assets.assets.metrics import build_metric_assets
from diga_assets.assets.metrics import daily as metrics_module
from diga_assets.assets.raw import build_raw_assets
from diga_assets.checks.metrics import build_metric_checks
from diga_assets.names import (
    CALL_DURATION_STATS,
    CALL_OUTCOME_RATES,
    CURATED_CALLS,
    DAILY_METRICS,
    PHONE_ASSIGNMENT_TIMELINE,
)
from diga_assets.simulator import World
from diga_assets_tests.assets.conftest import api_resource, range_tags, settings_for, storage_for
from diga_assets_tests.conftest import SIM_NOW
from diga_assets_tests.metric_data import (
    assert_metrics_match,
    call,
    days_between,
    expected_day_headlines,
    materialize_metrics,
    materialize_timeline,
    partition_metadata,
    phone,
    read_metric_day,
    write_raw_calls,
    write_raw_phones,
)
from diga_assets_tests.object_store import stored_names

# Run against a local data directory and against a bucket (each_storage).
pytestmark = pytest.mark.usefixtures("each_storage")


def planted_call(world: World, call_id: str, created_date: str, **overrides) -> dict:
    template = dict(world.calls_visible()[0])
    template.update(id=call_id, created_date=created_date, **overrides)
    return template


def build_from_simulator(sim, tmp_path: Path, first: str, last: str) -> dg.ExecuteInProcessResult:
    """One run over [first, last]: diga_calls, then the daily metrics and their checks."""
    graph = DigaGraph(settings_for(tmp_path / "data"))
    result = dg.materialize(
        [
            *build_raw_assets(graph),
            build_curated_calls_asset(graph),
            *build_metric_assets(graph),
            *build_metric_checks(graph),
        ],
        selection=dg.AssetSelection.assets("diga_calls", CURATED_CALLS, *DAILY_METRICS).without_checks()
        | dg.AssetSelection.checks_for_assets(*DAILY_METRICS),
        resources={"diga": api_resource(sim), "storage": storage_for(tmp_path)},
        tags=range_tags(first, last),
    )
    assert result.success
    # Every check that guards the numbers passes; a WARN may say the data needs attention (the
    # simulator's own end-reason codes are not in the shipped outcome map).
    assert all(e.passed for e in result.get_asset_check_evaluations() if e.severity == dg.AssetCheckSeverity.ERROR)
    return result


def test_seed_model_metrics_equal_an_independent_computation(start_simulator, tmp_path):
    world = World(now=SIM_NOW, days=5, calls_per_day=100)
    world.add_call(
        planted_call(world, "00000000-0000-4000-8000-0000000000ee", "2026-11-18T10:00:00Z", status="voicemail")
    )
    sim = start_simulator(world=world, validate=False)  # the planted status breaks the published contract
    keys = days_between("2026-11-13", "2026-11-20")  # the world starts on 11-15 at noon: 11-13, 11-14 are empty

    result = build_from_simulator(sim, tmp_path, keys[0], keys[-1])

    calls = assert_metrics_match(storage_for(tmp_path), keys)
    storage = storage_for(tmp_path)
    # The cases the comparison must have covered.
    empty = read_metric_day(storage, CALL_OUTCOME_RATES, "2026-11-13")
    assert empty.num_rows == 0 and empty.schema.field("completion_rate").type == "double"
    rates = storage.store.read_table(storage.layout.metric_partition(CALL_OUTCOME_RATES, "2026-11-18")).to_pylist()
    assert sum(r["other_status"] for r in rates) == 1
    assert any(c["agent_id"] is None for c in calls), "the simulator should give some calls no agent"
    null_groups = [
        r
        for key in keys
        for r in read_metric_day(storage, CALL_OUTCOME_RATES, key).to_pylist()
        if r["agent_id"] is None
    ]
    assert null_groups and sum(r["total_calls"] for r in null_groups) == sum(1 for c in calls if c["agent_id"] is None)

    # Headline numbers per day, as numbers, for the UI's plots.
    outcome_meta = partition_metadata(result, CALL_OUTCOME_RATES)
    duration_meta = partition_metadata(result, CALL_DURATION_STATS)
    assert sorted(outcome_meta) == keys
    for key in keys:
        want = expected_day_headlines(calls, date.fromisoformat(key))
        assert outcome_meta[key]["total_calls"] == want["total_calls"]
        assert outcome_meta[key].get("completion_rate") == pytest.approx(want["completion_rate"])
        assert duration_meta[key].get("median_duration_s") == pytest.approx(want["median_duration_s"])
        assert outcome_meta[key]["dagster/row_count"] == read_metric_day(storage, CALL_OUTCOME_RATES, key).num_rows
    preview = outcome_meta["2026-11-18"]["preview"]
    assert [column.name for column in preview.schema.columns][:4] == ["day", "agent_id", "agent_name", "call_type"]
    assert [record.data["total_calls"] for record in preview.records] == (
        read_metric_day(storage, CALL_OUTCOME_RATES, "2026-11-18").column("total_calls").to_pylist()[:10]
    )


@pytest.mark.one_storage(
    "the live model's arithmetic; test_seed_model_metrics_equal_an_independent_computation reads a bucket"
)
def test_current_status_model_metrics_equal_an_independent_computation(start_simulator, tmp_path):
    world = World(now=SIM_NOW, days=2, calls_per_day=150, status_model="current")
    world.add_call(
        planted_call(
            world,
            "00000000-0000-4000-8000-0000000000f1",
            "2026-11-20T11:58:00Z",
            status="in_queue",
            end_reason=None,
            duration=None,
            start_time=None,
            end_time=None,
            recording_url=None,
        )
    )
    sim = start_simulator(world=world)
    keys = days_between("2026-11-18", "2026-11-20")

    build_from_simulator(sim, tmp_path, keys[0], keys[-1])

    calls = assert_metrics_match(storage_for(tmp_path), keys)
    # Under the newer model the outcome comes from end_reason: the comparison covered those paths.
    assert {c["status"] for c in calls} <= {"dialing", "in_queue", "in_progress", "completed"}
    outcomes = {c["outcome"] for c in calls}
    assert {"completed", "voicemail", "no_answer", "unfinished"} <= outcomes


def test_a_day_fetched_under_another_time_zone_is_refused_naming_it_and_the_command(tmp_path):
    storage = storage_for(tmp_path)
    # Fetched when DIGA_TIMEZONE was UTC: 23:30 UTC on 11-01 is 00:30 on 11-02 in Madrid, so under
    # Madrid's days 11-01 no longer holds it; filing it under 11-01 would count it on the wrong day.
    write_raw_calls(storage, "2026-11-01", [call("c1", "2026-11-01T23:30:00Z"), call("c2", "2026-11-01T10:00:00Z")])
    write_raw_calls(storage, "2026-11-02", [call("c3", "2026-11-02T10:00:00Z")])

    result = materialize_metrics(
        tmp_path,
        [CALL_OUTCOME_RATES],
        first="2026-11-01",
        last="2026-11-02",
        timezone="Europe/Madrid",
        raise_on_error=False,
    )

    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    message = failure.step_failure_data.user_failure_data.description
    assert "1 call(s) stored under 2026-11-01 (call c1, say)" in message and "Europe/Madrid" in message
    assert "--select diga_calls --partition 2026-11-01" in message
    assert not storage.store.exists(storage.layout.curated_partition("calls", "2026-11-01"))
    assert not storage.store.exists(storage.layout.metric_partition(CALL_OUTCOME_RATES, "2026-11-01"))


def test_outcome_map_comes_from_diga_outcome_map_and_a_broken_one_fails_the_run_naming_it(tmp_path):
    storage = storage_for(tmp_path)
    write_raw_calls(
        storage,
        "2026-11-05",
        [
            call("a", "2026-11-05T09:00:00Z", end_reason="hangup"),
            call("b", "2026-11-05T09:01:00Z", end_reason="callee_busy"),
            call("c", "2026-11-05T09:02:00Z", status="queued_for_retry", end_reason=None),
        ],
    )
    custom = tmp_path / "my outcomes.csv"
    custom.write_text(
        "status,end_reason,outcome\ncompleted,,completed\ncompleted,callee_busy,no_answer\nqueued_for_retry,,unfinished\n"
    )

    materialize_metrics(tmp_path, [CALL_OUTCOME_RATES], first="2026-11-05", outcome_map=custom)

    [row] = read_metric_day(storage, CALL_OUTCOME_RATES, "2026-11-05").to_pylist()
    assert (row["completed"], row["no_answer"], row["unfinished"], row["other_status"]) == (1, 1, 1, 0)
    assert row["completion_rate"] == 0.5

    custom.write_text("status,end_reason,outcome\ncompleted,,completed\ncompleted,callee_busy,busy\n")
    result = materialize_metrics(
        tmp_path, [CALL_OUTCOME_RATES], first="2026-11-05", raise_on_error=False, outcome_map=custom
    )

    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    message = failure.step_failure_data.error.message
    assert f"DIGA_OUTCOME_MAP={custom}" in message and "line 3" in message and "'busy'" in message
    # The stored day was not touched by the failed run.
    assert read_metric_day(storage, CALL_OUTCOME_RATES, "2026-11-05").to_pylist() == [row]


def test_a_day_without_raw_calls_fails_naming_it_instead_of_reporting_no_calls(tmp_path):
    storage = storage_for(tmp_path)
    write_raw_calls(storage, "2026-11-05", [call("a", "2026-11-05T09:00:00Z")])

    result = materialize_metrics(
        tmp_path, [CALL_OUTCOME_RATES], first="2026-11-05", last="2026-11-07", raise_on_error=False
    )

    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    message = failure.step_failure_data.user_failure_data.description
    assert "2026-11-06, 2026-11-07" in message
    assert "--select diga_calls --partition-range 2026-11-06...2026-11-07" in message
    assert not storage.store.exists(storage.layout.metric_partition(CALL_OUTCOME_RATES, "2026-11-05"))


def test_the_daily_metrics_of_a_run_share_one_scan_and_a_subset_computes_only_itself(tmp_path, monkeypatch):
    """Reading the calls is a large part of a metric's cost (bench/metrics.py): one step
    computes whichever daily metrics a run selects from one read of the curated days."""
    storage = storage_for(tmp_path)
    for day in ("2026-11-05", "2026-11-06"):
        write_raw_calls(storage, day, [call(f"a-{day}", f"{day}T09:00:00Z")])
    computed: list[list[str]] = []
    original = metrics_module.compute_daily_metrics

    def counting(metrics, *args, **kwargs):
        computed.append([metric.name for metric in metrics])
        return original(metrics, *args, **kwargs)

    monkeypatch.setattr(metrics_module, "compute_daily_metrics", counting)

    everything = materialize_metrics(tmp_path, list(DAILY_METRICS), first="2026-11-05", last="2026-11-06")
    assert computed == [list(DAILY_METRICS)]
    materialized = {e.asset_key.to_user_string() for e in everything.get_asset_materialization_events()}
    assert materialized == {CURATED_CALLS, *DAILY_METRICS}

    computed.clear()
    one = materialize_metrics(tmp_path, [CALL_DURATION_STATS], first="2026-11-06", checks=False)
    assert computed == [[CALL_DURATION_STATS]]
    assert {e.asset_key.to_user_string() for e in one.get_asset_materialization_events()} == {
        CURATED_CALLS,
        CALL_DURATION_STATS,
    }


def test_a_computation_hands_out_each_days_rows_in_the_querys_order():
    table = pa.table(
        {
            "day": pa.array([date(2026, 11, 6), date(2026, 11, 5), date(2026, 11, 6), date(2026, 11, 5)], pa.date32()),
            "agent_id": ["b", "x", "a", "y"],
        }
    )
    computed = metrics_module.DailyComputation(table, headlines={})

    assert computed.rows_of(date(2026, 11, 5)).to_pydict() == {"day": [date(2026, 11, 5)] * 2, "agent_id": ["x", "y"]}
    assert computed.rows_of(date(2026, 11, 6)).to_pydict() == {"day": [date(2026, 11, 6)] * 2, "agent_id": ["b", "a"]}
    no_calls = computed.rows_of(date(2026, 11, 7))
    assert no_calls.num_rows == 0 and no_calls.schema == table.schema


S1 = datetime(2026, 11, 10, 0, 10, tzinfo=UTC)
S2 = datetime(2026, 11, 11, 0, 10, tzinfo=UTC)
S3 = datetime(2026, 11, 12, 0, 10, tzinfo=UTC)


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_phone_timeline_over_three_snapshots(tmp_path):
    storage = storage_for(tmp_path)
    moves = phone("p-moves", "assigned", inbound="agent-a", assigned_at="2026-11-01T09:00:00Z", nickname="Soporte")
    leaves = phone("p-leaves", "assigned", inbound="agent-c", assigned_at="2026-10-20T08:00:00Z")
    stays = phone("p-stays", "reserved")
    goes = phone("p-vanishes", "assigned", outbound="agent-d", assigned_at="2026-10-01T00:00:00Z")
    write_raw_phones(storage, "2026-11-09", [moves, leaves, stays, goes], S1)
    write_raw_phones(
        storage,
        "2026-11-10",
        [
            {**moves, "inbound_agent_id": "agent-b"},
            {**leaves, "scheduled_release_at": "2026-11-11T12:00:00Z"},
            stays,
            goes,
        ],
        S2,
    )
    third = [
        {**moves, "inbound_agent_id": "agent-b", "nickname": "Soporte 24h"},
        {**leaves, "status": "released", "inbound_agent_id": None, "released_at": "2026-11-11T13:00:00+01:00"},
        stays,
    ]
    # One observation filed under two days, as a range run of diga_phones does: counted once.
    write_raw_phones(storage, "2026-11-11", third, S3)
    write_raw_phones(storage, "2026-11-12", third, S3)

    result = materialize_timeline(tmp_path)

    rows = storage.store.read_table(storage.layout.metric_file(PHONE_ASSIGNMENT_TIMELINE)).to_pylist()
    got = [
        (r["phone_id"], r["status"], r["inbound_agent_id"], r["outbound_agent_id"], r["valid_from"], r["valid_to"])
        for r in rows
    ]
    assert got == [
        # Became assigned in its first stretch: starts at assigned_at; the release is stamped too.
        ("p-leaves", "assigned", "agent-c", None, ts("2026-10-20T08:00:00Z"), ts("2026-11-11T12:00:00Z")),
        ("p-leaves", "released", None, None, ts("2026-11-11T12:00:00Z"), None),
        # The agent change has no API timestamp: the new stretch starts at the snapshot showing it.
        ("p-moves", "assigned", "agent-a", None, ts("2026-11-01T09:00:00Z"), S2),
        ("p-moves", "assigned", "agent-b", None, S2, None),
        # Never changed: one stretch from the first snapshot, still open.
        ("p-stays", "reserved", None, None, S1, None),
        # Missing from the third snapshot: its stretch closes there.
        ("p-vanishes", "assigned", None, "agent-d", ts("2026-10-01T00:00:00Z"), S3),
    ]
    by_key = {(r["phone_id"], r["status"], r["inbound_agent_id"]): r for r in rows}
    assert by_key[("p-leaves", "assigned", "agent-c")]["scheduled_release_at"] == ts("2026-11-11T12:00:00Z")
    moved = by_key[("p-moves", "assigned", "agent-b")]
    assert (moved["nickname"], moved["first_observed_at"], moved["last_observed_at"]) == ("Soporte 24h", S2, S3)
    [materialization] = [e.event_specific_data.materialization for e in result.get_asset_materialization_events()]
    assert materialization.metadata["open_stretches"].value == 3
    assert materialization.metadata["dagster/row_count"].value == 6


def _materialize_day_when_both_are_ready(tmp: str, key: str, barrier) -> None:
    """Child process: one run for one day; its write waits until the other run is writing too."""
    from diga_assets.storage.local import LocalStore

    write = LocalStore.write_table

    def write_together(self, path, table):
        barrier.wait(timeout=60)
        return write(self, path, table)

    LocalStore.write_table = write_together
    result = materialize_metrics(Path(tmp), [CALL_OUTCOME_RATES, CALL_DURATION_STATS], first=key, checks=False)
    if not result.success:
        raise SystemExit(1)


@pytest.mark.local_only("its runs are child processes writing through a patched LocalStore")
def test_two_runs_for_different_days_write_at_once_and_both_succeed(tmp_path):
    storage = storage_for(tmp_path)
    keys = ["2026-11-06", "2026-11-07"]
    for n, key in enumerate(keys):
        write_raw_calls(
            storage, key, [call(f"{key}-{i}", f"{key}T1{i}:00:00Z", duration=10 * (i + n)) for i in range(5)]
        )
    spawn = multiprocessing.get_context("spawn")
    # Each run writes two assets in turn; the barrier lines up each write of one with one of the other.
    barrier = spawn.Barrier(2)
    runs = [
        spawn.Process(target=_materialize_day_when_both_are_ready, args=(str(tmp_path), key, barrier)) for key in keys
    ]
    for run in runs:
        run.start()
    for run in runs:
        run.join(timeout=120)

    assert [run.exitcode for run in runs] == [0, 0]
    for key in keys:
        for asset in (CALL_OUTCOME_RATES, CALL_DURATION_STATS):
            assert read_metric_day(storage, asset, key).num_rows == 1
            day_dir = storage.layout.metric_partition(asset, key).rsplit("/", 1)[0]
            assert stored_names(storage, day_dir) == ["part-0.parquet"]
    with storage.store.connect(str(storage.analysis_db), read_only=True) as con:
        assert con.execute("SELECT sum(total_calls) FROM call_outcome_rates").fetchone() == (10,)
        assert con.execute("SELECT count(*) FROM call_duration_stats").fetchone() == (2,)
