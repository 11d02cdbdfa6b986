"""``phone_assignment_timeline``: which agents each phone had, and when, from every snapshot."""

from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc

from diga_assets.analysis.views import agent_names, agents_view, phones_view, views_connection
from diga_assets.assets.common import OWNERS, DigaGraph, preview, refresh_views, table_schema, with_agent_names
from diga_assets.assets.metrics.schemas import PHONE_ASSIGNMENT_TIMELINE_SCHEMA
from diga_assets.assets.metrics.statements import METRIC_SQL
from diga_assets.names import DIGA_PHONES, METRICS_GROUP, PHONE_ASSIGNMENT_TIMELINE, PHONES_DATASET
from diga_assets.storage import RELATIVE_LAYOUT, Store


def compute_phone_timeline(store: Store) -> tuple[pa.Table, dict[str, str | None]]:
    """The phone assignment timeline, from every stored phone snapshot, and the agents' names."""
    with views_connection(store, [phones_view(store), agents_view(store)]) as (con, created):
        names = agent_names(con)
        if PHONES_DATASET not in created:
            return PHONE_ASSIGNMENT_TIMELINE_SCHEMA.empty_table(), names
        table = con.sql(METRIC_SQL("select_phone_assignment_timeline")).to_arrow_table()
    return table.cast(PHONE_ASSIGNMENT_TIMELINE_SCHEMA), names


def build_phone_timeline_asset(graph: DigaGraph) -> dg.AssetsDefinition:
    """``phone_assignment_timeline``, unpartitioned: it is rebuilt from every snapshot."""
    names = graph.names

    @dg.asset(
        key=graph.key(PHONE_ASSIGNMENT_TIMELINE),
        group_name=names.name(METRICS_GROUP),
        deps=names.keys([DIGA_PHONES]),
        kinds={"duckdb", "parquet"},
        owners=OWNERS,
        tags={"layer": "metrics"},
        metadata={
            "dagster/column_schema": table_schema(PHONE_ASSIGNMENT_TIMELINE_SCHEMA),
            "layout": str(RELATIVE_LAYOUT.metric_file(PHONE_ASSIGNMENT_TIMELINE)),
        },
        required_resource_keys={names.storage_resource},
        freshness_policy=graph.freshness_policy(PHONE_ASSIGNMENT_TIMELINE),
    )
    def phone_assignment_timeline(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        """Which agents answered and placed calls on each phone, and when: one row per stretch of
        time a phone kept the same (status, inbound_agent_id, outbound_agent_id), stitched from
        every stored diga_phones snapshot.

        A stretch starts at assigned_at / released_at when the API stamps the change, otherwise at
        the first snapshot that shows it; valid_to is the next stretch's start (NULL while it
        holds). Rebuilt whole from all snapshots on every run.
        """
        storage = graph.storage(context)
        storage.check_writable()
        table, agents = compute_phone_timeline(storage.store)
        path = storage.layout.metric_file(PHONE_ASSIGNMENT_TIMELINE)
        storage.store.write_table(path, table)
        metadata: dict[str, Any] = {
            "dagster/row_count": table.num_rows,
            "phones": pc.count_distinct(table["phone_id"]).as_py(),
            "open_stretches": table.num_rows - pc.count(table["valid_to"]).as_py(),
            "preview": preview(with_agent_names(table, agents)),
            "path": dg.MetadataValue.path(path),
        }
        views = refresh_views(context, graph, storage.store)
        return dg.MaterializeResult(metadata={**metadata, **views})

    return phone_assignment_timeline
