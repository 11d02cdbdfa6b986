"""What the call report draws, read through the analysis views (the definitions an analyst
queries) with the ``sql/select_report_*.sql`` statements beside this module."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from diga_assets.analysis.sql import SqlFolder
from diga_assets.analysis.views import ANALYSIS_SQL, analysis_views, views_connection
from diga_assets.names import (
    AGENT_VERSION_COMPARISON,
    CALL_CONCURRENCY,
    CALL_CONVERSATION_STATS,
    CALL_END_REASONS,
    CALL_KPIS,
    CALL_OUTCOME_RATES,
    CALLS_DATASET,
    PHONE_ASSIGNMENT_TIMELINE,
    REPEAT_CALLERS,
)
from diga_assets.storage import Store

REPORT_SQL = SqlFolder(Path(__file__).resolve().parent / "sql")
# The end-reason table of a report without calls. A schema, not a table: making an Arrow table
# imports pandas (0.4 s), which every process loading the code location would pay at import.
_END_REASONS_SCHEMA = pa.schema(
    [
        ("status", pa.string()),
        ("end_reason", pa.string()),
        ("calls", pa.int64()),
        ("share", pa.float64()),
        ("outcome", pa.string()),
        ("mapped_by", pa.string()),
    ]
)


@dataclass(frozen=True)
class Names:
    """What the report calls agents and versions: their names where known, else an id prefix."""

    agents: dict[str, str | None]
    versions: dict[str, str | None]

    def agent(self, agent_id: str | None) -> str:
        """The agent's name, or the start of its id when no snapshot named it."""
        if agent_id is None:
            return "(no agent)"
        return self.agents.get(agent_id) or _short(agent_id)

    def version(self, version_id: str | None) -> str:
        """The version's name (or ``v<number>``), or the start of its id when unknown."""
        if version_id is None:
            return "(no version)"
        return self.versions.get(version_id) or _short(version_id, 12)

    @classmethod
    def from_agents(cls, agents: pa.Table) -> Names:
        """From the agents view's rows."""
        rows = agents.to_pylist()
        versions = {}
        for row in rows:
            if row["version_id"] is not None:
                number = row["version_number"]
                versions[row["version_id"]] = row["version_name"] or (f"v{number}" if number is not None else None)
        return cls({row["agent_id"]: row["agent_name"] for row in rows}, versions)


def _short(identifier: str, length: int = 8) -> str:
    # Ids are UUIDs: their first characters tell them apart on a chart; placeholders stay whole.
    return identifier if identifier.startswith("(") else identifier[:length]


@dataclass(frozen=True)
class ReportData:
    """What the report draws, each as an Arrow table read from the views."""

    days: list[date]  # the days that have calls, in order
    daily_outcomes: pa.Table
    daily_completion: pa.Table
    daily_durations: pa.Table
    version_outcomes: pa.Table
    timeline: pa.Table
    names: Names
    end_reasons: pa.Table
    version_comparison: pa.Table
    # Per agent, from call_conversation_stats; no rows unless transcripts are fetched (opt-in).
    conversations: pa.Table
    # The days fetched before they ended (today so far), each with when it was last fetched.
    partial_days: dict[date, datetime] = field(default_factory=dict)
    # The last 7 days beside the 7 before them ("this" and "previous" rows; none without call_kpis).
    kpi_summary: list[dict[str, Any]] = field(default_factory=list)
    # Per (weekday, hour): mean calls started and the highest peak (no rows without call_concurrency).
    load: pa.Table = field(default_factory=lambda: pa.table({}))
    # Per day: callers and repeat callers of every call type (no rows without repeat_callers).
    repeat_callers: pa.Table = field(default_factory=lambda: pa.table({}))

    @property
    def unmapped_share(self) -> float:
        """The share of finished calls that are completed with an end reason the map does not name."""
        rows = self.end_reasons.to_pylist()
        unmapped = sum(
            r["share"]
            for r in rows
            if r["status"] == "completed" and r["end_reason"] and r["mapped_by"] != "end_reason"
        )
        return float(unmapped)


def gather_report_data(store: Store, outcome_map: Path) -> ReportData | None:
    """Read the report's data; None when no calls are stored yet."""
    with views_connection(store, analysis_views(store, outcome_map)) as (con, created):
        if not {CALLS_DATASET, CALL_OUTCOME_RATES} <= set(created):
            return None
        daily_outcomes = con.sql(REPORT_SQL("select_report_daily_outcomes")).to_arrow_table()
        days = sorted(set(daily_outcomes["day"].to_pylist()))
        # Curated days written before the partial column existed are whole days.
        calls_columns = {row[0] for row in con.sql(f"DESCRIBE {CALLS_DATASET}").fetchall()}
        partial_days = (
            {
                row["day"]: row["as_of"]
                for row in con.sql(REPORT_SQL("select_report_partial_days")).to_arrow_table().to_pylist()
            }
            if "partial" in calls_columns
            else {}
        )
        timeline_sql = f"SELECT * FROM {PHONE_ASSIGNMENT_TIMELINE} ORDER BY number, valid_from"
        comparison_sql = f"SELECT * FROM {AGENT_VERSION_COMPARISON}($first, $last)"
        return ReportData(
            days=days,
            daily_outcomes=daily_outcomes,
            daily_completion=con.sql(REPORT_SQL("select_report_daily_completion")).to_arrow_table(),
            daily_durations=con.sql(ANALYSIS_SQL("select_daily_headlines"), params={"days": days}).to_arrow_table(),
            version_outcomes=con.sql(REPORT_SQL("select_report_version_outcomes")).to_arrow_table(),
            timeline=(
                con.sql(timeline_sql).to_arrow_table()
                if PHONE_ASSIGNMENT_TIMELINE in created
                else pa.table({"phone_id": pa.array([], pa.string())})
            ),
            names=Names.from_agents(con.sql(REPORT_SQL("select_report_agents")).to_arrow_table()),
            end_reasons=(
                con.sql(REPORT_SQL("select_report_end_reasons")).to_arrow_table()
                if CALL_END_REASONS in created
                else _END_REASONS_SCHEMA.empty_table()
            ),
            version_comparison=(
                con.sql(comparison_sql, params={"first": days[0], "last": days[-1]}).to_arrow_table()
                if AGENT_VERSION_COMPARISON in created
                else pa.table({})
            ),
            conversations=(
                con.sql(REPORT_SQL("select_report_conversations")).to_arrow_table()
                if CALL_CONVERSATION_STATS in created
                else pa.table({})
            ),
            partial_days=partial_days,
            kpi_summary=(
                con.sql(REPORT_SQL("select_report_kpi_summary"), params={"last_day": days[-1]})
                .to_arrow_table()
                .to_pylist()
                if {CALL_KPIS, REPEAT_CALLERS, CALL_CONCURRENCY} <= set(created)
                else []
            ),
            load=con.sql(REPORT_SQL("select_report_load")).to_arrow_table()
            if CALL_CONCURRENCY in created
            else pa.table({}),
            repeat_callers=(
                con.sql(REPORT_SQL("select_report_repeat_callers")).to_arrow_table()
                if REPEAT_CALLERS in created
                else pa.table({})
            ),
        )
