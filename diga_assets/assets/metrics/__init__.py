"""The metric layer: DuckDB over the raw Parquet snapshots, written back as Parquet.

Metrics are computed in an in-memory DuckDB connection that creates the same ``calls`` /
``phones`` views as the analysis database and runs one ``sql/select_*.sql`` statement per metric,
so what a run computes and what an analyst queries are one definition.
"""

from __future__ import annotations

import dagster as dg

from diga_assets.assets.common import DigaGraph
from diga_assets.assets.metrics.conversations import build_conversation_stats_asset, compute_conversation_stats
from diga_assets.assets.metrics.daily import DAILY_CALL_METRICS, build_daily_call_metrics, compute_daily_metrics
from diga_assets.assets.metrics.timeline import build_phone_timeline_asset, compute_phone_timeline

__all__ = [
    "DAILY_CALL_METRICS",
    "build_conversation_stats_asset",
    "build_metric_assets",
    "compute_conversation_stats",
    "compute_daily_metrics",
    "compute_phone_timeline",
]


def build_metric_assets(graph: DigaGraph) -> list[dg.AssetsDefinition]:
    """The metric assets: the daily ones on the graph's partitions (those of ``curated_calls``),
    computed by one step, the unpartitioned phone assignment timeline, and the conversation
    metric of the transcripts."""
    return [
        build_daily_call_metrics(graph),
        build_phone_timeline_asset(graph),
        build_conversation_stats_asset(graph),
    ]
