"""Asset checks on the raw layer (diga_calls, diga_phones).

Checks read the Parquet files of the days the run covers (through an in-memory DuckDB) and name
what they found: which day, which id, which value, how many rows. Each query is a constant that
can be pasted into a DuckDB shell (bind ``?`` to a list of file paths).
"""

from datetime import UTC, date

import dagster as dg
import duckdb

from diga_assets.api.records import CALLS, PHONES, RecordTable
from diga_assets.assets.raw import CALLS_DATASET, PHONES_DATASET
from diga_assets.partitions import day_window, with_neighbours
from diga_assets.storage import DigaStorage

# A snapshot taken by the daily schedule lands minutes after its day ends; a day older than
# this was observed later than the schedule would have, so it cannot show that day.
PHONE_OBSERVATION_LAG_WARN_HOURS = 24.0

# Ids that occur more than once across the checked days and their neighbours. A duplicate makes
# every count downstream wrong, so this check blocks the metrics. Ids are first grouped by
# their 64-bit hash (fixed-size keys), then only the colliding ones are compared as text and
# their days listed: grouping every id as text, with a list of days each, took 240 MB for a
# million calls and set a long backfill's peak memory (bench/ingest.py). The files are re-read
# rather than kept (NOT MATERIALIZED): reading one column again is cheaper than holding it.
# A long range is checked in passes, each over the ids whose hash falls in one slice (every copy
# of an id has the same hash, so each duplicate is found whole in one pass): the hash table of a
# million ids in one pass added ~100 MB to the end of a backfill, in four passes ~55 MB.
# Bind ? to: the list of file paths, the number of passes, this pass (0-based); 1 and 0 for all.
SELECT_DUPLICATE_CALL_IDS = """
WITH stored AS NOT MATERIALIZED (
    SELECT id, date FROM read_parquet(?, hive_partitioning = true)
),
colliding AS (
    SELECT hash(id) AS id_hash FROM stored WHERE hash(id) % ? = ? GROUP BY id_hash HAVING count(*) > 1
),
repeated AS (
    SELECT id FROM stored WHERE hash(id) IN (SELECT id_hash FROM colliding)
    GROUP BY id HAVING count(*) > 1 ORDER BY id LIMIT 20
)
SELECT id, count(*) AS copies, list(DISTINCT date ORDER BY date) AS days
FROM stored SEMI JOIN repeated USING (id)
GROUP BY id
ORDER BY id
"""
# Day files per pass of SELECT_DUPLICATE_CALL_IDS: a daily run (three files) takes one pass.
FILES_PER_DUPLICATE_ID_PASS = 32

# Calls whose timing contradicts itself.
SELECT_INCONSISTENT_CALL_TIMES = """
SELECT id, duration, start_time, end_time
FROM read_parquet(?)
WHERE duration < 0 OR end_time < start_time
ORDER BY id
LIMIT 20
"""

# Unknown values of one enum column (the column name is ours, from records.py; not user input).
SELECT_UNKNOWN_VALUES = """
SELECT {column} AS value, count(*) AS rows
FROM read_parquet(?)
WHERE {column} IS NOT NULL AND NOT list_contains(?, {column})
GROUP BY 1 ORDER BY 1
"""

# Nulls in columns the spec requires to be set.
SELECT_NULL_COUNTS = "SELECT {counts} FROM read_parquet(?)"

SELECT_OBSERVED_AT = "SELECT min(observed_at) FROM read_parquet(?)"


def build_raw_checks(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetChecksDefinition]:
    """Checks for ``diga_calls`` and ``diga_phones``, on the same partitions as the assets."""
    timezone = getattr(partitions_def, "timezone", None) or "UTC"

    @dg.asset_check(
        asset="diga_calls",
        name="call_ids_unique",
        partitions_def=partitions_def,
        blocking=True,
        description=(
            "Each call id is stored once across the checked days and the days next to them. "
            "Blocks the metrics: a duplicate would be counted twice."
        ),
    )
    def calls_ids_unique(context: dg.AssetCheckExecutionContext, storage: DigaStorage) -> dg.AssetCheckResult:
        span = with_neighbours(date.fromisoformat(key) for key in context.partition_keys)
        files = storage.existing_raw_files(CALLS_DATASET, [day.isoformat() for day in span])
        rows = duplicate_call_ids(files)
        return dg.AssetCheckResult(
            passed=not rows,
            description=(
                "duplicate call ids: "
                + "; ".join(f"{i} x{n} in {', '.join(str(d) for d in days)}" for i, n, days in rows)
                if rows
                else f"no call id repeats across {len(files)} day file(s)"
            ),
            metadata={"duplicate_ids_shown": len(rows), "files_checked": len(files)},
        )

    @dg.asset_check(
        asset="diga_calls",
        name="required_fields_present",
        partitions_def=partitions_def,
        description="Columns the spec requires (id, status, type, contact, created_date) hold no NULLs.",
    )
    def calls_required_fields(context: dg.AssetCheckExecutionContext, storage: DigaStorage) -> dg.AssetCheckResult:
        return _null_check(storage.existing_raw_files(CALLS_DATASET, context.partition_keys), CALLS)

    @dg.asset_check(
        asset="diga_calls",
        name="call_times_consistent",
        partitions_def=partitions_def,
        description="duration >= 0, and end_time >= start_time where both are set.",
    )
    def calls_times_consistent(context: dg.AssetCheckExecutionContext, storage: DigaStorage) -> dg.AssetCheckResult:
        files = storage.existing_raw_files(CALLS_DATASET, context.partition_keys)
        rows = duckdb.connect().execute(SELECT_INCONSISTENT_CALL_TIMES, [files]).fetchall() if files else []
        return dg.AssetCheckResult(
            passed=not rows,
            description=(
                "calls with contradictory timing: "
                + "; ".join(f"{i} (duration={d}, start={s}, end={e})" for i, d, s, e in rows)
                if rows
                else "every duration is >= 0 and every end_time >= start_time"
            ),
            metadata={"inconsistent_calls_shown": len(rows)},
        )

    @dg.asset_check(
        asset="diga_calls",
        name="enum_values_within_spec",
        partitions_def=partitions_def,
        description=(
            "WARN when status, type or contact_type hold values the published spec does not list. "
            "They are kept as they came (the API evolves); this check names them."
        ),
    )
    def calls_enum_values_within_spec(
        context: dg.AssetCheckExecutionContext, storage: DigaStorage
    ) -> dg.AssetCheckResult:
        return _enum_check(storage.existing_raw_files(CALLS_DATASET, context.partition_keys), CALLS)

    @dg.asset_check(
        asset="diga_phones",
        name="enum_values_within_spec",
        partitions_def=partitions_def,
        description="WARN when status or telephony_provider hold values the published spec does not list.",
    )
    def phones_enum_values_within_spec(
        context: dg.AssetCheckExecutionContext, storage: DigaStorage
    ) -> dg.AssetCheckResult:
        return _enum_check(storage.existing_raw_files(PHONES_DATASET, context.partition_keys), PHONES)

    @dg.asset_check(
        asset="diga_phones",
        name="observed_near_day_end",
        partitions_def=partitions_def,
        description=(
            "WARN when a day's phone snapshot was observed more than "
            f"{PHONE_OBSERVATION_LAG_WARN_HOURS:.0f} hours after the day ended: the API only tells the "
            "present, so such a snapshot shows the register as it was later, not on that day."
        ),
    )
    def phones_observed_near_day_end(
        context: dg.AssetCheckExecutionContext, storage: DigaStorage
    ) -> dg.AssetCheckResult:
        lags: dict[str, float] = {}
        con = duckdb.connect()
        for key in context.partition_keys:
            path = storage.raw_partition_file(PHONES_DATASET, key)
            if not path.exists():
                continue
            observed = con.execute(SELECT_OBSERVED_AT, [str(path)]).fetchone()[0]
            if observed is None:
                continue
            observed = observed.astimezone(UTC) if observed.tzinfo else observed.replace(tzinfo=UTC)
            lags[key] = (observed - day_window(key, timezone).end).total_seconds() / 3600
        late = {k: round(v, 1) for k, v in lags.items() if v > PHONE_OBSERVATION_LAG_WARN_HOURS}
        return dg.AssetCheckResult(
            passed=not late,
            severity=dg.AssetCheckSeverity.WARN,
            description=(
                f"{len(late)} day(s) observed late: " + ", ".join(f"{k} (+{v} h)" for k, v in sorted(late.items()))
                if late
                else "every snapshot was observed within the lag limit"
            ),
            metadata={"max_lag_hours": round(max(lags.values(), default=0.0), 3), "late_days": len(late)},
        )

    return [
        calls_ids_unique,
        calls_required_fields,
        calls_times_consistent,
        calls_enum_values_within_spec,
        phones_enum_values_within_spec,
        phones_observed_near_day_end,
    ]


def duplicate_call_ids(files: list[str]) -> list[tuple[str, int, list[date]]]:
    """Call ids stored more than once in ``files``: (id, copies, days), the first 20 by id."""
    passes = -(-len(files) // FILES_PER_DUPLICATE_ID_PASS)
    rows: list[tuple[str, int, list[date]]] = []
    with duckdb.connect() as con:
        for part in range(passes):
            rows += con.execute(SELECT_DUPLICATE_CALL_IDS, [files, passes, part]).fetchall()
    return sorted(rows)[:20]  # as many as one pass shows (LIMIT 20)


def _enum_check(files: list[str], table: RecordTable) -> dg.AssetCheckResult:
    unknown: dict[str, dict[str, int]] = {}
    if files:
        con = duckdb.connect()
        for column in table.enum_columns:
            allowed = sorted(table.enum_values(column) or ())
            rows = con.execute(SELECT_UNKNOWN_VALUES.format(column=column), [files, allowed]).fetchall()
            if rows:
                unknown[column] = dict(rows)
    described = "; ".join(
        f"{column}: " + ", ".join(f"{v!r} ({n})" for v, n in values.items()) for column, values in unknown.items()
    )
    return dg.AssetCheckResult(
        passed=not unknown,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"values outside the spec: {described}" if unknown else "every value is one the spec lists",
        metadata={
            "unknown_value_rows": sum(sum(v.values()) for v in unknown.values()),
            "unknown_values": dg.MetadataValue.json(unknown),
            "files_checked": len(files),
        },
    )


def _null_check(files: list[str], table: RecordTable) -> dg.AssetCheckResult:
    required = [f.name for f in table.arrow_schema if not f.nullable]
    nulls: dict[str, int] = {}
    if files:
        counts = ", ".join(f"count(*) FILTER (WHERE {name} IS NULL) AS {name}" for name in required)
        row = duckdb.connect().execute(SELECT_NULL_COUNTS.format(counts=counts), [files]).fetchone()
        nulls = {name: n for name, n in zip(required, row, strict=True) if n}
    return dg.AssetCheckResult(
        passed=not nulls,
        description=(
            "NULLs in required columns: " + ", ".join(f"{k} ({v} rows)" for k, v in nulls.items())
            if nulls
            else f"no NULLs in {', '.join(required)}"
        ),
        metadata={"null_values": sum(nulls.values()), "files_checked": len(files)},
    )
