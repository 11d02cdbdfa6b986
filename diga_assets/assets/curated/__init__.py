"""The curated layer: what every query of the calls would otherwise recompute from the raw
snapshots, computed once per day and stored."""

from __future__ import annotations

from diga_assets.assets.curated.calls import (
    CURATED_CALLS_SCHEMA,
    DayOfAnotherTimeZone,
    build_curated_calls_asset,
    curate_calls,
)

__all__ = ["CURATED_CALLS_SCHEMA", "DayOfAnotherTimeZone", "build_curated_calls_asset", "curate_calls"]
