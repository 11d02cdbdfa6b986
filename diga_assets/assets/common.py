"""What the asset modules share: the graph they are built into (``DigaGraph``), metadata
helpers, the outcome map as a run sees it, and the views refresh at the end of a run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache, cached_property
from itertools import groupby
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa

from diga_assets.analysis.outcome_map import OutcomeMapError, resolve_outcome_map
from diga_assets.analysis.tariff import Tariff, TariffError, resolve_tariff
from diga_assets.analysis.views import refresh_analysis_db
from diga_assets.names import (
    CALL_DAY_AUDIT,
    CALLS_JOB_ASSETS,
    PHONES_JOB_ASSETS,
    TRANSCRIPTS_JOB_ASSETS,
    Names,
)
from diga_assets.partitions import backfill_policy, daily_partitions
from diga_assets.resources import DigaApiResource
from diga_assets.settings import Settings
from diga_assets.storage import DigaStorage, Store

OWNERS = ["team:analytics"]
PREVIEW_ROWS = 10

# When the schedules fire, in the partition time zone (schedules.py): the calls and phones runs
# right after midnight, the audit in the small hours, once the night's runs are done.
DAILY_CRON = "15 0 * * *"
AUDIT_CRON = "30 3 * * *"
# What each asset's freshness policy expects of them: a materialization between the schedule
# firing and a deadline that leaves a long run time to finish (the trailing days, a backfill
# queued for the API pool); the transcripts follow the calls run by sensor.
DAILY_DEADLINE = ("0 2 * * *", timedelta(hours=1, minutes=45))
TRANSCRIPTS_DEADLINE = ("0 4 * * *", timedelta(hours=3, minutes=45))
AUDIT_DEADLINE = ("0 5 * * *", timedelta(hours=1, minutes=30))
# The intraday refresh's assets: a refresh is due every interval and takes a minute or two; one
# missed (a slow run, a daemon restart) warns, two in a row fail.
INTRADAY_RUN_ALLOWANCE = timedelta(minutes=5)


@dataclass(frozen=True)
class DigaGraph:
    """One instance of the Diga asset graph, as every asset, check and schedule is built into it:
    its settings, their daily partitions and backfill policy, its names (keys under a prefix when
    a project holds several instances), and its resources as a run finds them."""

    settings: Settings

    @property
    def names(self) -> Names:
        """The keys and names of this instance."""
        return self.settings.names

    @cached_property
    def partitions(self) -> dg.DailyPartitionsDefinition:
        """One partition per day in the configured time zone, from the start date to yesterday."""
        return daily_partitions(self.settings)

    @cached_property
    def calls_partitions(self) -> dg.DailyPartitionsDefinition:
        """The days of the calls job's assets: up to today while the intraday refresh is on (the
        day so far), else the same days as every other asset."""
        if self.settings.intraday_minutes:
            return daily_partitions(self.settings, with_today=True)
        return self.partitions

    def partitions_for(self, asset: str) -> dg.DailyPartitionsDefinition:
        """The daily partitions of ``asset``: today's exists for the calls job's assets, and for
        the transcripts' so that a run can still select calls and transcripts together (nothing
        fetches today's transcripts); not for the phone snapshots, whose day is the one that ended
        when they were observed."""
        return self.calls_partitions if asset in (*CALLS_JOB_ASSETS, *TRANSCRIPTS_JOB_ASSETS) else self.partitions

    @cached_property
    def backfill_policy(self) -> dg.BackfillPolicy:
        """One run per backfill, or runs of ``backfill_days_per_run`` days."""
        return backfill_policy(self.settings)

    def key(self, asset: str) -> dg.AssetKey:
        """The asset key of ``asset`` in this instance."""
        return self.names.key(asset)

    def freshness_policy(self, asset: str) -> dg.FreshnessPolicy | None:
        """What the UI holds ``asset`` to: the calls job's assets, while the intraday refresh is on,
        a materialization within two refresh intervals (a warning after one); the others each day
        between their schedule firing and a deadline, in the partition time zone (README,
        "Freshness"). None for what nothing runs by itself: the report, the transcripts while
        they are off, the audit at 0 days."""
        settings = self.settings
        if asset in CALLS_JOB_ASSETS and settings.intraday_minutes:
            interval = timedelta(minutes=settings.intraday_minutes)
            return dg.FreshnessPolicy.time_window(
                fail_window=2 * interval + INTRADAY_RUN_ALLOWANCE, warn_window=interval + INTRADAY_RUN_ALLOWANCE
            )
        if asset in (*CALLS_JOB_ASSETS, *PHONES_JOB_ASSETS):
            deadline = DAILY_DEADLINE
        elif asset in TRANSCRIPTS_JOB_ASSETS and settings.transcripts:
            deadline = TRANSCRIPTS_DEADLINE
        elif asset == CALL_DAY_AUDIT and settings.audit_days > 0:
            deadline = AUDIT_DEADLINE
        else:
            return None
        cron, lower_bound = deadline
        return _cron_freshness_policy(cron, lower_bound, settings.timezone)

    def api(self, context: dg.OpExecutionContext) -> DigaApiResource:
        """The API client resource of this instance, in a run."""
        return getattr(context.resources, self.names.api_resource)

    def storage(self, context: dg.OpExecutionContext) -> DigaStorage:
        """The storage root resource of this instance, in a run."""
        return getattr(context.resources, self.names.storage_resource)

    def tariff(self) -> Tariff | None:
        """The validated tariff, None without one, or a ``dg.Failure`` naming its setting and the bad line."""
        try:
            return resolve_tariff(self.settings)
        except TariffError as exc:
            raise dg.Failure(description=str(exc)) from exc

    def outcome_map(self) -> Path:
        """The validated outcome map, or a ``dg.Failure`` naming its setting and the bad line."""
        try:
            return resolve_outcome_map(self.settings)
        except OutcomeMapError as exc:
            raise dg.Failure(description=str(exc)) from exc


def refresh_views(context: dg.OpExecutionContext, graph: DigaGraph, store: Store) -> dict[str, Any]:
    """Bring the analysis database's views up to date; the metadata that says what was done."""
    # Every metric step refreshes the views at the end of its run, rather than one asset owning
    # them: a view can only be created once its files exist, users materialize any subset of the
    # metrics, and the refresh is a read-only comparison unless something is missing or changed.
    replaced = refresh_analysis_db(store, graph.outcome_map(), log=context.log, names=graph.names)
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


def preview(table: pa.Table, limit: int = PREVIEW_ROWS) -> dg.TableMetadataValue:
    """The first ``limit`` rows as a table the UI shows (values a table cell can hold: numbers,
    text, booleans; dates and times as ISO text)."""
    records = [
        dg.TableRecord({name: _cell(value) for name, value in row.items()}) for row in table.slice(0, limit).to_pylist()
    ]
    schema = dg.TableSchema(columns=[dg.TableColumn(name=f.name, type=str(f.type)) for f in table.schema])
    return dg.MetadataValue.table(records=records, schema=schema)


def with_agent_names(table: pa.Table, names: Mapping[str, str | None]) -> pa.Table:
    """``table`` with each ``*agent_id`` column followed by the agent's name (NULL where unknown),
    so a preview names agents instead of showing UUIDs."""
    for column in [c for c in table.column_names if c.endswith("agent_id")]:
        ids = table.column(column).to_pylist()
        named = pa.array([names.get(agent_id) if agent_id else None for agent_id in ids], pa.string())
        table = table.add_column(table.column_names.index(column) + 1, column.removesuffix("_id") + "_name", named)
    return table


def _cell(value: Any) -> str | int | float | bool | None:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return str(value)


@cache
def _cron_freshness_policy(cron: str, lower_bound: timedelta, timezone: str) -> dg.FreshnessPolicy:
    """One policy per deadline and time zone, shared by the assets held to it: Dagster checks a
    cron policy by walking the cron's ticks to find its smallest interval, and a
    graph is built once per code-location load, per component instance and per test."""
    return dg.FreshnessPolicy.cron(deadline_cron=cron, lower_bound_delta=lower_bound, timezone=timezone)
