"""``call_report``: one self-contained HTML page of charts over the metric layer.

The page has no scripts, fonts or stylesheets from elsewhere: every chart is an SVG inlined
into the HTML, so the file opens offline and can be mailed around. The headline chart is also
attached to the materialization as a PNG inside markdown, so the Dagster UI shows it inline.
Data comes from ``data.py``; drawing is in ``charts.py``.
"""

import base64
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from diga_assets.assets.common import OWNERS, DigaGraph
from diga_assets.assets.report.data import gather_report_data
from diga_assets.names import (
    AGENT_VERSION_OUTCOMES,
    CALL_DURATION_STATS,
    CALL_OUTCOME_RATES,
    CALL_REPORT,
    METRICS_GROUP,
    PHONE_ASSIGNMENT_TIMELINE,
)
from diga_assets.storage import RELATIVE_LAYOUT


def build_report_asset(graph: DigaGraph) -> dg.AssetsDefinition:
    """The ``call_report`` asset over the metric assets (unpartitioned: it draws every day, in the
    graph's time zone)."""
    names = graph.names

    @dg.asset(
        key=graph.key(CALL_REPORT),
        group_name=names.name(METRICS_GROUP),
        deps=names.keys([CALL_OUTCOME_RATES, CALL_DURATION_STATS, AGENT_VERSION_OUTCOMES, PHONE_ASSIGNMENT_TIMELINE]),
        kinds={"html", "duckdb"},
        owners=OWNERS,
        tags={"layer": "report"},
        metadata={"layout": str(RELATIVE_LAYOUT.report_file(CALL_REPORT))},
        required_resource_keys={names.storage_resource},
    )
    def call_report(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        """A self-contained HTML report (``reports/call_report.html``, readable offline): daily
        call volume by outcome, completion rate over time, median and p90 duration over time,
        outcomes by agent version, and a timeline of phone assignments.

        The materialization links the file and shows the completion-rate chart inline.
        """
        storage = graph.storage(context)
        storage.check_writable()
        data = gather_report_data(storage.store, graph.outcome_map())
        # Imported here: only this asset draws, and matplotlib would otherwise add to the start-up
        # of every process that loads the code location.
        from diga_assets.assets.report.charts import render_report

        html, headline_png = render_report(
            data,
            generated_at=datetime.now(UTC),
            timezone=graph.settings.timezone,
            concurrency_limit=graph.settings.concurrency_limit,
        )
        path = storage.layout.report_file(CALL_REPORT)
        storage.store.write_bytes(path, html.encode("utf-8"), "text/html; charset=utf-8")
        metadata: dict[str, Any] = {
            "path": dg.MetadataValue.path(path),
            "url": dg.MetadataValue.url(storage.store.link(path)),
            "days": len(data.days) if data else 0,
            "size_kb": round(len(html) / 1024, 1),
        }
        if headline_png is not None:
            encoded = base64.b64encode(headline_png).decode("ascii")
            metadata["headline_chart"] = dg.MetadataValue.md(
                f"![Completion rate over time](data:image/png;base64,{encoded})"
            )
        else:
            context.log.warning("call_report: no calls stored yet; wrote a report that says so")
        return dg.MaterializeResult(metadata=metadata)

    return call_report
