"""What the asset modules share: metadata helpers, the outcome map as a run sees it, the views
refresh at the end of a metric run, and the command that re-runs failed days."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from itertools import groupby
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa

from diga_assets.analysis.outcome_map import OutcomeMapError, resolve_outcome_map
from diga_assets.analysis.views import refresh_analysis_db
from diga_assets.partitions import rerun_commands
from diga_assets.storage import Store

OWNERS = ["team:analytics"]
PREVIEW_ROWS = 10


def outcome_map_or_fail() -> Path:
    """The validated outcome map, or a ``dg.Failure`` naming DIGA_OUTCOME_MAP and the bad line."""
    try:
        return resolve_outcome_map()
    except OutcomeMapError as exc:
        raise dg.Failure(description=str(exc)) from exc


def refresh_views(context: dg.AssetExecutionContext, store: Store, outcome_map: Path) -> dict[str, Any]:
    """Bring the analysis database's views up to date; the metadata that says what was done."""
    # Every metric step refreshes the views at the end of its run, rather than one asset owning
    # them: a view can only be created once its files exist, users materialize any subset of the
    # metrics, and the refresh is a read-only comparison unless something is missing or changed.
    replaced = refresh_analysis_db(store, outcome_map, log=context.log)
    if replaced:
        context.log.info(f"analysis database: (re)created views {', '.join(replaced)}")
    return {
        "analysis_db": dg.MetadataValue.path(str(store.analysis_db)),
        "views_replaced": len(replaced),
    }


def rows_by_day(table: pa.Table, column: str = "day") -> dict[date, pa.Table]:
    """``table``'s rows per value of ``column``, each a zero-copy slice of one stable sort (a
    filter per day would pass over the whole table once per day)."""
    ordered = table.sort_by(column)
    by_day: dict[date, pa.Table] = {}
    offset = 0
    for day, run in groupby(ordered[column].to_pylist()):
        count = sum(1 for _ in run)
        by_day[day] = ordered.slice(offset, count)
        offset += count
    return by_day


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


def with_agent_names(table: pa.Table, names: Mapping[str, str | None]) -> pa.Table:
    """``table`` with each ``*agent_id`` column followed by the agent's name (NULL where unknown),
    so a preview names agents instead of showing UUIDs."""
    for column in [c for c in table.column_names if c.endswith("agent_id")]:
        ids = table.column(column).to_pylist()
        named = pa.array([names.get(agent_id) if agent_id else None for agent_id in ids], pa.string())
        table = table.add_column(table.column_names.index(column) + 1, column.removesuffix("_id") + "_name", named)
    return table


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return str(value).replace("|", "\\|")


def missing_days_failure(asset: str, upstream: str, missing: Sequence[str], advice: str) -> dg.Failure | None:
    """The failure that refuses a run of ``asset`` over days ``upstream`` has not stored (a day
    read from nothing would be written as a day without calls), naming the days and the
    commands that materialize them after ``advice``; ``None`` when nothing is missing."""
    if not missing:
        return None
    commands = "\n".join(f"  {command}" for command in rerun_commands(upstream, missing))
    return dg.Failure(
        description=(
            f"{asset}: {upstream} has no stored partition for {', '.join(missing)}, so nothing was written. "
            f"{advice}:\n{commands}"
        ),
        metadata={"missing_days": list(missing)},
    )
