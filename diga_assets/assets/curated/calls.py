"""``curated_calls``: each day's calls once, as last fetched, with their day and outcome.

Every question about calls starts the same way: keep each call's latest fetched version, give it
its day, map (status, end_reason) to an outcome. Done at query time that is a window over every id
ever stored, on every query, with nothing a day filter can skip. Most of it is known when a day
is written: ``diga_calls`` stores each call once, under the day it was created, and replaces a day
whole when it fetches it again. This asset adds the outcome, once per day, in the same runs, and
stores the result under ``curated/calls/day=YYYY-MM-DD/``: the analysis database's ``calls`` view
and the daily metrics read these files, and DuckDB opens only the days a query filters on.

The outcome is the outcome map's when the day was curated: after changing the map, materialize
``curated_calls`` (and the metrics) over the days to see the change; no API request is made.
"""

import hashlib
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc

from diga_assets.analysis.sql import SqlFolder
from diga_assets.analysis.views import outcome_map_view, stored_calls_view, views_connection
from diga_assets.assets.common import DigaGraph, table_schema
from diga_assets.assets.step import RAW_CALLS, DailyRun, DailyStep, build_daily_asset, daily_spec
from diga_assets.names import CALLS_DATASET, CURATED_CALLS, CURATED_GROUP, DIGA_CALLS, UNPREFIXED, Names
from diga_assets.privacy import stored_calls_schema
from diga_assets.storage import RELATIVE_LAYOUT, DataLayout, Store

CURATED_SQL = SqlFolder(Path(__file__).resolve().parent / "sql")

_OUTCOME_DOC = (
    "What the call came to, from (status, end_reason) through the outcome map as it was when this "
    "day was curated: completed, failed, no_answer, transferred, voicemail, unfinished or other."
)
_PARTIAL_DOC = (
    "True when the call was fetched before its day ended in the partition time zone: the day so far "
    "(today's refresh); the fetch after midnight makes the day whole. NULL in days curated before 2026-12."
)
_MAPPED_BY_DOC = (
    "Which row of the outcome map gave `outcome`: end_reason (a row names this status and end_reason), "
    "status (the status's default row) or none (nobody mapped the status)."
)


def curated_calls_schema(*, pseudonymized: bool = False) -> pa.Schema:
    """The columns of a curated day: the stored call's, then ``outcome``, ``outcome_mapped_by`` and
    ``partial`` (``day`` is the folder's name)."""
    extra = [
        pa.field("outcome", pa.string(), nullable=False, metadata={"doc": _OUTCOME_DOC}),
        pa.field("outcome_mapped_by", pa.string(), nullable=False, metadata={"doc": _MAPPED_BY_DOC}),
        pa.field("partial", pa.bool_(), metadata={"doc": _PARTIAL_DOC}),
    ]
    return pa.schema([*stored_calls_schema(pseudonymized=pseudonymized), *extra])


CURATED_CALLS_SCHEMA = curated_calls_schema()


class DayOfAnotherTimeZone(ValueError):
    """A stored day holds calls created on another day of the partition time zone: it was fetched
    under another ``DIGA_TIMEZONE``. The message names the day, how many calls, one id and the
    command that fetches the day again."""


def curate_calls(
    store: Store,
    timezone: str,
    outcome_map: Path,
    days: Sequence[date],
    schema: pa.Schema = CURATED_CALLS_SCHEMA,
    names: Names = UNPREFIXED,
) -> Iterator[tuple[date, pa.Table]]:
    """Each of ``days`` with its curated calls (an empty table for a day without a raw file), in
    order: the day's stored raw calls with their outcome, by creation time.

    A day is its own raw file: ``diga_calls`` files each call under the day of its creation in
    ``timezone``, once per day, and the blocking ``call_ids_unique`` checks stop a call stored under
    two days. A day fetched under another time zone raises ``DayOfAnotherTimeZone`` (with the
    command, in ``names``, that fetches it again). The next day
    is computed while the caller writes this one (DuckDB and the Parquet writer both work outside
    the interpreter lock)."""
    layout = DataLayout(store.root)
    with (
        views_connection(store, [outcome_map_view(outcome_map)]) as (con, _),
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="diga-curate") as pool,
    ):

        def compute(day: date) -> pa.Table:
            raw = store.existing([layout.raw_partition(CALLS_DATASET, day.isoformat())])
            with store.readable_copies(raw) as files:
                view = stored_calls_view(store, files=files)
                if not view.can_create():
                    return schema.empty_table()
                # One thread runs every query, so the view is replaced between days, never during one.
                cursor = con.cursor()
                cursor.execute(view.sql())
                [(outside, first_id)] = cursor.execute(
                    CURATED_SQL("select_calls_outside_their_day"), {"timezone": timezone}
                ).fetchall()
                if outside:
                    command = names.rerun_commands(DIGA_CALLS, [day.isoformat()])[0]
                    raise DayOfAnotherTimeZone(
                        f"{CURATED_CALLS}: {outside} call(s) stored under {day} (call {first_id}, say) were created "
                        f"on another day in {timezone} (DIGA_TIMEZONE): the day was fetched under another time "
                        f"zone. Nothing was written for it; fetch it again:\n  {command}"
                    )
                curated = cursor.sql(CURATED_SQL("select_curated_calls"), params={"timezone": timezone})
                return _conformed(curated.to_arrow_table(), schema)

        ahead: deque[tuple[date, Future[pa.Table]]] = deque()
        for day in sorted(days):
            ahead.append((day, pool.submit(compute, day)))
            if len(ahead) > 1:
                computed_day, computing = ahead.popleft()
                yield computed_day, computing.result()
        while ahead:
            computed_day, computing = ahead.popleft()
            yield computed_day, computing.result()


def _conformed(rows: pa.Table, schema: pa.Schema) -> pa.Table:
    """``rows`` with exactly the columns of ``schema``, in its order and types: every curated day
    has one schema, so the calls view reads the days without unifying them. A column that raw
    days stored by an older version lack is NULL."""
    columns = [
        rows.column(field.name) if field.name in rows.column_names else pa.nulls(rows.num_rows, field.type)
        for field in schema
    ]
    return pa.Table.from_arrays(columns, names=schema.names).cast(schema)


def _day_metadata(rows: pa.Table, location: str) -> dict[str, Any]:
    """A curated day's metadata: its calls, and how many came to each outcome (numbers only, so
    the UI plots them across partitions; never a value of a call)."""
    metadata: dict[str, Any] = {"dagster/row_count": rows.num_rows, "path": dg.MetadataValue.path(location)}
    if rows.num_rows:
        metadata["partial"] = bool(pc.any(rows.column("partial")).as_py())
        counts = rows.column("outcome").value_counts().to_pylist()
        metadata.update({f"outcome_{item['values']}": item["counts"] for item in counts})
    return metadata


CURATED_CALLS_DESCRIPTION = """Each day's calls once, as last fetched, with `day` and `outcome`: what the `calls` view
in diga.duckdb reads, and what the daily metrics are computed from.

Computed from the day's stored raw calls (no API request; a re-fetch replaces the raw
day, so each call is there as last fetched), with its outcome from the outcome map (and
`outcome_mapped_by`). `day` is the partition's date. A raw day fetched under another
DIGA_TIMEZONE is refused with the command that fetches it again. Re-materialize over a
range after changing the outcome map or upgrading the project; each day's file is
replaced atomically."""


def curate(run: DailyRun) -> None:
    """The work of ``curated_calls``: each of the run's days curated from its raw day and written."""
    outcome_map = run.graph.outcome_map()
    schema = curated_calls_schema(pseudonymized=run.graph.settings.pseudonymize_contacts)
    storage = run.storage
    rows = 0
    days = curate_calls(storage.store, run.graph.partitions.timezone, outcome_map, run.days, schema, run.graph.names)
    try:
        for day, table in days:
            location = storage.layout.curated_partition(CALLS_DATASET, day.isoformat())
            rows += storage.store.write_table(location, table)
            run.wrote(day.isoformat(), _day_metadata(table, location))
    except DayOfAnotherTimeZone as exc:
        raise dg.Failure(description=str(exc)) from None
    run.log.info(f"{CURATED_CALLS}: wrote {len(run.keys)} day(s), {rows} calls")
    run.total(
        {
            "run_days": len(run.keys),
            "run_rows": rows,
            # Which map the outcomes came from: a change shows as a new digest.
            "outcome_map_sha256": hashlib.sha256(outcome_map.read_bytes()).hexdigest(),
        }
    )


def build_curated_calls_asset(graph: DigaGraph) -> dg.AssetsDefinition:
    """``curated_calls`` on the partitions of ``diga_calls``."""
    spec = daily_spec(
        graph,
        CURATED_CALLS,
        group=CURATED_GROUP,
        description=CURATED_CALLS_DESCRIPTION,
        deps=[DIGA_CALLS],
        kinds={"duckdb", "parquet"},
        tags={"layer": "curated"},
        metadata={
            "dagster/column_schema": table_schema(
                curated_calls_schema(pseudonymized=graph.settings.pseudonymize_contacts)
            ),
            "layout": RELATIVE_LAYOUT.curated_partition(CALLS_DATASET, "YYYY-MM-DD"),
        },
    )
    step = DailyStep(CURATED_CALLS, [spec], needs=[RAW_CALLS], refreshes_views=True)
    return build_daily_asset(graph, step, curate)
