"""Daily snapshots of what the API only knows as it is now: the phone register and the agents.

Such a listing has no history: a past day's partition can only hold what was observed when it
ran. So each partition keeps the real ``observed_at``, its metadata says how long after the day
ended that was, and a partition that already holds an observation closer to its day is kept
rather than overwritten by a later one.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc

from diga_assets.api.client import DigaClient
from diga_assets.assets.common import DigaGraph
from diga_assets.assets.raw.common import raw_spec
from diga_assets.assets.step import DailyRun, DailyStep, build_daily_asset
from diga_assets.partitions import DayWindow
from diga_assets.resources import DigaApiResource

# A snapshot taken by the daily schedule lands minutes after its day ends; one taken later than
# this shows the listing as it was later, not on that day.
LATE_OBSERVATION_HOURS = 24.0


@dataclass(frozen=True)
class Snapshot:
    """One observation of a whole listing, and what fetching it cost."""

    table: pa.Table
    observed_at: datetime
    cost: dict[str, int]


@dataclass(frozen=True)
class Listing:
    """A listing the API knows only as it is now, kept as a daily snapshot asset: its names, its
    schema, and how to fetch and describe it."""

    asset: str
    dataset: str
    schema: pa.Schema
    description: str
    shows: str  # what a snapshot shows ("the phone register"), for log lines
    fetch: Callable[[DigaClient, DigaApiResource], Snapshot]
    describe: Callable[[pa.Table], dict[str, Any]]  # a day's own metadata (counts)


def observed_at(table: pa.Table) -> datetime | None:
    """When a stored snapshot was observed, or ``None`` for an empty one."""
    column = table.column("observed_at")
    return pc.min(column).as_py() if len(column) else None


def _day_metadata(
    listing: Listing, table: pa.Table, observed: datetime, window: DayWindow, location: str, *, kept: bool
) -> dict[str, Any]:
    return {
        "dagster/row_count": table.num_rows,
        "observed_at": dg.MetadataValue.timestamp(observed),
        "observed_hours_after_day_end": round(window.hours_after_end(observed), 3),
        "kept_existing_snapshot": kept,
        **listing.describe(table),
        "path": dg.MetadataValue.path(location),
    }


def store_snapshot(run: DailyRun, listing: Listing, snapshot: Snapshot, window: DayWindow) -> bool:
    """Store ``snapshot`` as the day's partition unless the stored one is closer to the day's end;
    say what the day holds; return whether it was written.

    The comparison and the write are one step of the store (``swap_table``): two runs observing
    the same day at once cannot replace a closer snapshot with a later one.
    """
    storage = run.storage
    location = storage.layout.raw_partition(listing.dataset, window.key)
    new_at = snapshot.observed_at
    kept: list[tuple[pa.Table, datetime]] = []

    def closer(stored: pa.Table | None) -> pa.Table | None:
        kept.clear()
        stored_at = observed_at(stored) if stored is not None else None
        if stored is not None and stored_at is not None and abs(stored_at - window.end) < abs(new_at - window.end):
            kept.append((stored, stored_at))
            return None
        return snapshot.table

    written = storage.store.swap_table(location, closer) is not None
    if not written:
        stored, stored_at = kept[0]
        run.log.warning(
            f"{listing.asset} {window.key}: kept the stored snapshot observed at {stored_at.isoformat()}, which is "
            f"closer to the day's end than this run's ({new_at.isoformat()})"
        )
        run.wrote(window.key, _day_metadata(listing, stored, stored_at, window, location, kept=True))
        return False
    lag_hours = window.hours_after_end(new_at)
    if lag_hours > LATE_OBSERVATION_HOURS:
        run.log.warning(
            f"{listing.asset} {window.key}: observed {lag_hours:.1f} hours after the day ended; it shows "
            f"{listing.shows} as it was then, not as it was on that day"
        )
    run.wrote(window.key, _day_metadata(listing, snapshot.table, new_at, window, location, kept=False))
    return True


def build_snapshot_asset(graph: DigaGraph, listing: Listing) -> dg.AssetsDefinition:
    """The daily snapshot asset of ``listing`` on the graph's partitions."""

    def take_snapshot(run: DailyRun) -> None:
        with run.api.make_client(logger=run.log) as client:
            snapshot = listing.fetch(client, run.api)
        written = [store_snapshot(run, listing, snapshot, window) for window in run.windows]
        run.total({"partitions_written": sum(written), "partitions_kept": len(written) - sum(written), **snapshot.cost})

    spec = raw_spec(graph, listing.asset, listing.dataset, listing.schema, listing.description)
    return build_daily_asset(graph, DailyStep(listing.asset, [spec], fetches=True), take_snapshot)
