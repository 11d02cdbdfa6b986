"""Asset checks on the raw layer (diga_calls, diga_phones, diga_agents).

Checks read the Parquet files of the days the run covers (through an in-memory DuckDB, with the
statements in ``sql/``) and name what they found: which day, which id, which value, how many rows.
"""

from collections.abc import Callable, Sequence
from datetime import date

import dagster as dg
import pyarrow.parquet as pq

from diga_assets.api.records import CALLS, PHONES, RecordTable
from diga_assets.assets.common import DigaGraph
from diga_assets.assets.raw.snapshots import LATE_OBSERVATION_HOURS, observed_at
from diga_assets.checks.common import daily_check
from diga_assets.checks.statements import CHECK_SQL, query_files
from diga_assets.names import AGENTS_DATASET, CALLS_DATASET, DIGA_AGENTS, DIGA_CALLS, DIGA_PHONES, PHONES_DATASET
from diga_assets.partitions import day_window, with_neighbours
from diga_assets.storage import DigaStorage, Store

# Stored calls per pass of select_colliding_call_id_hashes: its grouping holds about this many
# 64-bit hashes at once. A daily run, and a year of a million calls, take one pass; a year of ten
# million, four (counted from the files' footers, which are read without reading the files).
ROWS_PER_DUPLICATE_ID_PASS = 3_000_000
# Colliding hashes looked up by name at most: far more than the 20 duplicates a check lists.
_HASHES_LOOKED_UP = 10_000


def duplicate_call_ids(store: Store, files: list[str]) -> list[tuple[str, int, list[date]]]:
    """Call ids stored more than once in ``files``: (id, copies, days), the first 20 by id.

    One read of the ids per pass finds the colliding hashes; the files are read again, by name,
    only when some hash collides (a duplicate, or the rare collision of two ids)."""
    if not files:
        return []
    with store.readable_copies(files) as readable, store.connect() as con:
        rows = sum(pq.ParquetFile(path).metadata.num_rows for path in readable)
        passes = max(1, -(-rows // ROWS_PER_DUPLICATE_ID_PASS))
        hashes: list[int] = []
        for part in range(passes):
            params = {"files": readable, "passes": passes, "pass": part}
            hashes += [
                found for (found,) in con.execute(CHECK_SQL("select_colliding_call_id_hashes"), params).fetchall()
            ]
        if not hashes:
            return []
        params = {"files": readable, "hashes": sorted(hashes)[:_HASHES_LOOKED_UP]}
        return con.execute(CHECK_SQL("select_duplicate_call_ids"), params).fetchall()


def unknown_values_check(store: Store, files: list[str], table: RecordTable) -> dg.AssetCheckResult:
    """WARN naming each value of an enumerated column that the spec does not list, with its count."""
    unknown: dict[str, dict[str, int]] = {}
    if files:
        allowed = [
            {"column_name": column, "value": value}
            for column in table.enum_columns
            for value in sorted(table.enum_values(column) or ())
        ]
        found = query_files(
            store, "select_values_outside_spec", files, columns=list(table.enum_columns), allowed=allowed
        )
        for row in found:
            unknown.setdefault(row["column_name"], {})[row["value"]] = row["rows"]
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


def null_check(store: Store, files: list[str], table: RecordTable) -> dg.AssetCheckResult:
    """Fail naming each column the spec requires that holds NULLs, with how many."""
    required = [f.name for f in table.arrow_schema if not f.nullable]
    nulls: dict[str, int] = {}
    if files:
        (row,) = query_files(store, "select_null_counts", files, columns=required)
        nulls = {name: int(n) for name, n in zip(required, row.values(), strict=True) if n}
    return dg.AssetCheckResult(
        passed=not nulls,
        description=(
            "NULLs in required columns: " + ", ".join(f"{k} ({v} rows)" for k, v in nulls.items())
            if nulls
            else f"no NULLs in {', '.join(required)}"
        ),
        metadata={"null_values": sum(nulls.values()), "files_checked": len(files)},
    )


def call_ids_unique_check(
    graph: DigaGraph, asset: str, stored_files: Callable[[DigaStorage, list[str]], list[str]], blocks: str
) -> dg.AssetChecksDefinition:
    """The blocking check that each call id of ``asset`` is stored once across the checked days
    and the days next to them (``stored_files`` lists the asset's files of some days)."""
    description = (
        "Each call id is stored once across the checked days and the days next to them. "
        f"Blocks {blocks}: a duplicate would be counted twice."
    )

    @daily_check(graph, asset, "call_ids_unique", description, blocking=True)
    def call_ids_unique(storage: DigaStorage, keys: Sequence[str]) -> dg.AssetCheckResult:
        span = with_neighbours(date.fromisoformat(key) for key in keys)
        files = stored_files(storage, [day.isoformat() for day in span])
        rows = duplicate_call_ids(storage.store, files)
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

    return call_ids_unique


def required_fields_present(storage: DigaStorage, keys: Sequence[str]) -> dg.AssetCheckResult:
    """Fail naming each column of the stored calls the spec requires that holds NULLs."""
    return null_check(storage.store, storage.existing_raw_files(CALLS_DATASET, keys), CALLS)


def call_times_consistent(storage: DigaStorage, keys: Sequence[str]) -> dg.AssetCheckResult:
    """Fail naming calls whose duration is negative or whose end comes before their start."""
    files = storage.existing_raw_files(CALLS_DATASET, keys)
    rows = query_files(storage.store, "select_inconsistent_call_times", files) if files else []
    return dg.AssetCheckResult(
        passed=not rows,
        description=(
            "calls with contradictory timing: "
            + "; ".join(
                f"{r['id']} (duration={r['duration']}, start={r['start_time']}, end={r['end_time']})" for r in rows
            )
            if rows
            else "every duration is >= 0 and every end_time >= start_time"
        ),
        metadata={"inconsistent_calls_shown": len(rows)},
    )


def _enum_values_within_spec(
    graph: DigaGraph, asset: str, dataset: str, table: RecordTable
) -> dg.AssetChecksDefinition:
    *others, last = table.enum_columns
    columns = f"{', '.join(others)} or {last}" if others else last
    description = (
        f"WARN when {columns} hold values the published spec does not list. "
        "They are kept as they came (the API evolves); this check names them."
    )

    @daily_check(graph, asset, "enum_values_within_spec", description)
    def enum_values_within_spec(storage: DigaStorage, keys: Sequence[str]) -> dg.AssetCheckResult:
        return unknown_values_check(storage.store, storage.existing_raw_files(dataset, keys), table)

    return enum_values_within_spec


def _observed_near_day_end(graph: DigaGraph, asset: str, dataset: str, shows: str) -> dg.AssetChecksDefinition:
    description = (
        f"WARN when a day's snapshot of {shows} was observed more than {LATE_OBSERVATION_HOURS:.0f} hours "
        "after the day ended: the API only tells the present, so such a snapshot shows it as it was "
        "later, not on that day."
    )

    @daily_check(graph, asset, "observed_near_day_end", description)
    def observed_near_day_end(storage: DigaStorage, keys: Sequence[str]) -> dg.AssetCheckResult:
        lags: dict[str, float] = {}
        stored = set(storage.existing_raw_files(dataset, keys))
        for key in keys:
            location = storage.layout.raw_partition(dataset, key)
            if location not in stored:
                continue
            observed = observed_at(storage.store.read_table(location, columns=["observed_at"]))
            if observed is not None:
                lags[key] = day_window(graph.partitions, key).hours_after_end(observed)
        late = {k: round(v, 1) for k, v in lags.items() if v > LATE_OBSERVATION_HOURS}
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

    return observed_near_day_end


def build_raw_checks(graph: DigaGraph) -> Sequence[dg.AssetChecksDefinition]:
    """Checks for the raw assets, on the same partitions as the assets."""
    return [
        call_ids_unique_check(
            graph,
            DIGA_CALLS,
            lambda storage, keys: storage.existing_raw_files(CALLS_DATASET, keys),
            "the curated calls and the metrics",
        ),
        daily_check(
            graph,
            DIGA_CALLS,
            "required_fields_present",
            "Columns the spec requires (id, status, type, contact, created_date) hold no NULLs.",
        )(required_fields_present),
        daily_check(
            graph, DIGA_CALLS, "call_times_consistent", "duration >= 0, and end_time >= start_time where both are set."
        )(call_times_consistent),
        _enum_values_within_spec(graph, DIGA_CALLS, CALLS_DATASET, CALLS),
        _enum_values_within_spec(graph, DIGA_PHONES, PHONES_DATASET, PHONES),
        _observed_near_day_end(graph, DIGA_PHONES, PHONES_DATASET, "the phone register"),
        _observed_near_day_end(graph, DIGA_AGENTS, AGENTS_DATASET, "the agents"),
    ]
