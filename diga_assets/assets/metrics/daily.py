"""The daily call metrics, computed by one step from one read of the run's curated days.

``call_outcome_rates``, ``call_duration_stats``, ``agent_version_outcomes``,
``call_end_reasons``, ``call_kpis``, ``repeat_callers`` and ``call_concurrency`` are one
``multi_asset`` (``daily_call_metrics``) over ``curated_calls``, whose days hold each call once
with its day and outcome: a run reads the columns the metrics need once, into memory, for
whichever of them it materializes (with the stored days before its first that a metric looks
back on). Each writes one file per partition day, replaced atomically; a range run computes every
day in one query and replaces each day's file.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc

from diga_assets.analysis.tariff import NO_TARIFF_TABLE, Tariff
from diga_assets.analysis.views import (
    ANALYSIS_SQL,
    agent_names,
    agents_view,
    curated_calls_view,
    statistics_macros,
    views_connection,
)
from diga_assets.assets.common import DigaGraph, preview, rows_by_day, table_schema, with_agent_names
from diga_assets.assets.metrics.schemas import (
    AGENT_VERSION_OUTCOMES_SCHEMA,
    CALL_CONCURRENCY_SCHEMA,
    CALL_DURATION_STATS_SCHEMA,
    CALL_END_REASONS_SCHEMA,
    CALL_KPIS_SCHEMA,
    CALL_OUTCOME_RATES_SCHEMA,
    REPEAT_CALLERS_SCHEMA,
)
from diga_assets.assets.metrics.statements import METRIC_SQL
from diga_assets.assets.step import CURATED_CALLS_DAYS, DailyRun, DailyStep, build_daily_asset, daily_spec
from diga_assets.names import (
    AGENT_VERSION_OUTCOMES,
    CALL_CONCURRENCY,
    CALL_DURATION_STATS,
    CALL_END_REASONS,
    CALL_KPIS,
    CALL_OUTCOME_RATES,
    CALLS_DATASET,
    CURATED_CALLS,
    DIGA_CALL_MESSAGES,
    MESSAGES_DATASET,
    METRICS_GROUP,
    REPEAT_CALLERS,
)
from diga_assets.storage import RELATIVE_LAYOUT, DataLayout, Store

# The columns of the calls view that every metric run reads (the select_* statements of the first
# four metrics, the day headlines, the partial days); a metric that reads more names them in its
# extra_columns. A run materializes just these (a statement reading another one fails to bind in
# every metric test).
METRIC_CALL_COLUMNS = (
    "day",
    "agent_id",
    "agent_version_id",
    "type",
    "status",
    "end_reason",
    "outcome",
    "outcome_mapped_by",
    "duration",
    "partial",
)


@dataclass(frozen=True)
class DailyMetric:
    """A daily metric asset: what it is, its statement, its schema and the day headlines it reports."""

    name: str
    description: str
    statement: str
    schema: pa.Schema
    headlines: tuple[str, ...]
    # Stored days before a run's first day that the statement reads (calls in progress at
    # midnight, earlier calls of a caller); it computes only the run's days.
    lookback_days: int = 0
    # The statement's parameters besides $days (DuckDB refuses a parameter a statement lacks).
    uses_timezone: bool = False
    # Columns of the calls view the statement reads besides METRIC_CALL_COLUMNS.
    extra_columns: tuple[str, ...] = ()
    # Day headlines taken from the metric's own rows: (name, "sum" or "max", column), for numbers
    # the day headlines of all calls do not have.
    row_headlines: tuple[tuple[str, str, str], ...] = ()


OUTCOME_RATES = DailyMetric(
    CALL_OUTCOME_RATES,
    """How each day's calls ended, per (day, agent_id, call_type).

Counts of each outcome (completed, failed, no_answer, transferred, voicemail, unfinished,
other_status; they add up to total_calls) and rates over the calls that ended (the first
five). The outcome comes from (status, end_reason) through the outcome map, so the rates
hold under the published status model and under Diga's newer one, where every finished
call is `completed`. Unfinished and unmapped calls are counted but not in the rates.""",
    "select_call_outcome_rates",
    CALL_OUTCOME_RATES_SCHEMA,
    ("total_calls", "ended_calls", "completion_rate", "failure_rate", "transfer_rate"),
)
DURATION_STATS = DailyMetric(
    CALL_DURATION_STATS,
    """How long each day's calls lasted, per (day, agent_id, call_type).

Over the calls with a duration: count, mean, median and 90th percentile (continuous, i.e.
interpolated), longest and total, in seconds.""",
    "select_call_duration_stats",
    CALL_DURATION_STATS_SCHEMA,
    ("calls_with_duration", "median_duration_s", "p90_duration_s"),
)
VERSION_OUTCOMES = DailyMetric(
    AGENT_VERSION_OUTCOMES,
    """Whether a new version of an agent does better than the old one: per (day, agent_id,
agent_version_id), total, ended and completed calls, the completion rate with its 95% Wilson
interval, the transfer rate (over the calls that ended) and the median duration. Over any
period, `agent_version_comparison(from_day, to_day)` in diga.duckdb gives each version's rate
and interval, and says where two versions of one agent differ beyond chance.""",
    "select_agent_version_outcomes",
    AGENT_VERSION_OUTCOMES_SCHEMA,
    ("agent_versions", "completion_rate", "median_duration_s"),
)
END_REASONS = DailyMetric(
    CALL_END_REASONS,
    """How each day's calls ended in the API's own words: per (day, agent_id, call_type, status,
end_reason), the calls, the outcome the outcome map gives them, and which rule gave it
(mapped_by: end_reason, status, or none). Diga's live API reports every finished call as
`completed` with the outcome in a free-text end_reason, so a code the map does not name
counts as the status's default; this table, and the WARN check on it, make every such code
visible with what it was counted as.""",
    "select_call_end_reasons",
    CALL_END_REASONS_SCHEMA,
    ("total_calls", "end_reasons"),
)
KPIS = DailyMetric(
    CALL_KPIS,
    """The rates an operations team runs on, per (day, agent_id, call_type), over the calls that
ended: contained calls (ended without a transfer and without failing, by the outcome map and by a
successful transfer in the transcript where transcripts are stored) and containment_rate,
transfer_rate, and for outbound calls attempted and answered calls (a person picked up:
completed or transferred) and answer_rate; billed minutes and cost with the user's tariff
(DIGA_TARIFF; NULL without one).""",
    "select_call_kpis",
    CALL_KPIS_SCHEMA,
    ("total_calls",),
    extra_columns=("id",),
    row_headlines=(
        ("finished_calls", "sum", "finished_calls"),
        ("contained_calls", "sum", "contained_calls"),
        ("transferred_calls", "sum", "transferred_calls"),
    ),
)
REPEATS = DailyMetric(
    REPEAT_CALLERS,
    """Callers who call again, per (day, call_type): distinct contacts with a call that day, and how
many had an earlier call of the same type within 24 hours and within 7 days before one of that
day's calls (a second call the same day counts). Backward-looking: a day is final once the 7 days
before it are stored. Works on pseudonymized contacts, whose keyed hash is the same every day.""",
    "select_repeat_callers",
    REPEAT_CALLERS_SCHEMA,
    (),
    row_headlines=(
        ("callers", "sum", "callers"),
        ("repeat_24h", "sum", "repeat_24h"),
        ("repeat_7d", "sum", "repeat_7d"),
    ),
    lookback_days=8,
    extra_columns=("id", "created_date", "contact_identifier"),
)
CONCURRENCY = DailyMetric(
    CALL_CONCURRENCY,
    """The load on the line, per (day, hour) in DIGA_TIMEZONE: calls started in the hour and the
peak of concurrent calls, the most calls in progress at any instant of the hour (a call is in
progress over [start_time, end_time); calls started before midnight count in the next day).
What a plan's cap on concurrent calls is compared with: the WARN check flags hours at or above
DIGA_CONCURRENCY_LIMIT when it is set.""",
    "select_call_concurrency",
    CALL_CONCURRENCY_SCHEMA,
    (),
    row_headlines=(("calls_started", "sum", "calls_started"), ("peak_concurrent", "max", "peak_concurrent")),
    lookback_days=1,
    uses_timezone=True,
    extra_columns=("start_time", "end_time"),
)
DAILY_CALL_METRICS = (OUTCOME_RATES, DURATION_STATS, VERSION_OUTCOMES, END_REASONS, KPIS, REPEATS, CONCURRENCY)


@dataclass(frozen=True)
class DailyComputation:
    """A daily metric over the days of one run, each day's headline numbers, and the agents'
    names (for previews)."""

    table: pa.Table
    headlines: dict[date, dict[str, Any]]
    agent_names: Mapping[str, str | None] = field(default_factory=dict)
    # Days fetched before they ended (today's refresh): their rows are the day so far.
    partial_days: frozenset[date] = frozenset()

    def rows_of(self, day: date) -> pa.Table:
        """The rows of one day, in the query's order (an empty table with the full schema when
        it had no calls)."""
        rows = self._rows_by_day.get(day)
        return rows if rows is not None else self.table.slice(0, 0)

    @cached_property
    def _rows_by_day(self) -> dict[date, pa.Table]:
        return rows_by_day(self.table)


def compute_daily_metrics(
    metrics: Sequence[DailyMetric],
    store: Store,
    days: Sequence[date],
    *,
    timezone: str,
    tariff: Tariff | None = None,
) -> dict[str, DailyComputation]:
    """Compute ``metrics`` for ``days`` (partition days in ``timezone``), each in one query over the
    ``calls`` view of the days' curated files and the stored days the metrics look back on, read
    once; call_kpis prices the calls with ``tariff`` (its cost NULL without one)."""
    layout = DataLayout(store.root)
    lookback = max((metric.lookback_days for metric in metrics), default=0)
    read_days = sorted({*days, *(min(days) - timedelta(days=n) for n in range(1, lookback + 1))}) if days else []
    curated = store.existing(layout.curated_partition(CALLS_DATASET, day.isoformat()) for day in read_days)
    # The run's stored transcripts, for the transfers they show (call_kpis only).
    transcripts = (
        store.existing(layout.raw_partition(MESSAGES_DATASET, day.isoformat()) for day in days)
        if KPIS in metrics
        else []
    )
    with (
        store.readable_copies(curated) as files,
        store.readable_copies(transcripts) as message_files,
        views_connection(store, [*statistics_macros(), curated_calls_view(store, files=files), agents_view(store)]) as (
            con,
            created,
        ),
    ):
        if CALLS_DATASET not in created:
            return {metric.name: DailyComputation(metric.schema.empty_table(), {}) for metric in metrics}
        # Read once for every statement below, and only the columns they read: through the view
        # each statement would read the files again.
        columns = dict.fromkeys([*METRIC_CALL_COLUMNS, *(c for metric in metrics for c in metric.extra_columns)])
        con.execute(f"CREATE TABLE calls_of_run AS SELECT {', '.join(columns)} FROM calls")
        con.execute("DROP VIEW calls")
        con.execute("ALTER TABLE calls_of_run RENAME TO calls")
        # call_kpis reads the tariff and the transcripts' transfers as tables, empty when there are none.
        con.register("tariff", tariff.table() if tariff is not None else NO_TARIFF_TABLE)
        transfers = (
            con.sql(METRIC_SQL("select_transcript_transfers"), params={"message_files": list(message_files)})
            if message_files
            else con.sql("SELECT NULL::VARCHAR AS call_id WHERE false")
        ).to_arrow_table()
        con.register("transcript_transfers", transfers)
        params = {"days": list(days)}
        rows = con.sql(ANALYSIS_SQL("select_daily_headlines"), params=params).to_arrow_table().to_pylist()
        headlines = {row.pop("day"): row for row in rows}
        names = agent_names(con)
        partial = frozenset(day for (day,) in con.sql(METRIC_SQL("select_partial_days"), params=params).fetchall())
        return {
            metric.name: DailyComputation(
                table=_with_partial(
                    con.sql(
                        METRIC_SQL(metric.statement),
                        params=params | {"timezone": timezone} if metric.uses_timezone else params,
                    ).to_arrow_table(),
                    partial,
                ).cast(metric.schema),
                headlines=headlines,
                agent_names=names,
                partial_days=partial,
            )
            for metric in metrics
        }


def _with_partial(rows: pa.Table, partial_days: frozenset[date]) -> pa.Table:
    """``rows`` with the ``partial`` column: whether the row's day is the day so far."""
    is_partial = pc.is_in(rows.column("day"), value_set=pa.array(sorted(partial_days), pa.date32()))
    return rows.append_column("partial", is_partial)


def write_metric_days(run: DailyRun, metric: DailyMetric, computed: DailyComputation) -> None:
    """Replace each of the run's days of ``metric`` and say what the day holds."""
    storage = run.storage
    for key, day in zip(run.keys, run.days, strict=True):
        rows = computed.rows_of(day)
        path = storage.layout.metric_partition(metric.name, key)
        storage.store.write_table(path, rows)
        headlines = computed.headlines.get(day, {})
        metadata: dict[str, Any] = {
            "dagster/row_count": rows.num_rows,
            "preview": preview(with_agent_names(rows, computed.agent_names)),
            "path": dg.MetadataValue.path(path),
            "partial": day in computed.partial_days,
        }
        # Numbers only, so the UI plots each across partitions; an undefined rate is left out.
        for name in metric.headlines:
            if headlines.get(name) is not None:
                metadata[name] = headlines[name]
        for name, aggregate, column in metric.row_headlines:
            if rows.num_rows:
                metadata[name] = (pc.sum if aggregate == "sum" else pc.max)(rows.column(column)).as_py()
        run.wrote(key, metadata, asset=metric.name)
    run.log.info(f"{metric.name}: wrote {len(run.keys)} day(s), {computed.table.num_rows} rows")
    run.total({"run_days": len(run.keys), "run_rows": computed.table.num_rows}, asset=metric.name)


def metric_spec(graph: DigaGraph, metric: DailyMetric, deps: Sequence[str] = (CURATED_CALLS,)) -> dg.AssetSpec:
    """The asset spec of a daily metric read from ``deps``."""
    return daily_spec(
        graph,
        metric.name,
        group=METRICS_GROUP,
        description=metric.description,
        deps=deps,
        kinds={"duckdb", "parquet"},
        tags={"layer": "metrics"},
        metadata={
            "dagster/column_schema": table_schema(metric.schema),
            "layout": str(RELATIVE_LAYOUT.metric_partition(metric.name, "YYYY-MM-DD")),
        },
    )


def compute_metrics(run: DailyRun) -> None:
    """The work of ``daily_call_metrics``: whichever of the metrics the run materializes, from one
    read of its curated days, each day written."""
    metrics = [metric for metric in DAILY_CALL_METRICS if metric.name in run.selected]
    computed = compute_daily_metrics(
        metrics,
        run.storage.store,
        run.days,
        timezone=run.graph.settings.timezone,
        tariff=run.graph.tariff() if KPIS in metrics else None,
    )
    for metric in metrics:
        write_metric_days(run, metric, computed[metric.name])


def build_daily_call_metrics(graph: DigaGraph) -> dg.AssetsDefinition:
    """The daily call metrics on the graph's partitions (those of ``curated_calls``), as one step."""
    # call_kpis also reads the days' transcripts where they are stored (the transfers they show),
    # so a run that fetches transcripts computes it after them.
    specs = [
        metric_spec(graph, metric, (CURATED_CALLS, DIGA_CALL_MESSAGES) if metric is KPIS else (CURATED_CALLS,))
        for metric in DAILY_CALL_METRICS
    ]
    step = DailyStep("daily_call_metrics", specs, needs=[CURATED_CALLS_DAYS], refreshes_views=True)
    return build_daily_asset(graph, step, compute_metrics)
