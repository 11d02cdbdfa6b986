"""The raw-layer checks, each against stored files where it passes and where it fails.

The asset refuses most bad records before they are stored, so the failing cases write a
partition file directly (as an older version of the project, a hand edit or a restore would)
and run the checks alone.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from diga_assets.assets.common import DigaGraph
from diga_assets.assets.curated import build_curated_calls_asset
from diga_assets.assets.metrics import build_metric_assets
from diga_assets.assets.raw import build_raw_assets
from diga_assets.checks import raw as raw_checks
from diga_assets.checks.raw import build_raw_checks
from diga_assets_tests.assets.conftest import api_resource, settings_for, storage_for
from diga_assets_tests.metric_data import call, phone, write_raw_calls, write_raw_phones

# Run against a local data directory and against a bucket (each_storage).
pytestmark = pytest.mark.usefixtures("each_storage")


DAY = "2026-11-05"


def run_raw_checks(tmp_path, asset: str, key: str = DAY) -> dict[str, dg.AssetCheckEvaluation]:
    """Run only the checks of ``asset`` for one day, against the files already stored."""
    graph = DigaGraph(settings_for(tmp_path / "data"))
    result = dg.materialize(
        build_raw_checks(graph),
        selection=dg.AssetSelection.checks_for_assets(asset),
        resources={"storage": storage_for(tmp_path)},
        tags={"dagster/partition": key},
        raise_on_error=False,
    )
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def clean_day(tmp_path, key: str = DAY, prefix: str = "c") -> None:
    write_raw_calls(storage_for(tmp_path), key, [call(f"{prefix}-{i}", f"{key}T10:{i:02d}:00Z") for i in range(5)])


def test_every_calls_check_passes_on_clean_days(tmp_path):
    clean_day(tmp_path, "2026-11-04", prefix="a")
    clean_day(tmp_path, DAY, prefix="b")

    checks = run_raw_checks(tmp_path, "diga_calls")

    assert {name for name, e in checks.items() if e.passed} == {
        "call_ids_unique",
        "required_fields_present",
        "call_times_consistent",
        "enum_values_within_spec",
    }
    assert checks["call_ids_unique"].metadata["files_checked"].value == 2


def test_an_id_stored_on_a_neighbouring_day_fails_uniqueness_naming_id_and_days(tmp_path):
    write_raw_calls(storage_for(tmp_path), "2026-11-06", [call("dup-1", "2026-11-06T00:00:00Z")])
    write_raw_calls(storage_for(tmp_path), DAY, [call("dup-1", f"{DAY}T23:59:59Z"), call("ok", f"{DAY}T10:00:00Z")])

    check = run_raw_checks(tmp_path, "diga_calls")["call_ids_unique"]

    assert not check.passed
    assert check.severity == dg.AssetCheckSeverity.ERROR
    assert "dup-1 x2 in 2026-11-05, 2026-11-06" in check.description


def test_a_long_range_checked_in_passes_finds_the_same_duplicates_as_one_pass(tmp_path, monkeypatch):
    """Long ranges are checked one hash slice at a time to bound memory; each slice must still
    find every duplicate whose copies it holds, and together exactly those of one pass."""
    storage = storage_for(tmp_path)
    days = [f"2026-11-{n:02d}" for n in range(1, 11)]
    for n, day in enumerate(days):
        repeated = [call(f"dup-{k}", f"{day}T12:00:00Z") for k in range(n % 4)]
        write_raw_calls(storage, day, [*repeated, *(call(f"{day}-{i}", f"{day}T10:{i:02d}:00Z") for i in range(30))])
    files = storage.existing_raw_files("calls", days)

    in_one_pass = raw_checks.duplicate_call_ids(storage.store, files)
    monkeypatch.setattr(raw_checks, "ROWS_PER_DUPLICATE_ID_PASS", 65)  # 313 calls: five passes
    in_five_passes = raw_checks.duplicate_call_ids(storage.store, files)

    assert in_one_pass == in_five_passes
    assert [(call_id, copies) for call_id, copies, _ in in_five_passes] == [("dup-0", 7), ("dup-1", 4), ("dup-2", 2)]


def test_a_null_in_a_required_column_fails_naming_the_column(tmp_path):
    path = write_raw_calls(storage_for(tmp_path), DAY, [call("a", f"{DAY}T10:00:00Z"), call("b", f"{DAY}T11:00:00Z")])
    table = pq.read_table(path)
    index = table.schema.get_field_index("status")
    nullable_status = table.schema.field("status").with_nullable(True)
    pq.write_table(table.set_column(index, nullable_status, pa.array([None, "completed"], pa.string())), path)

    check = run_raw_checks(tmp_path, "diga_calls")["required_fields_present"]

    assert not check.passed
    assert "status (1 rows)" in check.description


def test_contradictory_call_times_fail_naming_the_call(tmp_path):
    negative = call("negative", f"{DAY}T10:00:00Z", duration=-5)
    backwards = call("backwards", f"{DAY}T11:00:00Z") | {"end_time": f"{DAY}T10:59:00Z"}
    write_raw_calls(storage_for(tmp_path), DAY, [negative, backwards, call("fine", f"{DAY}T12:00:00Z")])

    check = run_raw_checks(tmp_path, "diga_calls")["call_times_consistent"]

    assert not check.passed
    assert "negative (duration=-5" in check.description and "backwards (" in check.description
    assert "fine" not in check.description


def test_phone_checks_pass_on_a_snapshot_taken_right_after_its_day(tmp_path):
    observed = datetime(2026, 11, 6, 0, 15, tzinfo=UTC)
    write_raw_phones(storage_for(tmp_path), DAY, [phone("p1", "assigned"), phone("p2", "reserved")], observed)

    checks = run_raw_checks(tmp_path, "diga_phones")

    assert checks["enum_values_within_spec"].passed
    assert checks["observed_near_day_end"].passed
    assert checks["observed_near_day_end"].metadata["max_lag_hours"].value == 0.25


def test_phone_checks_warn_on_unknown_status_and_on_a_late_snapshot(tmp_path):
    observed = datetime(2026, 11, 6, tzinfo=UTC) + timedelta(days=3)
    write_raw_phones(storage_for(tmp_path), DAY, [phone("p1", "suspended")], observed)

    checks = run_raw_checks(tmp_path, "diga_phones")

    assert not checks["enum_values_within_spec"].passed
    assert checks["enum_values_within_spec"].severity == dg.AssetCheckSeverity.WARN
    assert "'suspended' (1)" in checks["enum_values_within_spec"].description
    late = checks["observed_near_day_end"]
    assert not late.passed and late.severity == dg.AssetCheckSeverity.WARN
    assert "2026-11-05 (+72.0 h)" in late.description


def test_a_duplicate_id_blocks_the_metrics_of_the_run(start_simulator, tmp_path):
    sim = start_simulator()
    served = sim.world.calls_created_between(datetime(2026, 11, 18, tzinfo=UTC), datetime(2026, 11, 19, tzinfo=UTC))
    # The neighbouring day already holds one of the calls the API now files under 2026-11-18
    # (say its created_date was corrected after the first fetch).
    moved = served[0] | {"created_date": "2026-11-17T23:59:00Z"}
    write_raw_calls(storage_for(tmp_path), "2026-11-17", [moved])
    graph = DigaGraph(settings_for(tmp_path / "data"))
    assets = ("diga_calls", "curated_calls", "call_outcome_rates")

    result = dg.materialize(
        [
            *build_raw_assets(graph),
            build_curated_calls_asset(graph),
            *build_metric_assets(graph),
            *build_raw_checks(graph),
        ],
        selection=dg.AssetSelection.assets(*assets) | dg.AssetSelection.checks_for_assets(*assets),
        resources={"diga": api_resource(sim), "storage": storage_for(tmp_path)},
        partition_key="2026-11-18",
        raise_on_error=False,
    )

    unique = {e.check_name: e for e in result.get_asset_check_evaluations()}["call_ids_unique"]
    assert not unique.passed and served[0]["id"] in unique.description
    materialized = {e.asset_key.path[-1] for e in result.get_asset_materialization_events()}
    assert materialized == {"diga_calls"}
    assert not storage_for(tmp_path).store.exists(
        storage_for(tmp_path).layout.metric_partition("call_outcome_rates", "2026-11-18")
    )
