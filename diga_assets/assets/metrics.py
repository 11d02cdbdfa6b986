"""The metric layer: DuckDB over the raw Parquet snapshots, written back as Parquet.

Metrics are computed in an in-memory DuckDB connection that creates the same ``calls`` /
``phones`` views as the analysis database (``assets/sql/create_*_view.sql``) and runs one
``select_*.sql`` statement per metric, so what a run computes and what an analyst queries are one
definition. The three daily call metrics are one step (``daily_call_metrics``) that materializes
the run's deduped calls once for all of them. Daily metrics write one file per partition day
(``metrics/<asset>/day=YYYY-MM-DD/part-0.parquet``, replaced atomically); a range run computes
every day in one query and replaces each day's file.

Pure functions (``compute_daily_metrics``, ``compute_phone_timeline``, ``markdown_preview``) sit
apart from the asset functions that take a Dagster context, so they are tested without Dagster.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from itertools import groupby
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from diga_assets.analysis_db import (
    AGENT_VERSION_OUTCOMES,
    CALL_DURATION_STATS,
    CALL_OUTCOME_RATES,
    PHONE_ASSIGNMENT_TIMELINE,
    OutcomeMapError,
    View,
    analysis_db_path,
    calls_views,
    create_views,
    load_sql,
    metric_file,
    metric_partition_file,
    phones_view,
    refresh_analysis_db,
    resolve_outcome_map,
)
from diga_assets.api.records import UTC_MICROS
from diga_assets.assets.raw import CALLS_DATASET, rerun_commands
from diga_assets.storage import DigaStorage, write_table_atomically

METRICS_GROUP = "diga_metrics"
# The columns of the calls view that the select_* metric statements read: a metric run
# materializes just these (a statement reading another one fails to bind in every metric test).
METRIC_CALL_COLUMNS = ("day", "agent_id", "agent_version_id", "type", "outcome", "duration")
PREVIEW_ROWS = 10


def _field(name: str, type_: pa.DataType, doc: str, *, nullable: bool = True) -> pa.Field:
    return pa.field(name, type_, nullable=nullable, metadata={"doc": doc})


_DAY = _field("day", pa.date32(), "The partition day: created_date in the partition time zone.", nullable=False)
_AGENT = _field("agent_id", pa.string(), "The agent that handled the calls; NULL groups the calls no agent handled.")
_CALL_TYPE = _field("call_type", pa.string(), "The calls' direction (the API's `type`: inbound or outbound).")
_TOTAL = _field("total_calls", pa.int64(), "Calls in the group.", nullable=False)
_RATE_BASE = "completed + failed + no_answer + transferred + voicemail (NULL when no call ended)"


def _count(outcome: str, column: str | None = None) -> pa.Field:
    return _field(column or outcome, pa.int64(), f"Calls whose outcome is {outcome}.", nullable=False)


def _rate(name: str, outcome: str) -> pa.Field:
    return _field(name, pa.float64(), f"Calls whose outcome is {outcome}, divided by {_RATE_BASE}.")


CALL_OUTCOME_RATES_SCHEMA = pa.schema(
    [
        _DAY,
        _AGENT,
        _CALL_TYPE,
        _TOTAL,
        _count("completed"),
        _count("failed"),
        _count("no_answer"),
        _count("transferred"),
        _count("voicemail"),
        _field("unfinished", pa.int64(), "Calls still dialing, queued or in progress when fetched.", nullable=False),
        _field(
            "other_status",
            pa.int64(),
            "Calls whose (status, end_reason) the outcome map does not know.",
            nullable=False,
        ),
        _rate("completion_rate", "completed"),
        _rate("failure_rate", "failed"),
        _rate("no_answer_rate", "no_answer"),
        _rate("transfer_rate", "transferred"),
        _rate("voicemail_rate", "voicemail"),
    ]
)

CALL_DURATION_STATS_SCHEMA = pa.schema(
    [
        _DAY,
        _AGENT,
        _CALL_TYPE,
        _field("calls_with_duration", pa.int64(), "Calls in the group with a duration (ended calls).", nullable=False),
        _field("avg_duration_s", pa.float64(), "Mean duration in seconds."),
        _field("median_duration_s", pa.float64(), "Median duration in seconds (continuous: interpolated)."),
        _field("p90_duration_s", pa.float64(), "90th percentile of duration in seconds (continuous: interpolated)."),
        _field("max_duration_s", pa.int64(), "Longest duration in seconds."),
        _field("total_duration_s", pa.int64(), "Sum of durations in seconds."),
    ]
)

AGENT_VERSION_OUTCOMES_SCHEMA = pa.schema(
    [
        _DAY,
        _AGENT,
        _field("agent_version_id", pa.string(), "The agent version that handled the calls (NULL when none)."),
        _TOTAL,
        _rate("completion_rate", "completed"),
        _rate("transfer_rate", "transferred"),
        _field("median_duration_s", pa.float64(), "Median duration in seconds of the calls with one (continuous)."),
    ]
)

PHONE_ASSIGNMENT_TIMELINE_SCHEMA = pa.schema(
    [
        _field("phone_id", pa.string(), "The phone register id.", nullable=False),
        _field("number", pa.string(), "The phone number (as in the stretch's latest snapshot)."),
        _field("nickname", pa.string(), "The phone's nickname (as in the stretch's latest snapshot)."),
        _field("status", pa.string(), "The phone's status during the stretch.", nullable=False),
        _field("inbound_agent_id", pa.string(), "The agent answering inbound calls during the stretch."),
        _field("outbound_agent_id", pa.string(), "The agent placing outbound calls during the stretch."),
        _field("scheduled_release_at", UTC_MICROS, "The release the API had scheduled (stretch's latest snapshot)."),
        _field(
            "valid_from",
            UTC_MICROS,
            "Start of the stretch: assigned_at / released_at when the API stamps "
            "the change, else the first snapshot showing it.",
            nullable=False,
        ),
        _field("valid_to", UTC_MICROS, "Start of the next stretch; NULL for the stretch that holds now."),
        _field("first_observed_at", UTC_MICROS, "The first snapshot showing the stretch.", nullable=False),
        _field("last_observed_at", UTC_MICROS, "The last snapshot showing the stretch.", nullable=False),
    ]
)


@dataclass(frozen=True)
class DailyMetric:
    """A daily metric asset: its statement, its schema and the day headlines it reports."""

    name: str
    statement: str
    schema: pa.Schema
    headlines: tuple[str, ...]


OUTCOME_RATES = DailyMetric(
    CALL_OUTCOME_RATES,
    "select_call_outcome_rates",
    CALL_OUTCOME_RATES_SCHEMA,
    ("total_calls", "ended_calls", "completion_rate", "failure_rate", "transfer_rate"),
)
DURATION_STATS = DailyMetric(
    CALL_DURATION_STATS,
    "select_call_duration_stats",
    CALL_DURATION_STATS_SCHEMA,
    ("calls_with_duration", "median_duration_s", "p90_duration_s"),
)
VERSION_OUTCOMES = DailyMetric(
    AGENT_VERSION_OUTCOMES,
    "select_agent_version_outcomes",
    AGENT_VERSION_OUTCOMES_SCHEMA,
    ("agent_versions", "completion_rate", "median_duration_s"),
)
DAILY_CALL_METRICS = (OUTCOME_RATES, DURATION_STATS, VERSION_OUTCOMES)


@dataclass(frozen=True)
class DailyComputation:
    """A daily metric over the days of one run, and each day's headline numbers."""

    table: pa.Table
    headlines: dict[date, dict[str, Any]]

    def rows_of(self, day: date) -> pa.Table:
        """The rows of one day, in the query's order (an empty table with the full schema when
        it had no calls)."""
        rows = self._rows_by_day.get(day)
        return rows if rows is not None else self.table.slice(0, 0)

    @cached_property
    def _rows_by_day(self) -> dict[date, pa.Table]:
        # One stable sort, then each day is a zero-copy slice: a filter per day made a year's
        # backfill pass over the whole table once per day and metric (0.5 s in bench/metrics.py).
        table = self.table.sort_by("day")
        rows_by_day: dict[date, pa.Table] = {}
        offset = 0
        for day, run in groupby(table["day"].to_pylist()):
            count = sum(1 for _ in run)
            rows_by_day[day] = table.slice(offset, count)
            offset += count
        return rows_by_day


@contextmanager
def metric_connection(views: Sequence[View]) -> Iterator[tuple[duckdb.DuckDBPyConnection, list[str]]]:
    """An in-memory DuckDB with ``views`` created; yields it and the names of the views created.

    A view over a dataset with no files yet is not created (DuckDB binds views on creation).
    """
    with duckdb.connect() as con:
        # Timestamps come back as UTC whatever the machine's zone; days are computed with an
        # explicit zone in the calls view, never with the session's.
        con.execute("SET TimeZone = 'UTC'")
        yield con, create_views(con, views)


def compute_daily_metrics(
    metrics: Sequence[DailyMetric], storage: DigaStorage, timezone: str, outcome_map: Path, days: Sequence[date]
) -> dict[str, DailyComputation]:
    """Compute ``metrics`` for ``days``, each in one query over the ``calls`` view, from one scan."""
    with metric_connection(calls_views(storage, timezone, outcome_map, days=days)) as (con, created):
        if "calls" not in created:
            return {metric.name: DailyComputation(metric.schema.empty_table(), {}) for metric in metrics}
        # Dedupe and map once for every statement below: through the view each would repeat the
        # scan and the latest-version window over every file, which is most of a metric's cost
        # (bench/metrics.py). Only the columns the metric statements read are kept.
        con.execute(f"CREATE TABLE calls_of_run AS SELECT {', '.join(METRIC_CALL_COLUMNS)} FROM calls")
        con.execute("DROP VIEW calls")
        con.execute("ALTER TABLE calls_of_run RENAME TO calls")
        params = {"days": list(days)}
        rows = con.sql(load_sql("select_daily_headlines"), params=params).to_arrow_table().to_pylist()
        headlines = {row.pop("day"): row for row in rows}
        return {
            metric.name: DailyComputation(
                table=con.sql(load_sql(metric.statement), params=params).to_arrow_table().cast(metric.schema),
                headlines=headlines,
            )
            for metric in metrics
        }


def compute_phone_timeline(storage: DigaStorage) -> pa.Table:
    """The phone assignment timeline, from every stored phone snapshot."""
    with metric_connection([phones_view(storage)]) as (con, created):
        if "phones" not in created:
            return PHONE_ASSIGNMENT_TIMELINE_SCHEMA.empty_table()
        table = con.sql(load_sql("select_phone_assignment_timeline")).to_arrow_table()
    return table.cast(PHONE_ASSIGNMENT_TIMELINE_SCHEMA)


def markdown_preview(table: pa.Table, limit: int = PREVIEW_ROWS) -> str:
    """The first ``limit`` rows as a markdown table, for the asset's metadata."""
    if table.num_rows == 0:
        return "_no rows_"
    lines = [
        "| " + " | ".join(table.column_names) + " |",
        "|" + "---|" * table.num_columns,
    ]
    for row in table.slice(0, limit).to_pylist():
        lines.append("| " + " | ".join(_cell(value) for value in row.values()) + " |")
    if table.num_rows > limit:
        lines.append(f"\n_{table.num_rows - limit} more rows_")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return str(value).replace("|", "\\|")


def table_schema(schema: pa.Schema) -> dg.TableSchema:
    """The Dagster column schema of an Arrow schema whose fields carry a ``doc``."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=f.name,
                type=str(f.type),
                description=(f.metadata or {}).get(b"doc", b"").decode(),
                constraints=dg.TableColumnConstraints(nullable=f.nullable),
            )
            for f in schema
        ]
    )


def outcome_map_or_fail() -> Path:
    """The validated outcome map, or a ``dg.Failure`` naming DIGA_OUTCOME_MAP and the bad line."""
    try:
        return resolve_outcome_map()
    except OutcomeMapError as exc:
        raise dg.Failure(description=str(exc)) from exc


def _materialize_daily(
    context: dg.AssetExecutionContext, storage: DigaStorage, metrics: Sequence[DailyMetric], timezone: str
) -> Iterator[dg.MaterializeResult]:
    """Compute the selected metrics for every day of the run at once, replace each day's file,
    report each day, refresh the views, and yield one result per metric."""
    storage.check_writable()
    outcome_map = outcome_map_or_fail()
    keys = context.partition_keys
    names = ", ".join(metric.name for metric in metrics)
    # A day without its raw file would be written as a day without calls: refuse, say how to fix.
    missing = [key for key in keys if not storage.raw_partition_file(CALLS_DATASET, key).exists()]
    if missing:
        commands = "\n".join(f"  {command}" for command in rerun_commands("diga_calls", missing))
        raise dg.Failure(
            description=(
                f"{names}: diga_calls has no stored partition for {', '.join(missing)}, so those days "
                f"cannot be computed and nothing was written. Materialize them first:\n{commands}"
            ),
            metadata={"missing_days": missing},
        )
    days = [date.fromisoformat(key) for key in keys]
    computed = compute_daily_metrics(metrics, storage, timezone, outcome_map, days)
    for metric in metrics:
        _write_days(context, storage, metric, computed[metric.name], keys, days)
    run_metadata = _refresh_views(context, storage, timezone, outcome_map)
    for metric in metrics:
        rows = computed[metric.name].table.num_rows
        yield dg.MaterializeResult(
            asset_key=metric.name, metadata={"run_days": len(keys), "run_rows": rows, **run_metadata}
        )


def _write_days(
    context: dg.AssetExecutionContext,
    storage: DigaStorage,
    metric: DailyMetric,
    computed: DailyComputation,
    keys: Sequence[str],
    days: Sequence[date],
) -> None:
    """Replace each day's file of ``metric`` and attach that day's metadata to its partition."""
    for key, day in zip(keys, days, strict=True):
        rows = computed.rows_of(day)
        path = metric_partition_file(storage, metric.name, key)
        write_table_atomically(path, rows)
        headlines = computed.headlines.get(day, {})
        metadata: dict[str, Any] = {
            "dagster/row_count": rows.num_rows,
            "preview": dg.MetadataValue.md(markdown_preview(rows)),
            "path": dg.MetadataValue.path(str(path)),
        }
        # Numbers only, so the UI plots each across partitions; an undefined rate is left out.
        for name in metric.headlines:
            if headlines.get(name) is not None:
                metadata[name] = headlines[name]
        context.add_asset_metadata(metadata, asset_key=metric.name, partition_key=key)
    context.log.info(f"{metric.name}: wrote {len(keys)} day(s), {computed.table.num_rows} rows")


def _refresh_views(
    context: dg.AssetExecutionContext, storage: DigaStorage, timezone: str, outcome_map: Path
) -> dict[str, Any]:
    """Bring the analysis database's views up to date; the metadata that says what was done."""
    # Every metric step refreshes the views at the end of its run, rather than one asset owning
    # them: a view can only be created once its files exist, users materialize any subset of the
    # metrics, and the refresh is a read-only comparison unless something is missing or changed.
    replaced = refresh_analysis_db(storage, timezone, outcome_map, log=context.log)
    if replaced:
        context.log.info(f"analysis database: (re)created views {', '.join(replaced)}")
    return {
        "analysis_db": dg.MetadataValue.path(str(analysis_db_path(storage))),
        "views_replaced": len(replaced),
    }


def build_metric_assets(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    """The metric assets: three daily ones on ``partitions_def`` (that of ``diga_calls``),
    computed by one step, and the unpartitioned phone assignment timeline."""
    timezone = getattr(partitions_def, "timezone", None) or "UTC"
    descriptions = {
        CALL_OUTCOME_RATES: """How each day's calls ended, per (day, agent_id, call_type).

Counts of each outcome (completed, failed, no_answer, transferred, voicemail, unfinished,
other_status; they add up to total_calls) and rates over the calls that ended (the first
five). The outcome comes from (status, end_reason) through the outcome map, so the rates
hold under the published status model and under Diga's newer one, where every finished
call is `completed`. Unfinished and unmapped calls are counted but not in the rates.""",
        CALL_DURATION_STATS: """How long each day's calls lasted, per (day, agent_id, call_type).

Over the calls with a duration: count, mean, median and 90th percentile (continuous, i.e.
interpolated), longest and total, in seconds.""",
        AGENT_VERSION_OUTCOMES: """Whether a new version of an agent does better than the old one: per (day, agent_id,
agent_version_id), total calls, completion and transfer rates (over the calls that ended)
and the median duration.""",
    }
    specs = [
        dg.AssetSpec(
            key=metric.name,
            description=descriptions[metric.name],
            group_name=METRICS_GROUP,
            deps=[dg.AssetKey("diga_calls")],
            kinds={"duckdb", "parquet"},
            owners=["team:analytics"],
            tags={"layer": "metrics"},
            partitions_def=partitions_def,
            metadata={
                "dagster/column_schema": table_schema(metric.schema),
                "layout": f"metrics/{metric.name}/day=YYYY-MM-DD/part-0.parquet",
            },
        )
        for metric in DAILY_CALL_METRICS
    ]

    @dg.multi_asset(
        name="daily_call_metrics",
        specs=specs,
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        can_subset=True,
    )
    def daily_call_metrics(context: dg.AssetExecutionContext, storage: DigaStorage) -> Iterator[dg.MaterializeResult]:
        """The three daily call metrics, from one scan of the run's days: deduping the calls to
        their latest version and mapping their outcomes is most of a metric's cost, so a run
        does it once for whichever of the three it materializes."""
        selected = [m for m in DAILY_CALL_METRICS if dg.AssetKey(m.name) in context.selected_asset_keys]
        yield from _materialize_daily(context, storage, selected, timezone)

    @dg.asset(
        name=PHONE_ASSIGNMENT_TIMELINE,
        group_name=METRICS_GROUP,
        deps=[dg.AssetKey("diga_phones")],
        kinds={"duckdb", "parquet"},
        owners=["team:analytics"],
        tags={"layer": "metrics"},
        metadata={
            "dagster/column_schema": table_schema(PHONE_ASSIGNMENT_TIMELINE_SCHEMA),
            "layout": "metrics/phone_assignment_timeline/part-0.parquet",
        },
    )
    def phone_assignment_timeline(context: dg.AssetExecutionContext, storage: DigaStorage) -> dg.MaterializeResult:
        """Which agents answered and placed calls on each phone, and when: one row per stretch of
        time a phone kept the same (status, inbound_agent_id, outbound_agent_id), stitched from
        every stored diga_phones snapshot.

        A stretch starts at assigned_at / released_at when the API stamps the change, otherwise at
        the first snapshot that shows it; valid_to is the next stretch's start (NULL while it
        holds). Rebuilt whole from all snapshots on every run.
        """
        storage.check_writable()
        outcome_map = outcome_map_or_fail()
        table = compute_phone_timeline(storage)
        path = metric_file(storage, PHONE_ASSIGNMENT_TIMELINE)
        write_table_atomically(path, table)
        metadata: dict[str, Any] = {
            "dagster/row_count": table.num_rows,
            "phones": pc.count_distinct(table["phone_id"]).as_py(),
            "open_stretches": table.num_rows - pc.count(table["valid_to"]).as_py(),
            "preview": dg.MetadataValue.md(markdown_preview(table)),
            "path": dg.MetadataValue.path(str(path)),
        }
        return dg.MaterializeResult(metadata={**metadata, **_refresh_views(context, storage, timezone, outcome_map)})

    return [daily_call_metrics, phone_assignment_timeline]
