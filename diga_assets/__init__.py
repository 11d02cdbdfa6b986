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

# glibc's malloc (Arrow's allocator too, with the pool above) gives each thread that allocates an
# arena of its own, up to eight per core, and what a thread frees stays in its arena: with the
# fetch threads' arenas, the 1M-call backfill peaked 12-19 MB above its peak with two shared
# arenas, and was no faster (BENCHMARKS.md). Limited here, before the threads start. glibc reads
# MALLOC_ARENA_MAX itself at start-up, so a value the user set wins; another C library is left
# alone.
_GLIBC_M_ARENA_MAX = -8  # mallopt's parameter number, from glibc's malloc.h
MALLOC_ARENAS = 2


def _limit_malloc_arenas() -> None:
    if "MALLOC_ARENA_MAX" in os.environ:
        return
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return
    except (ValueError, OSError):
        return  # not glibc
    import ctypes

    ctypes.CDLL(None).mallopt(_GLIBC_M_ARENA_MAX, MALLOC_ARENAS)


_limit_malloc_arenas()


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
