"""What the two raw assets share: their declaration, and how a broken record is reported."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import dagster as dg
import pyarrow as pa

from diga_assets.api.client import Page
from diga_assets.api.records import RecordError, RecordTable
from diga_assets.assets.common import OWNERS, table_schema
from diga_assets.names import API_POOL, RAW_GROUP
from diga_assets.storage import RELATIVE_LAYOUT


class RecordContractError(ValueError):
    """A record the API returned breaks the contract; names the request, the day and the record."""


def raw_asset_options(
    partitions: dg.DailyPartitionsDefinition,
    backfill_policy: dg.BackfillPolicy,
    schema: pa.Schema,
    dataset: str,
    **metadata: Any,
) -> dict[str, Any]:
    """The ``@dg.asset`` arguments of a raw asset: daily partitions, how a backfill is split into
    runs, the API pool, the column schema of what it stores, and ``metadata``."""
    return {
        "group_name": RAW_GROUP,
        "partitions_def": partitions,
        "backfill_policy": backfill_policy,
        # Both raw assets fetch from the API: one pool, so backfills and schedules queue for it.
        "pool": API_POOL,
        "kinds": {"python", "parquet"},
        "owners": OWNERS,
        "tags": {"layer": "raw", "source": API_POOL},
        "metadata": {
            "dagster/column_schema": table_schema(schema),
            "layout": str(RELATIVE_LAYOUT.raw_partition(dataset, "YYYY-MM-DD")),
            **metadata,
        },
    }


def page_to_batch(table: RecordTable, page: Page, stamp: datetime, *, where: str = "") -> pa.RecordBatch:
    """One page as Arrow, or a ``RecordContractError`` naming the request (and ``where``)."""
    try:
        return table.to_record_batch(page.data, stamp)
    except RecordError as exc:
        raise RecordContractError(f"{exc}; in the answer to {page.request_label}{where}") from exc
