"""``curated_calls`` and the ``calls`` view over it (real runs, DuckDB over Parquet, a local
directory and a bucket):

- each curated day holds the day's stored calls by creation time, each with the outcome and the
  rule that gave it, equal to an independent computation; a call stored under two days blocks
  the metrics;
- the curated ``calls`` view has the columns and rows of the view computed from the raw snapshots;
- a filter on ``day`` opens only those days' files;
- a changed outcome map shows once the days are curated again, with no API request;
- a project with raw days but no curated ones (an upgrade) still answers, and says which days to
  curate; the metrics refuse a day that is not curated, naming the command.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import dagster as dg
import pytest

from diga_assets.analysis.outcome_map import DEFAULT_OUTCOME_MAP
from diga_assets.analysis.views import (
    View,
    curated_calls_view,
    outcome_map_view,
    refresh_analysis_db,
    stored_calls_view,
    views_connection,
)
from diga_assets.assets.common import DigaGraph
from diga_assets.assets.curated import build_curated_calls_asset
from diga_assets.assets.metrics import build_metric_assets
from diga_assets.checks.curated import build_curated_checks
from diga_assets.names import CALL_OUTCOME_RATES, CALLS_DATASET, CURATED_CALLS
from diga_assets_tests.assets.conftest import settings_for, storage_for
from diga_assets_tests.metric_data import call, mapped_by, materialize_metrics, outcome_of, write_raw_calls

# Run against a local data directory and against a bucket (each_storage).
pytestmark = pytest.mark.usefixtures("each_storage")

MADRID = "Europe/Madrid"
LOG = logging.getLogger(__name__)


def materialize_curated(tmp_path, first: str, last: str | None = None, timezone: str = "UTC", **kwargs):
    """Materialize curated_calls alone (no API resource: it must not need one)."""
    graph = DigaGraph(settings_for(tmp_path / "data", timezone))
    tags = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last or first}
    return dg.materialize(
        [build_curated_calls_asset(graph)], resources={"storage": storage_for(tmp_path)}, tags=tags, **kwargs
    )


def curated_rows(tmp_path, key: str) -> list[dict]:
    storage = storage_for(tmp_path)
    return storage.store.read_table(storage.layout.curated_partition(CALLS_DATASET, key)).to_pylist()


def test_each_curated_day_holds_its_days_calls_by_creation_time_with_their_outcome(tmp_path):
    storage = storage_for(tmp_path)
    # Days of Europe/Madrid, filed as diga_calls files them: 2026-11-05T23:30Z is the 6th there.
    stored = {
        "2026-11-05": [
            call("b", "2026-11-05T10:00:00Z", end_reason="voicemail_left"),
            call("a", "2026-11-05T09:00:00Z", status="in_progress", end_reason=None),
        ],
        "2026-11-06": [
            call("d", "2026-11-06T12:00:00Z", status="voicemail", end_reason=None),
            call("c", "2026-11-05T23:30:00Z", status="dialing", end_reason=None),
            call("e", "2026-11-06T13:00:00Z", end_reason="sim_transferred"),
        ],
        "2026-11-07": [],
    }
    for key, records in stored.items():
        write_raw_calls(storage, key, records)

    materialize_curated(tmp_path, "2026-11-05", "2026-11-07", timezone=MADRID)

    for key in stored:
        raw = storage.store.read_table(storage.layout.raw_partition(CALLS_DATASET, key)).to_pylist()
        raw.sort(key=lambda row: (row["created_date"], row["id"]))
        rows = curated_rows(tmp_path, key)
        # Every column of the stored call as it is, then how it was counted, and that the day is
        # whole (fetched after it ended).
        assert [{k: v for k, v in row.items() if not k.startswith("outcome") and k != "partial"} for row in rows] == raw
        assert {row["partial"] for row in rows} <= {False}, key
        assert [(r["outcome"], r["outcome_mapped_by"]) for r in rows] == [
            (outcome_of(r["status"], r["end_reason"]), mapped_by(r["status"], r["end_reason"])) for r in raw
        ]
    assert [(r["id"], r["outcome"]) for r in curated_rows(tmp_path, "2026-11-06")] == [
        ("c", "unfinished"),
        ("d", "other"),
        ("e", "completed"),
    ]
    assert curated_rows(tmp_path, "2026-11-07") == []


def test_a_day_fetched_before_it_ended_is_curated_as_partial_in_its_own_time_zone(tmp_path):
    storage = storage_for(tmp_path)
    records = [call("a", "2026-11-05T09:00:00Z"), call("b", "2026-11-05T22:30:00Z")]
    # 23:30 UTC on the 5th is 00:30 on the 6th in Madrid: the 5th there had ended an hour before.
    write_raw_calls(storage, "2026-11-05", records, fetched_at=datetime(2026, 11, 5, 22, 45, tzinfo=UTC))
    write_raw_calls(
        storage, "2026-11-04", [call("c", "2026-11-04T09:00:00Z")], fetched_at=datetime(2026, 11, 4, 23, 30, tzinfo=UTC)
    )

    materialize_curated(tmp_path, "2026-11-04", "2026-11-05", timezone=MADRID)

    assert {row["partial"] for row in curated_rows(tmp_path, "2026-11-05")} == {True}
    assert {row["partial"] for row in curated_rows(tmp_path, "2026-11-04")} == {False}


def test_a_call_curated_under_two_days_blocks_the_metrics(tmp_path):
    storage = storage_for(tmp_path)
    # Fetched under the 5th, then under the 6th once its created_date was corrected; only the
    # 6th is fetched again, so diga_calls' own check never ran over both.
    write_raw_calls(storage, "2026-11-05", [call("moved", "2026-11-05T23:00:00Z")])
    write_raw_calls(storage, "2026-11-06", [call("moved", "2026-11-06T00:10:00Z"), call("x", "2026-11-06T09:00:00Z")])
    graph = DigaGraph(settings_for(tmp_path / "data"))
    assets = (CURATED_CALLS, CALL_OUTCOME_RATES)

    result = dg.materialize(
        [build_curated_calls_asset(graph), *build_metric_assets(graph), *build_curated_checks(graph)],
        selection=dg.AssetSelection.assets(*assets) | dg.AssetSelection.checks_for_assets(*assets),
        resources={"storage": storage},
        tags={"dagster/asset_partition_range_start": "2026-11-05", "dagster/asset_partition_range_end": "2026-11-06"},
        raise_on_error=False,
    )

    [unique] = [e for e in result.get_asset_check_evaluations() if e.check_name == "call_ids_unique"]
    assert not unique.passed and "moved x2 in 2026-11-05, 2026-11-06" in unique.description
    assert {e.asset_key.path[-1] for e in result.get_asset_materialization_events()} == {CURATED_CALLS}
    assert not storage.store.exists(storage.layout.metric_partition(CALL_OUTCOME_RATES, "2026-11-06"))


def test_the_curated_calls_view_equals_the_view_computed_from_the_raw_snapshots(tmp_path):
    storage = storage_for(tmp_path)
    for n, day in enumerate(("2026-11-05", "2026-11-06", "2026-11-07")):
        records = [
            call(f"{day}-{i}", f"{day}T{8 + i:02d}:00:00Z", end_reason=("hangup", "ivr_unreachable", None)[(i + n) % 3])
            for i in range(6)
        ]
        write_raw_calls(storage, day, records)
    materialize_curated(tmp_path, "2026-11-05", "2026-11-07")
    from_raw = View(CALLS_DATASET, "create_calls_view", {}, True)
    views = [outcome_map_view(DEFAULT_OUTCOME_MAP), stored_calls_view(storage.store), from_raw]

    with views_connection(storage.store, views) as (con, _):
        con.execute("ALTER VIEW calls RENAME TO calls_from_raw")
        con.execute(curated_calls_view(storage.store).sql())
        # The raw snapshots cannot say whether a day had ended when it was fetched (that needs the
        # partition time zone): `partial` is the curated days' own column.
        partial = con.sql("SELECT DISTINCT partial FROM calls").fetchall()
        con.execute("ALTER VIEW calls RENAME TO curated")
        con.execute("CREATE VIEW calls AS SELECT * EXCLUDE (partial) FROM curated")
        columns = [con.sql(f"DESCRIBE {view}").fetchall() for view in ("calls_from_raw", "calls")]
        differences = con.sql(
            "(FROM calls_from_raw EXCEPT ALL FROM calls) UNION ALL (FROM calls EXCEPT ALL FROM calls_from_raw)"
        ).fetchall()
        count = con.execute("SELECT count(*) FROM calls").fetchone()

    assert columns[0] == columns[1]
    assert differences == [] and count == (18,)
    assert partial == [(False,)]


def test_a_filter_on_day_opens_only_that_days_file(tmp_path):
    storage = storage_for(tmp_path)
    for day in ("2026-11-05", "2026-11-06"):
        write_raw_calls(storage, day, [call(f"{day}-{i}", f"{day}T09:0{i}:00Z") for i in range(3)])
    materialize_curated(tmp_path, "2026-11-05", "2026-11-06")
    refresh_analysis_db(storage.store, DEFAULT_OUTCOME_MAP, log=LOG)
    # A file no reader can parse: any query that opens it fails.
    storage.store.write_bytes(
        storage.layout.curated_partition(CALLS_DATASET, "2026-11-06"), b"not parquet", "application/octet-stream"
    )

    with storage.store.connect(str(storage.analysis_db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM calls WHERE day = DATE '2026-11-05'").fetchone() == (3,)
        with pytest.raises(Exception, match="2026-11-06"):
            con.execute("SELECT count(*) FROM calls WHERE day >= DATE '2026-11-06'").fetchone()


def test_a_changed_outcome_map_shows_once_the_days_are_curated_again(tmp_path):
    storage = storage_for(tmp_path)
    write_raw_calls(storage, "2026-11-05", [call("t", "2026-11-05T09:00:00Z", end_reason="sim_transferred")])
    materialize_metrics(tmp_path, [CALL_OUTCOME_RATES], first="2026-11-05", checks=False)
    custom = tmp_path / "outcomes.csv"
    custom.write_text(DEFAULT_OUTCOME_MAP.read_text() + "completed,sim_transferred,transferred\n")

    def stored_outcome() -> tuple:
        refresh_analysis_db(storage.store, custom, log=LOG)
        with storage.store.connect(str(storage.analysis_db), read_only=True) as con:
            return con.execute("SELECT c.outcome, r.transferred FROM calls c, call_outcome_rates r").fetchone()

    # Documented: the outcome is the map's as of the day's curation, in the calls view and the metrics alike.
    assert stored_outcome() == ("completed", 0)

    result = materialize_metrics(tmp_path, [CALL_OUTCOME_RATES], first="2026-11-05", checks=False, outcome_map=custom)

    assert stored_outcome() == ("transferred", 1)
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key.path[-1] == CURATED_CALLS]
    assert event.step_key == CURATED_CALLS


def test_without_curated_days_the_calls_view_reads_the_raw_snapshots_and_says_what_to_curate(tmp_path, caplog):
    storage = storage_for(tmp_path)
    for day in ("2026-11-05", "2026-11-06", "2026-11-07"):
        write_raw_calls(storage, day, [call(f"{day}-a", f"{day}T09:00:00Z")])

    with caplog.at_level(logging.WARNING):
        refresh_analysis_db(storage.store, DEFAULT_OUTCOME_MAP, log=LOG)
    with storage.store.connect(str(storage.analysis_db), read_only=True) as con:
        assert con.execute("SELECT count(*), count(DISTINCT day) FROM calls").fetchone() == (3, 3)
    assert "--select curated_calls --partition-range 2026-11-05...2026-11-07" in caplog.text

    caplog.clear()
    materialize_curated(tmp_path, "2026-11-05", "2026-11-06")
    with caplog.at_level(logging.WARNING):
        refresh_analysis_db(storage.store, DEFAULT_OUTCOME_MAP, log=LOG)
    assert "1 day(s) from 2026-11-07 to 2026-11-07" in caplog.text
    assert "--select curated_calls --partition 2026-11-07" in caplog.text


def test_the_metrics_of_a_day_not_curated_fail_naming_the_command(tmp_path):
    storage = storage_for(tmp_path)
    write_raw_calls(storage, "2026-11-05", [call("a", "2026-11-05T09:00:00Z")])
    graph = DigaGraph(settings_for(tmp_path / "data"))

    result = dg.materialize(
        [build_curated_calls_asset(graph), *build_metric_assets(graph)],
        selection=[CALL_OUTCOME_RATES],
        resources={"storage": storage},
        partition_key="2026-11-05",
        raise_on_error=False,
    )

    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    message = failure.step_failure_data.user_failure_data.description
    assert "curated_calls has no stored partition for 2026-11-05" in message
    assert "--select curated_calls --partition 2026-11-05" in message
    assert not storage.store.exists(storage.layout.metric_partition(CALL_OUTCOME_RATES, "2026-11-05"))
