"""``call_conversation_stats``: what each day's transcripts say, per agent and call type.

A daily metric like the others (one file per day, a view of the same name), computed from the
day's curated calls and the day's stored transcripts (``diga_call_messages``), so it runs in the
transcripts job, after the messages it reads. Only counts, averages and shares leave the query:
nothing that was said.
"""

from collections.abc import Sequence
from datetime import date

import dagster as dg
import pyarrow as pa

from diga_assets.analysis.views import (
    agent_names,
    agents_view,
    call_messages_view,
    curated_calls_view,
    views_connection,
)
from diga_assets.api.spec import UNFINISHED_CALL_STATUSES
from diga_assets.assets.common import DigaGraph
from diga_assets.assets.metrics.daily import DailyComputation, DailyMetric, metric_spec, write_metric_days
from diga_assets.assets.metrics.schemas import CALL_CONVERSATION_STATS_SCHEMA
from diga_assets.assets.metrics.statements import METRIC_SQL
from diga_assets.assets.step import CURATED_CALLS_DAYS, RAW_MESSAGES, DailyRun, DailyStep, build_daily_asset
from diga_assets.names import (
    CALL_CONVERSATION_STATS,
    CALL_MESSAGES_VIEW,
    CALLS_DATASET,
    CURATED_CALLS,
    DIGA_CALL_MESSAGES,
    MESSAGES_DATASET,
)
from diga_assets.storage import DataLayout, Store

CONVERSATION_STATS = DailyMetric(
    CALL_CONVERSATION_STATS,
    """What each day's transcripts say, per (day, agent_id, call_type): finished calls and those
with a transcript; messages per call (mean, median); user and assistant turns per call; the
share of calls with a tool call; the median seconds from the call's start to the agent's first
message; the share of calls whose caller left after the greeting (at most one user message);
the agent's response latency (the caller's last message to the reply), p50 and p90.
Computed from curated_calls and diga_call_messages (opt-in: DIGA_TRANSCRIPTS).""",
    "select_call_conversation_stats",
    CALL_CONVERSATION_STATS_SCHEMA,
    ("finished_calls", "calls_with_transcript"),
)


def compute_conversation_stats(store: Store, days: Sequence[date]) -> DailyComputation:
    """``call_conversation_stats`` for ``days``, in one query over the days' curated calls and
    stored transcripts."""
    layout = DataLayout(store.root)
    keys = [day.isoformat() for day in days]
    curated = store.existing(layout.curated_partition(CALLS_DATASET, key) for key in keys)
    messages = store.existing(layout.raw_partition(MESSAGES_DATASET, key) for key in keys)
    schema = CONVERSATION_STATS.schema
    with (
        store.readable_copies(curated) as curated_files,
        store.readable_copies(messages) as message_files,
        views_connection(
            store,
            [
                curated_calls_view(store, files=curated_files),
                call_messages_view(store, files=message_files),
                agents_view(store),
            ],
        ) as (con, created),
    ):
        if CALLS_DATASET not in created or CALL_MESSAGES_VIEW not in created:
            return DailyComputation(schema.empty_table(), {})
        params = {"days": list(days), "unfinished_statuses": sorted(UNFINISHED_CALL_STATUSES)}
        table = con.sql(METRIC_SQL(CONVERSATION_STATS.statement), params=params).to_arrow_table().cast(schema)
        return DailyComputation(table, _headlines(table), agent_names(con))


def _headlines(table: pa.Table) -> dict[date, dict[str, int]]:
    """Each day's finished calls and calls with a transcript (numbers the UI plots)."""
    sums = table.group_by("day").aggregate([("finished_calls", "sum"), ("calls_with_transcript", "sum")])
    return {
        row["day"]: {
            "finished_calls": row["finished_calls_sum"],
            "calls_with_transcript": row["calls_with_transcript_sum"],
        }
        for row in sums.to_pylist()
    }


def compute_conversations(run: DailyRun) -> None:
    """The work of ``call_conversation_stats``: the run's days from their curated calls and
    transcripts, each day written."""
    write_metric_days(run, CONVERSATION_STATS, compute_conversation_stats(run.storage.store, run.days))


def build_conversation_stats_asset(graph: DigaGraph) -> dg.AssetsDefinition:
    """``call_conversation_stats`` on the graph's daily partitions."""
    spec = metric_spec(graph, CONVERSATION_STATS, deps=(CURATED_CALLS, DIGA_CALL_MESSAGES))
    step = DailyStep(CALL_CONVERSATION_STATS, [spec], needs=[CURATED_CALLS_DAYS, RAW_MESSAGES], refreshes_views=True)
    return build_daily_asset(graph, step, compute_conversations)
