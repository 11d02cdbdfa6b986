"""``diga_phones``: the phone register as observed, one snapshot per day."""

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc

from diga_assets.api.client import DigaClient
from diga_assets.api.records import PHONES
from diga_assets.assets.common import DigaGraph
from diga_assets.assets.raw.common import page_to_batch
from diga_assets.assets.raw.snapshots import Listing, Snapshot, build_snapshot_asset
from diga_assets.names import DIGA_PHONES, PHONES_DATASET
from diga_assets.resources import DigaApiResource


def fetch_phone_snapshot(client: DigaClient, *, page_size: int) -> Snapshot:
    """The whole phone listing as one table stamped with a single ``observed_at``."""
    observed_at = datetime.now(UTC)
    batches = []
    pages = retries = 0
    for page in client.iter_phone_pages(limit=page_size):
        batches.append(page_to_batch(PHONES, page, observed_at))
        pages += 1
        retries += page.retries
    table = pa.Table.from_batches(batches, schema=PHONES.arrow_schema)
    return Snapshot(table, observed_at, {"pages_fetched": pages, "retries": retries})


def _fetch(client: DigaClient, diga: DigaApiResource) -> Snapshot:
    return fetch_phone_snapshot(client, page_size=diga.phones_page_size)


def _describe(table: pa.Table) -> dict[str, Any]:
    """Phones per status, and how many hold a status the spec does not list."""
    statuses = Counter[str]()
    for item in pc.value_counts(table.column("status")).to_pylist():
        statuses[item["values"]] = item["counts"]
    known = PHONES.enum_values("status") or frozenset()
    metadata: dict[str, Any] = {"unknown_enum_values": sum(n for s, n in statuses.items() if s not in known)}
    for status, count in sorted(statuses.items()):
        metadata[f"status_{status}"] = count
    return metadata


PHONE_SNAPSHOTS = Listing(
    asset=DIGA_PHONES,
    dataset=PHONES_DATASET,
    schema=PHONES.arrow_schema,
    description="""The phone register as observed: the full listing with the real ``observed_at``.

The API only knows phones as they are now, so a past day's partition holds what was
observed when it ran, and its metadata says how long after the day ended that was. A
partition that already holds an observation closer to its day is kept, not overwritten
by a later one.""",
    shows="the register",
    fetch=_fetch,
    describe=_describe,
)


def build_phones_asset(graph: DigaGraph) -> dg.AssetsDefinition:
    """``diga_phones`` on the graph's daily partitions."""
    return build_snapshot_asset(graph, PHONE_SNAPSHOTS)
