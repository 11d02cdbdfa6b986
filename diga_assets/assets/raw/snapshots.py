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
from diga_assets.assets.raw.common import raw_asset_options
from diga_assets.partitions import DayWindow, day_window
from diga_assets.resources import DigaApiResource
from diga_assets.storage import DigaStorage

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
class SnapshotAsset:
    """A daily snapshot asset: its names, its schema, and how to fetch and describe it."""

    asset: str
    dataset: str
    schema: pa.Schema
    what: str  # "the phone register": what a snapshot shows, for log lines
    fetch: Callable[[DigaClient, DigaApiResource], Snapshot]
    describe: Callable[[pa.Table], dict[str, Any]]  # a day's own metadata (counts)


def observed_at(table: pa.Table) -> datetime | None:
    """When a stored snapshot was observed, or ``None`` for an empty one."""
    column = table.column("observed_at")
    return pc.min(column).as_py() if len(column) else None


def _day_metadata(
    kind: SnapshotAsset, table: pa.Table, observed: datetime, window: DayWindow, location: str, *, kept: bool
) -> dict[str, Any]:
    return {
        "dagster/row_count": table.num_rows,
        "observed_at": dg.MetadataValue.timestamp(observed),
        "observed_hours_after_day_end": round(window.hours_after_end(observed), 3),
        "kept_existing_snapshot": kept,
        **kind.describe(table),
        "path": dg.MetadataValue.path(location),
    }


def store_snapshot(
    context: dg.AssetExecutionContext, storage: DigaStorage, kind: SnapshotAsset, snapshot: Snapshot, window: DayWindow
) -> bool:
    """Store ``snapshot`` as the day's partition unless the stored one is closer to the day's end;
    attach the day's metadata; return whether it was written.

    The comparison and the write are one step of the store (``swap_table``): two runs observing
    the same day at once cannot replace a closer snapshot with a later one.
    """
    location = storage.layout.raw_partition(kind.dataset, window.key)
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
        context.log.warning(
            f"{kind.asset} {window.key}: kept the stored snapshot observed at {stored_at.isoformat()}, which is "
            f"closer to the day's end than this run's ({new_at.isoformat()})"
        )
        context.add_asset_metadata(
            _day_metadata(kind, stored, stored_at, window, location, kept=True), partition_key=window.key
        )
        return False
    lag_hours = window.hours_after_end(new_at)
    if lag_hours > LATE_OBSERVATION_HOURS:
        context.log.warning(
            f"{kind.asset} {window.key}: observed {lag_hours:.1f} hours after the day ended; it shows "
            f"{kind.what} as it was then, not as it was on that day"
        )
    metadata = _day_metadata(kind, snapshot.table, new_at, window, location, kept=False)
    context.add_asset_metadata(metadata, partition_key=window.key)
    return True


def build_snapshot_asset(
    partitions: dg.DailyPartitionsDefinition, backfill_policy: dg.BackfillPolicy, kind: SnapshotAsset, description: str
) -> dg.AssetsDefinition:
    """The daily snapshot asset ``kind`` on the project's partitions."""

    @dg.asset(
        name=kind.asset,
        description=description,
        **raw_asset_options(partitions, backfill_policy, kind.schema, kind.dataset),
    )
    def snapshot_asset(
        context: dg.AssetExecutionContext, diga: DigaApiResource, storage: DigaStorage
    ) -> dg.MaterializeResult:
        storage.check_writable()
        with diga.make_client(logger=context.log) as client:
            snapshot = kind.fetch(client, diga)
        written = [
            store_snapshot(context, storage, kind, snapshot, day_window(partitions, key))
            for key in context.partition_keys
        ]
        return dg.MaterializeResult(
            metadata={
                "partitions_written": sum(written),
                "partitions_kept": len(written) - sum(written),
                **snapshot.cost,
            }
        )

    return snapshot_asset
