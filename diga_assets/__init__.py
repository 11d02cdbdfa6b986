"""diga-assets: the Diga API as daily Parquet snapshots and DuckDB metrics, in Dagster."""

import os

# pyarrow's default allocator (mimalloc) keeps a heap per thread that holds on to what it freed,
# and diga_calls converts pages on one thread per day fetched at once: measured on 10
# days x 10,000 calls put the peak RSS of the fetch at 259 MB with mimalloc and 209 MB with the C
# library's malloc at four days at once (320 vs 242 MB at eight), at the same speed. pyarrow reads
# this variable once, when it first allocates, so it is set before any module of ours imports it;
# a value the user set wins.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
