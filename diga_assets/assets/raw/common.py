"""What the raw assets share: their declaration, and how a broken record is reported."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import dagster as dg
import pyarrow as pa

from diga_assets.api.client import Page
from diga_assets.api.records import RecordError, RecordTable
from diga_assets.assets.common import DigaGraph, table_schema
from diga_assets.assets.step import daily_spec
from diga_assets.names import API_POOL, RAW_GROUP
from diga_assets.storage import RELATIVE_LAYOUT


class RecordContractError(ValueError):
    """A record the API returned breaks the contract; names the request, the day and the record."""


def raw_spec(
    graph: DigaGraph, asset: str, dataset: str, schema: pa.Schema, description: str, **kwargs: Any
) -> dg.AssetSpec:
    """The spec of a raw asset: a daily snapshot of the API in group diga_raw, the column schema of
    what it stores and where its files go (``metadata`` adds to them; ``deps``, say, passes on)."""
    metadata = kwargs.pop("metadata", {})
    return daily_spec(
        graph,
        asset,
        group=RAW_GROUP,
        description=description,
        kinds={"python", "parquet"},
        tags={"layer": "raw", "source": API_POOL},
        metadata={
            "dagster/column_schema": table_schema(schema),
            "layout": str(RELATIVE_LAYOUT.raw_partition(dataset, "YYYY-MM-DD")),
            **metadata,
        },
        **kwargs,
    )


def page_to_batch(table: RecordTable, page: Page, stamp: datetime, *, where: str = "") -> pa.RecordBatch:
    """One page as Arrow, or a ``RecordContractError`` naming the request (and ``where``)."""
    try:
        return table.to_record_batch(page.data, stamp)
    except RecordError as exc:
        raise RecordContractError(f"{exc}; in the answer to {page.request_label}{where}") from exc
