"""Daily snapshots of what the API only knows as it is now: the phone register and the agents.

Such a listing has no history: a past day's partition can only hold what was observed when it
ran. So each partition keeps the real ``observed_at``, its metadata says how long after the day
ended that was, and a partition that already holds an observation closer to its day is kept
rather than overwritten by a later one.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from diga_assets.api.client import DigaClient
from diga_assets.assets.raw.common import raw_asset_options
from diga_assets.partitions import DayWindow, day_window
from diga_assets.resources import DigaApiResource
from diga_assets.storage import AtomicParquetWriter, DigaStorage

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


def existing_observation(path: Path) -> datetime | None:
    """The ``observed_at`` of a stored snapshot, or ``None`` when there is none."""
    if not path.exists():
        return None
    column = pq.read_table(path, columns=["observed_at"]).column("observed_at")
    return pc.min(column).as_py() if len(column) else None


def _day_metadata(
    kind: SnapshotAsset, table: pa.Table, observed_at: datetime, window: DayWindow, path: Path, *, kept: bool
) -> dict[str, Any]:
    return {
        "dagster/row_count": table.num_rows,
        "observed_at": dg.MetadataValue.timestamp(observed_at),
        "observed_hours_after_day_end": round(window.hours_after_end(observed_at), 3),
        "kept_existing_snapshot": kept,
        **kind.describe(table),
        "path": dg.MetadataValue.path(str(path)),
    }


def store_snapshot(
    context: dg.AssetExecutionContext, storage: DigaStorage, kind: SnapshotAsset, snapshot: Snapshot, window: DayWindow
) -> bool:
    """Store ``snapshot`` as the day's partition unless the stored one is closer to the day's end;
    attach the day's metadata; return whether it was written."""
    path = storage.layout.raw_partition(kind.dataset, window.key)
    existing = existing_observation(path)
    observed_at = snapshot.observed_at
    if existing is not None and abs(existing - window.end) < abs(observed_at - window.end):
        context.log.warning(
            f"{kind.asset} {window.key}: kept the stored snapshot observed at {existing.isoformat()}, which is "
            f"closer to the day's end than this run's ({observed_at.isoformat()})"
        )
        metadata = _day_metadata(kind, pq.read_table(path), existing, window, path, kept=True)
        context.add_asset_metadata(metadata, partition_key=window.key)
        return False
    with AtomicParquetWriter(path, kind.schema) as writer:
        writer.write_batch(snapshot.table)
    lag_hours = window.hours_after_end(observed_at)
    if lag_hours > LATE_OBSERVATION_HOURS:
        context.log.warning(
            f"{kind.asset} {window.key}: observed {lag_hours:.1f} hours after the day ended; it shows "
            f"{kind.what} as it was then, not as it was on that day"
        )
    metadata = _day_metadata(kind, snapshot.table, observed_at, window, path, kept=False)
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
