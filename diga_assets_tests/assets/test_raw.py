"""The raw layer against the simulator over HTTP, with faults on: single-run backfills that are
exact to the row, day boundaries under every offset, atomic replacement, and failures that
never touch what is already stored."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from diga_assets.api.records import CALLS
from diga_assets.names import UNPREFIXED, Names
from diga_assets.simulator import Fault, FaultConfig, World
from diga_assets_tests.assets.conftest import storage_for, window_of
from diga_assets_tests.conftest import SIM_KEY, SIM_NOW
from diga_assets_tests.object_store import stored_names

# Run against a local data directory and against a bucket (each_storage).
pytestmark = pytest.mark.usefixtures("each_storage")

DAYS = [f"2026-11-{d:02d}" for d in range(12, 19)]  # 7 whole days before SIM_NOW


def stored_rows(tmp_path, key: str, dataset: str = "calls", columns: list[str] | None = None) -> pa.Table:
    """The stored raw partition ``key`` of ``dataset``, read through the store."""
    storage = storage_for(tmp_path)
    return storage.store.read_table(storage.layout.raw_partition(dataset, key), columns=columns)


def stored_ids(tmp_path, key: str, dataset: str = "calls") -> list[str]:
    return stored_rows(tmp_path, key, dataset, columns=["id"]).column("id").to_pylist()


def expected_ids(world: World, key: str, timezone: str = "UTC") -> list[str]:
    window = window_of(key, timezone)
    return [c["id"] for c in world.calls_created_between(window.start, window.end)]


def planted_call(world: World, call_id: str, created_date: str, **overrides) -> dict:
    template = dict(world.calls_visible()[0])
    template.update(id=call_id, created_date=created_date, **overrides)
    return template


def materializations(result: dg.ExecuteInProcessResult, asset: str = "diga_calls") -> dict[str, dict]:
    return {
        event.partition: event.metadata
        for event in (e.event_specific_data.materialization for e in result.get_asset_materialization_events())
        if event.asset_key.path[-1] == asset
    }


def recorded_partitions(instance: dg.DagsterInstance, asset: str = "diga_calls") -> list[str]:
    """Partitions the instance recorded as materialized (also those logged by a failed step)."""
    records = instance.fetch_materializations(dg.AssetKey(asset), limit=1000).records
    return [record.partition_key for record in records]


def test_a_seven_day_backfill_is_one_run_and_exact_to_the_row(start_simulator, materialize_raw, tmp_path):
    faults = FaultConfig(seed=3, rate_429=0.15, retry_after="0", rate_5xx=0.15)
    sim = start_simulator(days=9, calls_per_day=400, faults=faults)

    result = materialize_raw(sim, first=DAYS[0], last=DAYS[-1], calls_page_size=100)

    assert result.success
    assert {r.status for r in sim.request_log} >= {429, 200}, "faults should have fired"
    seen: dict[str, str] = {}
    for key in DAYS:
        ids = stored_ids(tmp_path, key)
        assert ids == expected_ids(sim.world, key), key
        assert ids, f"{key} should hold calls"
        for call_id in ids:
            assert call_id not in seen, f"{call_id} is in {seen.get(call_id)} and {key}"
            seen[call_id] = key
    recorded = materializations(result)
    assert sorted(recorded) == DAYS
    assert recorded[DAYS[0]]["dagster/row_count"].value == len(stored_ids(tmp_path, DAYS[0]))
    assert sum(m["retries"].value for m in recorded.values()) > 0


def test_a_call_at_exactly_midnight_lands_in_one_day_only(start_simulator, materialize_raw, tmp_path):
    world = World(now=SIM_NOW, days=5, calls_per_day=50)
    world.add_call(planted_call(world, "00000000-0000-4000-8000-0000000000aa", "2026-11-18T00:00:00Z"))
    world.add_call(planted_call(world, "00000000-0000-4000-8000-0000000000bb", "2026-11-17T23:59:59.999999+00:00"))
    sim = start_simulator(world=world)

    assert materialize_raw(sim, first="2026-11-17", last="2026-11-18").success

    day17, day18 = stored_ids(tmp_path, "2026-11-17"), stored_ids(tmp_path, "2026-11-18")
    assert "00000000-0000-4000-8000-0000000000aa" in day18 and "00000000-0000-4000-8000-0000000000aa" not in day17
    assert "00000000-0000-4000-8000-0000000000bb" in day17 and "00000000-0000-4000-8000-0000000000bb" not in day18


def test_an_offset_date_time_lands_on_its_utc_day(start_simulator, materialize_raw, tmp_path):
    world = World(now=SIM_NOW, days=5, calls_per_day=50)
    world.add_call(planted_call(world, "00000000-0000-4000-8000-0000000000cc", "2026-11-18T00:30:00+01:00"))
    sim = start_simulator(world=world)

    assert materialize_raw(sim, first="2026-11-17", last="2026-11-18").success

    assert "00000000-0000-4000-8000-0000000000cc" in stored_ids(tmp_path, "2026-11-17")
    assert "00000000-0000-4000-8000-0000000000cc" not in stored_ids(tmp_path, "2026-11-18")


def test_days_follow_the_partition_time_zone(start_simulator, materialize_raw, tmp_path):
    world = World(now=SIM_NOW, days=5, calls_per_day=50)
    # 23:30 UTC on the 17th is 00:30 on the 18th in Madrid.
    world.add_call(planted_call(world, "00000000-0000-4000-8000-0000000000dd", "2026-11-17T23:30:00Z"))
    sim = start_simulator(world=world)

    assert materialize_raw(sim, first="2026-11-17", last="2026-11-18", timezone="Europe/Madrid").success

    assert stored_ids(tmp_path, "2026-11-18") == expected_ids(world, "2026-11-18", "Europe/Madrid")
    assert "00000000-0000-4000-8000-0000000000dd" in stored_ids(tmp_path, "2026-11-18")


def test_rematerializing_a_day_replaces_it(start_simulator, materialize_raw, tmp_path):
    sim = start_simulator(now=SIM_NOW - timedelta(hours=11, minutes=58))  # the 19th's last calls are in progress
    assert materialize_raw(sim, first="2026-11-19").success
    first = stored_rows(tmp_path, "2026-11-19", "calls").to_pylist()

    sim.world.advance(timedelta(hours=12))
    assert materialize_raw(sim, first="2026-11-19").success

    storage = storage_for(tmp_path)
    assert stored_names(storage, storage.layout.raw_partition("calls", "2026-11-19").rsplit("/", 1)[0]) == [
        "part-0.parquet"
    ]
    second = stored_rows(tmp_path, "2026-11-19").to_pylist()
    assert [r["id"] for r in second] == expected_ids(sim.world, "2026-11-19")
    assert len({r["id"] for r in second}) == len(second)
    assert {r["id"] for r in first} <= {r["id"] for r in second}
    assert min(r["fetched_at"] for r in second) > max(r["fetched_at"] for r in first)


def test_an_unknown_status_is_kept_counted_and_flagged(start_simulator, materialize_raw, tmp_path):
    world = World(now=SIM_NOW, days=5, calls_per_day=50, status_model="current")
    world.add_call(
        planted_call(world, "00000000-0000-4000-8000-0000000000ee", "2026-11-18T10:00:00Z", status="voicemail")
    )
    sim = start_simulator(world=world, validate=False)

    result = materialize_raw(sim, first="2026-11-18")

    assert result.success
    stored = stored_rows(tmp_path, "2026-11-18", "calls").to_pylist()
    assert [r["status"] for r in stored if r["id"] == "00000000-0000-4000-8000-0000000000ee"] == ["voicemail"]
    metadata = materializations(result)["2026-11-18"]
    assert metadata["status_voicemail"].value == 1
    assert metadata["unknown_enum_values"].value == 1
    [check] = [c for c in result.get_asset_check_evaluations() if c.check_name == "enum_values_within_spec"]
    assert check.passed is False and check.severity == dg.AssetCheckSeverity.WARN
    assert "'voicemail' (1)" in check.description


def test_the_enum_check_passes_on_what_the_live_api_serves(start_simulator, materialize_raw, tmp_path):
    sim = start_simulator(status_model="current")
    result = materialize_raw(sim, first="2026-11-18")
    assert result.success
    assert stored_ids(tmp_path, "2026-11-18") == expected_ids(sim.world, "2026-11-18")
    [check] = [c for c in result.get_asset_check_evaluations() if c.check_name == "enum_values_within_spec"]
    assert check.passed is True
    assert materializations(result)["2026-11-18"]["unknown_enum_values"].value == 0


def test_the_published_status_model_is_kept_and_flagged_not_failed(start_simulator, materialize_raw, tmp_path):
    # The statuses of the published pages (failed, transferred, no_answer) are not the live API's:
    # stored as they came, counted, and named by the WARN check.
    sim = start_simulator(status_model="seed")
    result = materialize_raw(sim, first="2026-11-18")
    assert result.success
    assert stored_ids(tmp_path, "2026-11-18") == expected_ids(sim.world, "2026-11-18")
    [check] = [c for c in result.get_asset_check_evaluations() if c.check_name == "enum_values_within_spec"]
    assert check.passed is False and "'transferred'" in check.description


def test_a_field_the_spec_does_not_name_is_kept_in_extra_fields(start_simulator, materialize_raw, tmp_path):
    world = World(now=SIM_NOW, days=5, calls_per_day=50, status_model="current")
    planted = planted_call(world, "00000000-0000-4000-8000-0000000000ef", "2026-11-18T10:00:00Z")
    planted = {name: value for name, value in planted.items() if name in CALLS.known_top_level_fields}
    world.add_call({**planted, "sentiment": "positive"})
    sim = start_simulator(world=world, validate=False)

    assert materialize_raw(sim, first="2026-11-18").success

    stored = stored_rows(tmp_path, "2026-11-18", "calls").to_pylist()
    [row] = [r for r in stored if r["id"] == "00000000-0000-4000-8000-0000000000ef"]
    assert json.loads(row["extra_fields"]) == {"sentiment": "positive"}


def test_a_bad_key_fails_the_run_clearly_and_leaves_stored_partitions_untouched(
    start_simulator, materialize_raw, tmp_path
):
    sim = start_simulator()
    assert materialize_raw(sim, first="2026-11-18").success
    storage = storage_for(tmp_path)
    path = storage.layout.raw_partition("calls", "2026-11-18")
    before = storage.store.read_bytes(path)

    result = materialize_raw(sim, first="2026-11-17", last="2026-11-18", api_key="wrong-key", raise_on_error=False)

    assert not result.success
    failure = result.get_step_failure_events()[0].event_specific_data.error
    assert "the API key was refused (403" in failure.message and "DIGA_API_KEY lacks Read permission" in failure.message
    assert "wrong-key" not in failure.to_string()
    assert storage.store.read_bytes(path) == before
    assert not storage_for(tmp_path).store.exists(storage_for(tmp_path).layout.raw_partition("calls", "2026-11-17"))


def test_a_bad_record_fails_its_day_and_names_it_while_other_days_stay_written(
    start_simulator, materialize_raw, tmp_path
):
    world = World(now=SIM_NOW, days=5, calls_per_day=50)
    world.add_call(planted_call(world, "00000000-0000-4000-8000-0000000000ff", "2026-11-17T09:00:00Z", duration="long"))
    sim = start_simulator(world=world, validate=False)

    instance = dg.DagsterInstance.ephemeral()

    result = materialize_raw(sim, first="2026-11-16", last="2026-11-18", raise_on_error=False, instance=instance)

    assert not result.success
    message = result.get_step_failure_events()[0].event_specific_data.error.message
    assert "00000000-0000-4000-8000-0000000000ff" in message and "'duration'" in message and "'long'" in message
    assert "2026-11-17" in message
    assert "--partition 2026-11-17" in message
    assert not storage_for(tmp_path).store.exists(storage_for(tmp_path).layout.raw_partition("calls", "2026-11-17"))
    for key in ("2026-11-16", "2026-11-18"):
        assert stored_ids(tmp_path, key) == expected_ids(world, key)
    assert sorted(recorded_partitions(instance)) == ["2026-11-16", "2026-11-18"]


def test_server_errors_beyond_the_caps_fail_only_those_days(start_simulator, materialize_raw, tmp_path):
    sim = start_simulator()
    # One day at a time, one page per day: the first day exhausts its 3 attempts, the next two
    # days go through untouched, and the first day's second round fails its 3 attempts again.
    unavailable = [Fault("status", status=503)] * 3
    sim.faults.add(*unavailable, None, None, *unavailable)
    instance = dg.DagsterInstance.ephemeral()

    result = materialize_raw(
        sim,
        first="2026-11-16",
        last="2026-11-18",
        max_attempts=3,
        max_concurrency=1,
        raise_on_error=False,
        instance=instance,
    )

    assert not result.success
    message = result.get_step_failure_events()[0].event_specific_data.error.message
    assert "1 of 3 days failed" in message and "503" in message
    assert "dagster asset materialize -m diga_assets.definitions --select diga_calls --partition 2026-11-16" in message
    assert sorted(recorded_partitions(instance)) == ["2026-11-17", "2026-11-18"]
    assert not storage_for(tmp_path).store.exists(storage_for(tmp_path).layout.raw_partition("calls", "2026-11-16"))


def test_rerun_commands_cover_exactly_the_failed_days():
    base = "dagster asset materialize -m diga_assets.definitions --select diga_calls"
    assert UNPREFIXED.rerun_commands("diga_calls", ["2026-11-03", "2026-11-01", "2026-11-02", "2026-11-09"]) == [
        f"{base} --partition-range 2026-11-01...2026-11-03",
        f"{base} --partition 2026-11-09",
    ]
    # An instance of DigaComponent in another project is re-run with dg, under its key prefix.
    assert Names(("acme", "eu"), launch="dg launch --assets").rerun_commands("diga_calls", ["2026-11-09"]) == [
        "dg launch --assets acme/eu/diga_calls --partition 2026-11-09"
    ]


_SLOW_WRITER = textwrap.dedent(
    """
    import sys
    from datetime import datetime
    import dagster as dg
    from diga_assets.simulator import DigaSimulator, FaultConfig, World
    from diga_assets.assets.common import DigaGraph
    from diga_assets.assets.raw import build_raw_assets
    from diga_assets_tests.assets.conftest import api_resource, settings_for, storage_for
    from pathlib import Path

    tmp = Path(sys.argv[1])
    world = World(now=datetime.fromisoformat(sys.argv[2]), days=5, calls_per_day=400)
    with DigaSimulator(world, api_key=sys.argv[3], faults=FaultConfig(latency_ms=400)) as sim:
        assets = build_raw_assets(DigaGraph(settings_for(tmp / "data")))
        dg.materialize(
            assets, selection="diga_calls", partition_key="2026-11-18",
            resources={"diga": api_resource(sim, calls_page_size=5), "storage": storage_for(tmp)},
        )
    """
)


@pytest.mark.local_only("waits for the temporary file beside the partition; the bucket case is a process fault test")
def test_a_run_killed_mid_write_leaves_the_old_partition_and_no_partial_file(
    start_simulator, materialize_raw, tmp_path
):

    sim = start_simulator()
    assert materialize_raw(sim, first="2026-11-18").success
    path = Path(storage_for(tmp_path).layout.raw_partition("calls", "2026-11-18"))
    before = hashlib.sha256(path.read_bytes()).hexdigest()

    # The child's stderr goes to a file: a pipe nobody reads could fill and stall the child.
    log = tmp_path / "writer.log"
    with open(log, "wb") as stderr:
        writer = subprocess.Popen(
            [sys.executable, "-c", _SLOW_WRITER, str(tmp_path), SIM_NOW.isoformat(), SIM_KEY],
            env={**os.environ, "PYTHONPATH": os.getcwd()},
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        deadline = time.monotonic() + 60
        while not list(path.parent.glob(".*.tmp")):
            assert writer.poll() is None, log.read_text(errors="replace")[-2000:]
            assert time.monotonic() < deadline, "the writer never started its temporary file"
            time.sleep(0.05)
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
    finally:
        if writer.poll() is None:
            writer.kill()
    assert writer.returncode == -signal.SIGKILL
    assert [p.name for p in path.parent.glob("*.parquet")] == ["part-0.parquet"]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert pq.read_table(path).num_rows == len(expected_ids(sim.world, "2026-11-18"))


def test_phone_snapshots_record_when_they_were_really_observed(start_simulator, materialize_raw, tmp_path):
    sim = start_simulator()
    before = datetime.now(UTC)
    result = materialize_raw(sim, first="2026-11-01", last="2026-11-02", select="diga_phones")
    after = datetime.now(UTC)

    assert result.success
    for key in ("2026-11-01", "2026-11-02"):
        table = stored_rows(tmp_path, key, "phones")
        assert sorted(table.column("id").to_pylist()) == sorted(p["id"] for p in sim.world.phones_visible())
        observed = set(table.column("observed_at").to_pylist())
        assert len(observed) == 1 and before <= observed.pop() <= after
    metadata = materializations(result, "diga_phones")
    assert metadata["2026-11-01"]["observed_hours_after_day_end"].value > 24 * 20
    [lag] = [c for c in result.get_asset_check_evaluations() if c.check_name == "observed_near_day_end"]
    assert lag.passed is False and lag.severity == dg.AssetCheckSeverity.WARN
    assert "2026-11-01" in lag.description


def test_a_later_phone_observation_does_not_replace_a_closer_one(start_simulator, materialize_raw, tmp_path):
    sim = start_simulator()
    storage = storage_for(tmp_path)
    path = storage.layout.raw_partition("phones", "2026-11-01")
    assert materialize_raw(sim, first="2026-11-01", select="diga_phones").success
    before = storage.store.read_bytes(path)

    result = materialize_raw(sim, first="2026-11-01", select="diga_phones")

    assert result.success
    assert storage.store.read_bytes(path) == before
    assert materializations(result, "diga_phones")["2026-11-01"]["kept_existing_snapshot"].value is True


@pytest.mark.parametrize(("rate_429", "rate_5xx"), [(0.3, 0.0), (0.0, 0.3)])
def test_phones_survive_faults(start_simulator, materialize_raw, tmp_path, rate_429, rate_5xx):
    sim = start_simulator(phones=40, faults=FaultConfig(seed=1, rate_429=rate_429, retry_after="0", rate_5xx=rate_5xx))
    assert materialize_raw(sim, first="2026-11-19", select="diga_phones", phones_page_size=5).success
    table = stored_rows(tmp_path, "2026-11-19", "phones")
    assert sorted(table.column("id").to_pylist()) == sorted(p["id"] for p in sim.world.phones_visible())
