"""diga-assets: the Diga API as daily Parquet snapshots and DuckDB metrics, in Dagster."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

    from diga_assets.definitions import DigaComponent

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


def __getattr__(name: str) -> Any:
    """``diga_assets.DigaComponent``, imported when first asked for: ``import diga_assets`` stays
    light (the simulator and the CLI do not load Dagster through it)."""
    if name == "DigaComponent":
        from diga_assets.definitions import DigaComponent

        return DigaComponent
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    # What `dg list components` looks through for components.
    return sorted([*globals(), "DigaComponent"])


__all__ = ["DigaComponent", "connect"]
