"""``curated_calls`` and the ``calls`` view over it (real runs, DuckDB over Parquet, a local
directory and a bucket):

- each curated day holds each of its calls once, as last fetched, on its day in the partition
  time zone, with the outcome and the rule that gave it, equal to an independent computation;
- the curated ``calls`` view has the columns and rows of the view computed from the raw snapshots;
- a filter on ``day`` opens only those days' files;
- a changed outcome map shows once the days are curated again, with no API request;
- a project with raw days but no curated ones (an upgrade) still answers, and says which days to
  curate; the metrics refuse a day that is not curated, naming the command.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

import dagster as dg
import pytest

from diga_assets.analysis.outcome_map import OUTCOME_MAP_ENV, resolve_outcome_map
from diga_assets.analysis.views import calls_views, curated_calls_view, refresh_analysis_db, views_connection
from diga_assets.assets.curated import build_curated_calls_asset
from diga_assets.assets.metrics import build_metric_assets
from diga_assets.names import CALL_OUTCOME_RATES, CALLS_DATASET, CURATED_CALLS
from diga_assets.partitions import daily_partitions
from diga_assets_tests.assets.conftest import settings_for, storage_for
from diga_assets_tests.metric_data import call, latest_calls, mapped_by, materialize_metrics, write_raw_calls

# Run against a local data directory and against a bucket (each_storage).
pytestmark = pytest.mark.usefixtures("each_storage")

MADRID = "Europe/Madrid"
LOG = logging.getLogger(__name__)


def materialize_curated(tmp_path, first: str, last: str | None = None, timezone: str = "UTC", **kwargs):
    """Materialize curated_calls alone (no API resource: it must not need one)."""
    partitions = daily_partitions(settings_for(tmp_path / "data", timezone))
    tags = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last or first}
    return dg.materialize(
        [build_curated_calls_asset(partitions)], resources={"storage": storage_for(tmp_path)}, tags=tags, **kwargs
    )


def curated_rows(tmp_path, key: str) -> list[dict]:
    storage = storage_for(tmp_path)
    return storage.store.read_table(storage.layout.curated_partition(CALLS_DATASET, key)).to_pylist()


def test_each_curated_day_holds_its_calls_once_as_last_fetched_with_their_outcome(tmp_path):
    storage = storage_for(tmp_path)
    first_fetch, refetch = datetime(2026, 11, 6, 1, tzinfo=UTC), datetime(2026, 11, 7, 1, tzinfo=UTC)
    # 2026-11-05T23:30Z is 2026-11-06 in Madrid: a call of the 6th, though near the 5th in UTC.
    write_raw_calls(
        storage,
        "2026-11-05",
        [
            call("a", "2026-11-05T09:00:00Z", status="in_progress", end_reason=None),
            call("b", "2026-11-05T10:00:00Z", end_reason="voicemail_left"),
        ],
        first_fetch,
    )
    write_raw_calls(
        storage,
        "2026-11-06",
        [
            # Fetched again a day later, now finished: the later version is the call.
            call("a", "2026-11-05T09:00:00Z", end_reason="sim_transferred"),
            call("c", "2026-11-05T23:30:00Z", status="dialing", end_reason=None),
            call("d", "2026-11-06T12:00:00Z", status="voicemail", end_reason=None),
        ],
        refetch,
    )
    write_raw_calls(storage, "2026-11-07", [], refetch)

    materialize_curated(tmp_path, "2026-11-05", "2026-11-07", timezone=MADRID)

    expected = sorted(latest_calls(storage, MADRID), key=lambda c: (c["created_date"], c["id"]))
    for key in ("2026-11-05", "2026-11-06", "2026-11-07"):
        rows = curated_rows(tmp_path, key)
        want = [c for c in expected if c["day"] == date.fromisoformat(key)]
        assert [r["id"] for r in rows] == [c["id"] for c in want], key
        for row, calls_row in zip(rows, want, strict=True):
            assert row["fetched_at"] == calls_row["fetched_at"] and row["status"] == calls_row["status"]
            assert row["outcome"] == calls_row["outcome"]
            assert row["outcome_mapped_by"] == mapped_by(calls_row["status"], calls_row["end_reason"])
    assert [r["id"] for r in curated_rows(tmp_path, "2026-11-05")] == ["a", "b"]
    assert [(r["id"], r["outcome"]) for r in curated_rows(tmp_path, "2026-11-06")] == [
        ("c", "unfinished"),
        ("d", "other"),
    ]
    assert curated_rows(tmp_path, "2026-11-07") == []


def test_the_curated_calls_view_equals_the_view_computed_from_the_raw_snapshots(tmp_path):
    storage = storage_for(tmp_path)
    for n, day in enumerate(("2026-11-05", "2026-11-06", "2026-11-07")):
        records = [
            call(f"{day}-{i}", f"{day}T{8 + i:02d}:00:00Z", end_reason=("hangup", "ivr_unreachable", None)[(i + n) % 3])
            for i in range(6)
        ]
        write_raw_calls(storage, day, records)
    materialize_curated(tmp_path, "2026-11-05", "2026-11-07")
    raw_views = calls_views(storage.store, "UTC", resolve_outcome_map())

    with views_connection(storage.store, raw_views) as (con, _):
        con.execute("ALTER VIEW calls RENAME TO calls_from_raw")
        con.execute(curated_calls_view(storage.store).sql())
        columns = [con.sql(f"DESCRIBE {view}").fetchall() for view in ("calls_from_raw", "calls")]
        differences = con.sql(
            "(FROM calls_from_raw EXCEPT ALL FROM calls) UNION ALL (FROM calls EXCEPT ALL FROM calls_from_raw)"
        ).fetchall()
        count = con.execute("SELECT count(*) FROM calls").fetchone()

    assert columns[0] == columns[1]
    assert differences == [] and count == (18,)


def test_a_filter_on_day_opens_only_that_days_file(tmp_path):
    storage = storage_for(tmp_path)
    for day in ("2026-11-05", "2026-11-06"):
        write_raw_calls(storage, day, [call(f"{day}-{i}", f"{day}T09:0{i}:00Z") for i in range(3)])
    materialize_curated(tmp_path, "2026-11-05", "2026-11-06")
    refresh_analysis_db(storage.store, "UTC", resolve_outcome_map(), log=LOG)
    # A file no reader can parse: any query that opens it fails.
    storage.store.write_bytes(
        storage.layout.curated_partition(CALLS_DATASET, "2026-11-06"), b"not parquet", "application/octet-stream"
    )

    with storage.store.connect(str(storage.analysis_db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM calls WHERE day = DATE '2026-11-05'").fetchone() == (3,)
        with pytest.raises(Exception, match="2026-11-06"):
            con.execute("SELECT count(*) FROM calls WHERE day >= DATE '2026-11-06'").fetchone()


def test_a_changed_outcome_map_shows_once_the_days_are_curated_again(tmp_path, monkeypatch):
    storage = storage_for(tmp_path)
    write_raw_calls(storage, "2026-11-05", [call("t", "2026-11-05T09:00:00Z", end_reason="sim_transferred")])
    materialize_metrics(tmp_path, [CALL_OUTCOME_RATES], first="2026-11-05", checks=False)
    custom = tmp_path / "outcomes.csv"
    custom.write_text(resolve_outcome_map().read_text() + "completed,sim_transferred,transferred\n")
    monkeypatch.setenv(OUTCOME_MAP_ENV, str(custom))

    def stored_outcome() -> tuple:
        refresh_analysis_db(storage.store, "UTC", resolve_outcome_map(), log=LOG)
        with storage.store.connect(str(storage.analysis_db), read_only=True) as con:
            return con.execute("SELECT c.outcome, r.transferred FROM calls c, call_outcome_rates r").fetchone()

    # Documented: the outcome is the map's as of the day's curation, in the calls view and the metrics alike.
    assert stored_outcome() == ("completed", 0)

    result = materialize_metrics(tmp_path, [CALL_OUTCOME_RATES], first="2026-11-05", checks=False)

    assert stored_outcome() == ("transferred", 1)
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key.path[-1] == CURATED_CALLS]
    assert event.step_key == CURATED_CALLS


def test_without_curated_days_the_calls_view_reads_the_raw_snapshots_and_says_what_to_curate(tmp_path, caplog):
    storage = storage_for(tmp_path)
    for day in ("2026-11-05", "2026-11-06", "2026-11-07"):
        write_raw_calls(storage, day, [call(f"{day}-a", f"{day}T09:00:00Z")])

    with caplog.at_level(logging.WARNING):
        refresh_analysis_db(storage.store, "UTC", resolve_outcome_map(), log=LOG)
    with storage.store.connect(str(storage.analysis_db), read_only=True) as con:
        assert con.execute("SELECT count(*), count(DISTINCT day) FROM calls").fetchone() == (3, 3)
    assert "--select curated_calls --partition-range 2026-11-05...2026-11-07" in caplog.text

    caplog.clear()
    materialize_curated(tmp_path, "2026-11-05", "2026-11-06")
    with caplog.at_level(logging.WARNING):
        refresh_analysis_db(storage.store, "UTC", resolve_outcome_map(), log=LOG)
    assert "1 day(s) from 2026-11-07 to 2026-11-07" in caplog.text
    assert "--select curated_calls --partition 2026-11-07" in caplog.text


def test_the_metrics_of_a_day_not_curated_fail_naming_the_command(tmp_path):
    storage = storage_for(tmp_path)
    write_raw_calls(storage, "2026-11-05", [call("a", "2026-11-05T09:00:00Z")])
    partitions = daily_partitions(settings_for(tmp_path / "data"))

    result = dg.materialize(
        [build_curated_calls_asset(partitions), *build_metric_assets(partitions)],
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
