"""Fixtures for the asset tests: real resources pointed at a simulator and a temp data dir."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from diga_assets.assets.common import DigaGraph
from diga_assets.assets.raw import build_raw_assets
from diga_assets.checks.raw import build_raw_checks
from diga_assets.partitions import DayWindow, daily_partitions, day_window
from diga_assets.resources import DigaApiResource
from diga_assets.settings import Settings
from diga_assets.storage import DigaStorage
from diga_assets_tests.conftest import SIM_KEY
from diga_assets_tests.object_store import data_root_for


def settings_for(data_dir: Path, timezone: str = "UTC", **overrides: Any) -> Settings:
    """The tests' settings: partitions from 2026-10-01 in ``timezone``, data in ``data_dir``."""
    return Settings(
        data_dir=data_dir,
        start_date=date(2026, 10, 1),
        timezone=timezone,
        api_base_url="http://127.0.0.1:1",
        trailing_days=2,
        **overrides,
    )


def window_of(key: str, timezone: str = "UTC") -> DayWindow:
    """The instants the partition ``key`` covers, under the test partitions in ``timezone``."""
    return day_window(daily_partitions(settings_for(Path("/unused"), timezone)), key)


def api_resource(sim, **overrides: Any) -> DigaApiResource:
    config: dict[str, Any] = {
        "api_key": SIM_KEY,
        "base_url": sim.base_url,
        "backoff_base_s": 0.01,
        "backoff_max_s": 0.05,
        "read_timeout_s": 10.0,
    }
    config.update(overrides)
    return DigaApiResource(**config)


def range_tags(first: str, last: str) -> dict[str, str]:
    """Tags that make one run cover a partition range (what a single-run backfill launches)."""
    return {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}


Materialize = Callable[..., dg.ExecuteInProcessResult]


@pytest.fixture
def materialize_raw(tmp_path) -> Materialize:
    """Materialize the raw assets (and their checks) against a simulator, into tmp_path/data."""

    def run(
        sim,
        *,
        first: str,
        last: str | None = None,
        select: str = "diga_calls",
        timezone: str = "UTC",
        raise_on_error: bool = True,
        instance: dg.DagsterInstance | None = None,
        **resource_overrides: Any,
    ) -> dg.ExecuteInProcessResult:
        graph = DigaGraph(settings_for(tmp_path / "data", timezone))
        assets = build_raw_assets(graph)
        checks = [c for c in build_raw_checks(graph) if select in {k.asset_key.path[-1] for k in c.check_keys}]
        kwargs: dict[str, Any] = {"tags": range_tags(first, last)} if last else {"partition_key": first}
        return dg.materialize(
            [*assets, *checks],
            selection=dg.AssetSelection.assets(select) | dg.AssetSelection.checks_for_assets(select),
            resources={"diga": api_resource(sim, **resource_overrides), "storage": storage_for(tmp_path)},
            raise_on_error=raise_on_error,
            instance=instance,
            **kwargs,
        )

    return run


def storage_for(tmp_path: Path) -> DigaStorage:
    """The storage of the test whose temporary directory is ``tmp_path``: ``tmp_path/data``, or
    a bucket prefix when the test runs under ``each_storage``'s s3 variant."""
    return _storage(data_root_for(tmp_path))


@cache
def _storage(root: str) -> DigaStorage:
    # One resource per root, so a bucket's clients are made once per test, not per call.
    return DigaStorage(data_dir=root)
