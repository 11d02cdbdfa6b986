"""``call_report``: one self-contained HTML page of charts over the metric layer.

The page has no scripts, fonts or stylesheets from elsewhere: every chart is an SVG inlined
into the HTML, so the file opens offline and can be mailed around. The headline chart is also
attached to the materialization as a PNG inside markdown, so the Dagster UI shows it inline.

Data comes from an in-memory DuckDB with the analysis database's views (the same definitions an
analyst queries), through the ``select_report_*`` statements in ``assets/sql``; drawing is in
``report_charts.py``.
"""

import base64
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa

from diga_assets.analysis_db import (
    AGENT_VERSION_OUTCOMES,
    CALL_DURATION_STATS,
    CALL_OUTCOME_RATES,
    PHONE_ASSIGNMENT_TIMELINE,
    analysis_views,
    load_sql,
)
from diga_assets.assets.metrics import METRICS_GROUP, metric_connection, outcome_map_or_fail
from diga_assets.storage import DigaStorage, write_bytes_atomically

CALL_REPORT = "call_report"
REPORT_FILE = "reports/call_report.html"


@dataclass(frozen=True)
class ReportData:
    """What the report draws, each as an Arrow table read from the views."""

    days: list[date]  # the days that have calls, in order
    daily_status: pa.Table
    daily_completion: pa.Table
    daily_durations: pa.Table
    version_outcomes: pa.Table
    timeline: pa.Table


def gather_report_data(storage: DigaStorage, timezone: str, outcome_map: Path) -> ReportData | None:
    """Read the report's data; None when no calls are stored yet."""
    with metric_connection(analysis_views(storage, timezone, outcome_map)) as (con, created):
        needed = {"calls", CALL_OUTCOME_RATES}
        if not needed <= set(created):
            return None
        daily_status = con.sql(load_sql("select_report_daily_status")).to_arrow_table()
        days = sorted(set(daily_status["day"].to_pylist()))
        timeline_sql = f"SELECT * FROM {PHONE_ASSIGNMENT_TIMELINE} ORDER BY number, valid_from"
        return ReportData(
            days=days,
            daily_status=daily_status,
            daily_completion=con.sql(load_sql("select_report_daily_completion")).to_arrow_table(),
            daily_durations=con.sql(load_sql("select_daily_headlines"), params={"days": days}).to_arrow_table(),
            version_outcomes=con.sql(load_sql("select_report_version_outcomes")).to_arrow_table(),
            timeline=(
                con.sql(timeline_sql).to_arrow_table()
                if PHONE_ASSIGNMENT_TIMELINE in created
                else pa.table({"phone_id": pa.array([], pa.string())})
            ),
        )


def build_report_asset(partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    """The ``call_report`` asset over the metric assets (unpartitioned: it draws every day)."""
    timezone = getattr(partitions_def, "timezone", None) or "UTC"

    @dg.asset(
        name=CALL_REPORT,
        group_name=METRICS_GROUP,
        deps=[CALL_OUTCOME_RATES, CALL_DURATION_STATS, AGENT_VERSION_OUTCOMES, PHONE_ASSIGNMENT_TIMELINE],
        kinds={"html", "duckdb"},
        owners=["team:analytics"],
        tags={"layer": "report"},
        metadata={"layout": REPORT_FILE},
    )
    def call_report(context: dg.AssetExecutionContext, storage: DigaStorage) -> dg.MaterializeResult:
        """A self-contained HTML report (``reports/call_report.html``, readable offline): daily
        call volume by status, completion rate over time, median and p90 duration over time,
        outcomes by agent version, and a timeline of phone assignments.

        The materialization links the file and shows the completion-rate chart inline.
        """
        storage.check_writable()
        data = gather_report_data(storage, timezone, outcome_map_or_fail())
        # Imported here: matplotlib costs every other run of the code location ~0.3 s and tens
        # of MB at start-up, and only this asset draws.
        from diga_assets.assets.report_charts import render_report

        html, headline_png = render_report(data, generated_at=datetime.now(UTC), timezone=timezone)
        path = storage.root / REPORT_FILE
        write_bytes_atomically(path, html.encode("utf-8"))
        metadata: dict[str, Any] = {
            "path": dg.MetadataValue.path(str(path)),
            "url": dg.MetadataValue.url(path.as_uri()),
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
