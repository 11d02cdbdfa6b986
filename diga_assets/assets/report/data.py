"""What the call report draws, read through the analysis views (the definitions an analyst
queries) with the ``sql/select_report_*.sql`` statements beside this module."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa

from diga_assets.analysis.sql import SqlFolder
from diga_assets.analysis.views import ANALYSIS_SQL, analysis_views, views_connection
from diga_assets.names import CALL_OUTCOME_RATES, CALLS_DATASET, PHONE_ASSIGNMENT_TIMELINE
from diga_assets.storage import DataLayout

REPORT_SQL = SqlFolder(Path(__file__).resolve().parent / "sql")


@dataclass(frozen=True)
class ReportData:
    """What the report draws, each as an Arrow table read from the views."""

    days: list[date]  # the days that have calls, in order
    daily_status: pa.Table
    daily_completion: pa.Table
    daily_durations: pa.Table
    version_outcomes: pa.Table
    timeline: pa.Table


def gather_report_data(layout: DataLayout, timezone: str, outcome_map: Path) -> ReportData | None:
    """Read the report's data; None when no calls are stored yet."""
    with views_connection(analysis_views(layout, timezone, outcome_map)) as (con, created):
        if not {CALLS_DATASET, CALL_OUTCOME_RATES} <= set(created):
            return None
        daily_status = con.sql(REPORT_SQL("select_report_daily_status")).to_arrow_table()
        days = sorted(set(daily_status["day"].to_pylist()))
        timeline_sql = f"SELECT * FROM {PHONE_ASSIGNMENT_TIMELINE} ORDER BY number, valid_from"
        return ReportData(
            days=days,
            daily_status=daily_status,
            daily_completion=con.sql(REPORT_SQL("select_report_daily_completion")).to_arrow_table(),
            daily_durations=con.sql(ANALYSIS_SQL("select_daily_headlines"), params={"days": days}).to_arrow_table(),
            version_outcomes=con.sql(REPORT_SQL("select_report_version_outcomes")).to_arrow_table(),
            timeline=(
                con.sql(timeline_sql).to_arrow_table()
                if PHONE_ASSIGNMENT_TIMELINE in created
                else pa.table({"phone_id": pa.array([], pa.string())})
            ),
        )
