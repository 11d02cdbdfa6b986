"""diga-assets: the Diga API as daily Parquet snapshots and DuckDB metrics, in Dagster."""

import os

# pyarrow's default allocator (mimalloc) keeps a heap per thread that holds on to what it freed,
# and diga_calls converts pages on one thread per day fetched at once, so a backfill's memory grows
# with its concurrency; the C library's malloc gives it back at the same speed (BENCHMARKS.md).
# pyarrow reads this variable once, when it first allocates, so it is set before any module of
# ours imports it; a value the user set wins.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
