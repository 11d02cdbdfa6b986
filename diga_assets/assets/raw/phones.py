"""``diga_phones``: the phone register as observed, one snapshot per day."""

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from diga_assets.api.client import DigaClient
from diga_assets.api.records import PHONES
from diga_assets.assets.raw.common import page_to_batch, raw_asset_options
from diga_assets.names import DIGA_PHONES, PHONES_DATASET
from diga_assets.partitions import DayWindow, day_window
from diga_assets.resources import DigaApiResource
from diga_assets.storage import AtomicParquetWriter, DigaStorage

# A snapshot taken by the daily schedule lands minutes after its day ends; one taken later than
# this shows the register as it was later, not on that day.
LATE_OBSERVATION_HOURS = 24.0


def fetch_phone_snapshot(client: DigaClient, *, page_size: int) -> tuple[pa.Table, int, int]:
    """The whole phone listing as one table stamped with a single ``observed_at``."""
    observed_at = datetime.now(UTC)
    batches = []
    pages = retries = 0
    for page in client.iter_phone_pages(limit=page_size):
        batches.append(page_to_batch(PHONES, page, observed_at))
        pages += 1
        retries += page.retries
    return pa.Table.from_batches(batches, schema=PHONES.arrow_schema), pages, retries


def existing_observation(path: Path) -> datetime | None:
    """The ``observed_at`` of a stored phone snapshot, or ``None`` when there is none."""
    if not path.exists():
        return None
    column = pq.read_table(path, columns=["observed_at"]).column("observed_at")
    return pc.min(column).as_py() if len(column) else None


def _phones_metadata(
    table: pa.Table, observed_at: datetime, window: DayWindow, path: Path, *, kept_existing: bool
) -> dict[str, Any]:
    statuses = Counter[str]()
    for item in pc.value_counts(table.column("status")).to_pylist():
        statuses[item["values"]] = item["counts"]
    unknown = {s: n for s, n in statuses.items() if s not in (PHONES.enum_values("status") or frozenset())}
    metadata: dict[str, Any] = {
        "dagster/row_count": table.num_rows,
        "observed_at": dg.MetadataValue.timestamp(observed_at),
        "observed_hours_after_day_end": round(window.hours_after_end(observed_at), 3),
        "kept_existing_snapshot": kept_existing,
        "unknown_enum_values": sum(unknown.values()),
        "path": dg.MetadataValue.path(str(path)),
    }
    for status, count in sorted(statuses.items()):
        metadata[f"status_{status}"] = count
    return metadata


def store_snapshot(
    context: dg.AssetExecutionContext,
    storage: DigaStorage,
    snapshot: pa.Table,
    observed_at: datetime,
    window: DayWindow,
) -> bool:
    """Store ``snapshot`` as the day's partition unless the stored one is closer to the day's end;
    attach the day's metadata; return whether it was written."""
    path = storage.layout.raw_partition(PHONES_DATASET, window.key)
    existing = existing_observation(path)
    if existing is not None and abs(existing - window.end) < abs(observed_at - window.end):
        context.log.warning(
            f"{DIGA_PHONES} {window.key}: kept the stored snapshot observed at {existing.isoformat()}, which is "
            f"closer to the day's end than this run's ({observed_at.isoformat()})"
        )
        metadata = _phones_metadata(pq.read_table(path), existing, window, path, kept_existing=True)
        context.add_asset_metadata(metadata, partition_key=window.key)
        return False
    with AtomicParquetWriter(path, PHONES.arrow_schema) as writer:
        writer.write_batch(snapshot)
    lag_hours = window.hours_after_end(observed_at)
    if lag_hours > LATE_OBSERVATION_HOURS:
        context.log.warning(
            f"{DIGA_PHONES} {window.key}: observed {lag_hours:.1f} hours after the day ended; it shows the "
            "register as it was then, not as it was on that day"
        )
    context.add_asset_metadata(
        _phones_metadata(snapshot, observed_at, window, path, kept_existing=False), partition_key=window.key
    )
    return True


def build_phones_asset(partitions: dg.DailyPartitionsDefinition) -> dg.AssetsDefinition:
    """``diga_phones`` on the project's daily partitions."""

    @dg.asset(name=DIGA_PHONES, **raw_asset_options(partitions, PHONES.arrow_schema, PHONES_DATASET))
    def diga_phones(
        context: dg.AssetExecutionContext, diga: DigaApiResource, storage: DigaStorage
    ) -> dg.MaterializeResult:
        """The phone register as observed: the full listing with the real ``observed_at``.

        The API only knows phones as they are now, so a past day's partition holds what was
        observed when it ran, and its metadata says how long after the day ended that was. A
        partition that already holds an observation closer to its day is kept, not overwritten
        by a later one.
        """
        storage.check_writable()
        with diga.make_client(logger=context.log) as client:
            snapshot, pages, retries = fetch_phone_snapshot(client, page_size=diga.phones_page_size)
        observed_at = snapshot.column("observed_at")[0].as_py() if snapshot.num_rows else datetime.now(UTC)
        written = [
            store_snapshot(context, storage, snapshot, observed_at, day_window(partitions, key))
            for key in context.partition_keys
        ]
        return dg.MaterializeResult(
            metadata={
                "partitions_written": sum(written),
                "partitions_kept": len(written) - sum(written),
                "pages_fetched": pages,
                "retries": retries,
            }
        )

    return diga_phones
