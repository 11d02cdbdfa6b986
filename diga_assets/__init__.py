"""diga-assets: the Diga API as daily Parquet snapshots and DuckDB metrics, in Dagster."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

# pyarrow's default allocator (mimalloc) keeps a heap per thread that holds on to what it freed,
# and diga_calls converts pages on one thread per day fetched at once, so a backfill's memory grows
# with its concurrency; the C library's malloc gives it back at the same speed (BENCHMARKS.md).
# pyarrow reads this variable once, when it first allocates, so it is set before any module of
# ours imports it; a value the user set wins.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")


def connect(env: Mapping[str, str] | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only DuckDB connection with every view of the project's data, from the ``DIGA_*``
    variables alone, for a local ``DIGA_DATA_DIR`` or an ``s3://`` one (see
    ``diga_assets.analysis.session.connect``)."""
    # Imported here: ``import diga_assets`` stays light for the code location's processes.
    from diga_assets.analysis.session import connect as open_session

    return open_session(env)
