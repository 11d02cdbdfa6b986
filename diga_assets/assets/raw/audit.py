"""``call_day_audit``: the stored days of calls compared with what the API holds for them now, at
one request per day, so that deleted calls and calls finished after they were stored are found
without fetching every day again.

The list endpoint answers ``page``-paged requests with ``total_pages``; asking for ``limit=1``
over a day's window therefore tells how many calls the day has now. An API that does not count
(``total_pages`` null) is asked for the day's ids instead, and the audit says so. A day whose
count left the band its stored calls allow (see ``select_stored_day_counts.sql``), or that still
holds calls that were unfinished when fetched and are hours old, is marked ``refetch``: the
audit sensor (schedules.py) and ``diga-assets reconcile`` fetch exactly those days again.
"""

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc

from diga_assets.analysis.sql import SqlFolder
from diga_assets.api.client import DigaClient
from diga_assets.api.records import CALLS
from diga_assets.api.spec import UNFINISHED_CALL_STATUSES
from diga_assets.assets.common import OWNERS, DigaGraph, preview, refresh_views, table_schema
from diga_assets.assets.raw.calls import DATE_FILTER_SLACK, STALE_UNFINISHED_AFTER
from diga_assets.assets.raw.common import page_to_batch
from diga_assets.assets.raw.days import run_days
from diga_assets.names import API_POOL, CALL_DAY_AUDIT, CALLS_DATASET, RAW_GROUP
from diga_assets.partitions import DayWindow, day_window
from diga_assets.storage import RELATIVE_LAYOUT, DataLayout, Store
from diga_assets.storage.suppression import suppressed_calls_by_day

RAW_SQL = SqlFolder(Path(__file__).resolve().parent / "sql")
REFETCH = "refetch"
UNCHANGED = "none"

CALL_DAY_AUDIT_SCHEMA = pa.schema(
    [
        pa.field("day", pa.date32(), nullable=False, metadata={"description": "The partition day audited."}),
        pa.field("stored_calls", pa.int64(), nullable=False, metadata={"description": "Calls the stored day holds."}),
        pa.field(
            "api_calls",
            pa.int64(),
            metadata={"description": "Calls the API has for the day's window now (NULL when it could not be asked)."},
        ),
        pa.field(
            "stored_unfinished",
            pa.int64(),
            nullable=False,
            metadata={"description": "Stored calls that were dialing, queued or in progress when fetched."},
        ),
        pa.field(
            "checked_at", pa.timestamp("us", tz="UTC"), nullable=False, metadata={"description": "When it was asked."}
        ),
        pa.field(
            "action",
            pa.string(),
            nullable=False,
            metadata={"description": "'refetch' when the day differs from the API's, else 'none'."},
        ),
        pa.field("reason", pa.string(), metadata={"description": "Why the day is fetched again (NULL: unchanged)."}),
        pa.field(
            "counted_by",
            pa.string(),
            nullable=False,
            metadata={
                "description": "'count': one request (total_pages); 'ids': the API gave no count, its ids were listed."
            },
        ),
    ]
)


@dataclass
class DayAudit:
    """One stored day against the API: what is stored, what the API says now, what to do."""

    window: DayWindow
    stored_calls: int
    fewest_expected: int
    most_expected: int
    stored_unfinished: int
    stale_unfinished: int
    api_calls: int | None = None
    # Calls of erased callers the day leaves out on purpose (the API still has them).
    suppressed: int = 0
    counted_by: str = "count"
    ids_differ: bool = False
    requests: int = 0
    checked_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def reason(self) -> str | None:
        """Why the day must be fetched again, or None when it matches the API."""
        reasons = []
        if self.counted_by == "ids" and self.ids_differ:
            reasons.append(
                f"the API's ids differ from the stored ones ({self.stored_calls} stored, {self.api_calls} now)"
            )
        elif self.api_calls is not None and not self.fewest_expected <= self.api_calls <= self.most_expected:
            reasons.append(f"{self.stored_calls} stored, {self.api_calls} in the API")
        if self.stale_unfinished:
            reasons.append(f"{self.stale_unfinished} call(s) were unfinished when fetched")
        return "; ".join(reasons) or None

    @property
    def action(self) -> str:
        """``refetch`` or ``none``."""
        return REFETCH if self.reason else UNCHANGED


def stored_call_days(store: Store) -> list[date]:
    """Every day that has a stored raw calls file."""
    folders = store.folder_names(DataLayout(store.root).raw_dir(CALLS_DATASET))
    return sorted(date.fromisoformat(name.removeprefix("date=")) for name in folders if name.startswith("date="))


def stored_day_counts(store: Store, windows: Sequence[DayWindow], *, now: datetime) -> dict[str, DayAudit]:
    """What the stored raw calls say of each day of ``windows`` (each must be stored), read with
    the days either side (the API is asked for the window widened by a second), by day key."""
    layout = DataLayout(store.root)
    days = {window.day + timedelta(days=shift) for window in windows for shift in (-1, 0, 1)}
    files = store.existing(layout.raw_partition(CALLS_DATASET, day.isoformat()) for day in sorted(days))
    table = pa.table(
        {
            "day": [w.day for w in windows],
            "start_at": pa.array([w.start for w in windows], pa.timestamp("us", tz="UTC")),
            "end_at": pa.array([w.end for w in windows], pa.timestamp("us", tz="UTC")),
        }
    )
    with store.readable_copies(files) as readable, store.connect() as con:
        con.register("windows", table)
        rows = con.execute(
            RAW_SQL("select_stored_day_counts"),
            {
                "files": readable,
                "stale_before": now - STALE_UNFINISHED_AFTER,
                "unfinished": sorted(UNFINISHED_CALL_STATUSES),
            },
        ).fetchall()
    by_day = {window.day: window for window in windows}
    # Calls of erased callers are left out of the stored days on purpose; the API still counts them.
    left_out = suppressed_calls_by_day(store)
    audits = {}
    for day, stored, fewest, most, unfinished, stale in rows:
        suppressed = left_out.get(day.isoformat(), 0)
        audits[day.isoformat()] = DayAudit(
            by_day[day], stored, fewest + suppressed, most + suppressed, unfinished, stale, suppressed=suppressed
        )
    return audits


def served_call_ids(client: DigaClient, window: DayWindow, *, page_size: int) -> tuple[set[str], int]:
    """The ids of the calls the API serves for the day now, as ``diga_calls`` would keep them
    (created in ``[start, end)``), and the requests it took."""
    start = pa.scalar(window.start, type=pa.timestamp("us", tz="UTC"))
    end = pa.scalar(window.end, type=pa.timestamp("us", tz="UTC"))
    ids: set[str] = set()
    requests = 0
    for page in client.iter_call_pages(
        start_created_date=window.start - DATE_FILTER_SLACK,
        end_created_date=window.end + DATE_FILTER_SLACK,
        limit=page_size,
    ):
        requests += page.attempts
        batch = page_to_batch(CALLS, page, datetime.now(UTC), where=f" for day {window.key}")
        created = batch.column("created_date")
        ids.update(batch.filter(pc.and_(pc.greater_equal(created, start), pc.less(created, end)))["id"].to_pylist())
    return ids, requests


def stored_call_ids(store: Store, window: DayWindow) -> set[str]:
    """The ids in the stored raw calls file of the day."""
    path = DataLayout(store.root).raw_partition(CALLS_DATASET, window.key)
    return set(store.read_table(path, columns=["id"])["id"].to_pylist())


def audit_call_days(
    client: DigaClient,
    store: Store,
    windows: Sequence[DayWindow],
    *,
    max_concurrency: int,
    page_size: int = 1000,
    now: datetime | None = None,
) -> tuple[list[DayAudit], list[Any]]:
    """Ask the API how many calls each stored day of ``windows`` has now (one request a day,
    ``max_concurrency`` at once) and compare with what is stored. Returns the audits by day and
    the days the API could not be asked about (``DayFailure``)."""
    if not windows:
        return [], []
    now = now or datetime.now(UTC)
    audits = stored_day_counts(store, windows, now=now)

    def ask(window: DayWindow, cancelled: threading.Event) -> DayAudit:
        audit = audits[window.key]
        audit.checked_at = datetime.now(UTC)
        page_count = client.count_calls(
            start_created_date=window.start - DATE_FILTER_SLACK, end_created_date=window.end + DATE_FILTER_SLACK
        )
        audit.requests = 1
        if page_count is None:
            served, requests = served_call_ids(client, window, page_size=page_size)
            audit.counted_by, audit.api_calls, audit.requests = "ids", len(served), 1 + requests
            stored = stored_call_ids(store, window)
            # Every stored call still served, and the only ones not stored are the erased callers'.
            audit.ids_differ = bool(stored - served) or len(served - stored) != audit.suppressed
        else:
            audit.api_calls = page_count
        return audit

    done, failures = run_days(windows, ask, max_concurrency=max(1, min(max_concurrency, len(windows))))
    return sorted(done, key=lambda audit: audit.window.day), failures


def audit_table(audits: Sequence[DayAudit]) -> pa.Table:
    """The audits as rows of ``call_day_audit``."""
    return pa.Table.from_pylist(
        [
            {
                "day": audit.window.day,
                "stored_calls": audit.stored_calls,
                "api_calls": audit.api_calls,
                "stored_unfinished": audit.stored_unfinished,
                "checked_at": audit.checked_at,
                "action": audit.action,
                "reason": audit.reason,
                "counted_by": audit.counted_by,
            }
            for audit in audits
        ],
        schema=CALL_DAY_AUDIT_SCHEMA,
    )


def keep_audits(store: Store, audits: Sequence[DayAudit]) -> pa.Table:
    """Write the audits into ``call_day_audit``'s file, replacing the rows of the days audited and
    keeping the others' latest; return what the file holds now."""
    path = DataLayout(store.root).audit_file(CALL_DAY_AUDIT)
    fresh = audit_table(audits)
    if store.exists(path):
        kept = store.read_table(path).cast(CALL_DAY_AUDIT_SCHEMA)
        audited = pa.array([audit.window.day for audit in audits], pa.date32())
        kept = kept.filter(pc.invert(pc.is_in(kept["day"], value_set=audited)))
        fresh = pa.concat_tables([kept, fresh])
    fresh = fresh.sort_by("day")
    store.write_table(path, fresh)
    return fresh


def audit_windows(
    graph: DigaGraph, store: Store, *, today: date, first: date | None = None, last: date | None = None
) -> list[DayWindow]:
    """The stored days to audit: from ``first`` (default: ``audit_days`` days back from
    yesterday) to ``last`` (default: yesterday), those with a stored raw calls file."""
    last = last or today - timedelta(days=1)
    first = first or last - timedelta(days=graph.settings.audit_days - 1)
    keys = set(graph.partitions.get_partition_keys())
    return [
        day_window(graph.partitions, day.isoformat())
        for day in stored_call_days(store)
        if first <= day <= last and day.isoformat() in keys
    ]


def build_call_day_audit_asset(graph: DigaGraph) -> dg.AssetsDefinition:
    """``call_day_audit``, unpartitioned: each run asks about the last ``audit_days`` stored days."""
    names = graph.names

    @dg.asset(
        key=graph.key(CALL_DAY_AUDIT),
        group_name=names.name(RAW_GROUP),
        kinds={"python", "parquet"},
        owners=OWNERS,
        pool=names.api_pool,
        tags={"layer": "raw", "source": API_POOL},
        metadata={
            "dagster/column_schema": table_schema(CALL_DAY_AUDIT_SCHEMA),
            "layout": str(RELATIVE_LAYOUT.audit_file(CALL_DAY_AUDIT)),
        },
        required_resource_keys={names.api_resource, names.storage_resource},
        freshness_policy=graph.freshness_policy(CALL_DAY_AUDIT),
    )
    def call_day_audit(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        """Which stored days of calls no longer match the API: for each of the last DIGA_AUDIT_DAYS
        stored days, one request (page=1, limit=1) tells how many calls the day has now; a count
        outside what the stored day allows (deleted calls, calls added late), or stored calls
        that were unfinished when fetched and are hours old, marks the day 'refetch'. The audit
        sensor then fetches exactly those days again, with their curated days and metrics.
        A count cannot see a finished call edited in place: `diga-assets reconcile --full`."""
        storage = graph.storage(context)
        storage.check_writable()
        api = graph.api(context)
        today = datetime.now(ZoneInfo(graph.settings.timezone)).date()
        windows = audit_windows(graph, storage.store, today=today)
        with api.make_client(logger=context.log) as client:
            audits, failures = audit_call_days(
                client, storage.store, windows, max_concurrency=api.max_concurrency, page_size=api.calls_page_size
            )
        for failure in failures:
            context.log.warning(f"{CALL_DAY_AUDIT}: day {failure.key} could not be audited: {failure.error}")
        if windows and not audits:
            raise dg.Failure(
                description=f"{CALL_DAY_AUDIT}: no day could be audited; the first error: {failures[0].error}"
            )
        kept = keep_audits(storage.store, audits)
        changed = [audit for audit in audits if audit.action == REFETCH]
        for audit in changed:
            context.log.info(f"{CALL_DAY_AUDIT}: {audit.window.key}: {audit.reason}: to be fetched again")
        metadata: dict[str, Any] = {
            "dagster/row_count": kept.num_rows,
            "days_audited": len(audits),
            "days_changed": len(changed),
            "changed_days": dg.MetadataValue.json([audit.window.key for audit in changed]),
            "days_not_audited": dg.MetadataValue.json([failure.key for failure in failures]),
            "requests": sum(audit.requests for audit in audits),
            "days_counted_by_ids": sum(audit.counted_by == "ids" for audit in audits),
            "preview": preview(audit_table(changed or audits)),
        }
        if any(audit.counted_by == "ids" for audit in audits):
            context.log.warning(
                f"{CALL_DAY_AUDIT}: the API answered without total_pages, so each day's ids were listed "
                "(one request per page instead of one per day)"
            )
        views = refresh_views(context, graph, storage.store)
        return dg.MaterializeResult(metadata={**metadata, **views})

    return call_day_audit
