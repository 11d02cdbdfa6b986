"""How long a 30-day diga_calls backfill takes against the simulator with added latency, one day
at a time versus the resource's default concurrency, in the same run.

    .venv/bin/python bench/backfill_latency.py [--days 30] [--latency-ms 50] [--calls-per-day 2000] [--page-size 1000]

Prints seconds, pages and the speed-up ratio. Absolute seconds depend on the machine; the ratio
is the figure to compare.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg

from diga_assets.assets.common import DigaGraph
from diga_assets.assets.raw import build_raw_assets
from diga_assets.resources import DigaApiResource
from diga_assets.settings import Settings
from diga_assets.simulator import DigaSimulator, FaultConfig, World
from diga_assets.storage import DigaStorage

KEY = "bench-key"
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def backfill_seconds(
    world: World, days: int, latency_ms: float, max_concurrency: int, root: Path, page_size: int
) -> tuple[float, int]:
    """Seconds and API requests of one single-run backfill of ``days`` days."""
    last = (NOW - timedelta(days=1)).date()
    first = last - timedelta(days=days - 1)
    settings = Settings(root / "data", first, "UTC", "http://127.0.0.1", 2)
    assets = build_raw_assets(DigaGraph(settings))
    with DigaSimulator(world, api_key=KEY, faults=FaultConfig(latency_ms=latency_ms), keep_bodies=False) as sim:
        diga = DigaApiResource(
            api_key=KEY, base_url=sim.base_url, max_concurrency=max_concurrency, calls_page_size=page_size
        )
        started = time.perf_counter()
        result = dg.materialize(
            assets,
            selection="diga_calls",
            resources={"diga": diga, "storage": DigaStorage(data_dir=str(root / "data"))},
            tags={
                "dagster/asset_partition_range_start": first.isoformat(),
                "dagster/asset_partition_range_end": last.isoformat(),
            },
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
        seconds = time.perf_counter() - started
        assert result.success
        return seconds, len(sim.request_log.requests_to("/v1/call/"))


def main() -> None:
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--calls-per-day", type=int, default=2000)
    parser.add_argument("--page-size", type=int, default=DigaApiResource.model_fields["calls_page_size"].default)
    args = parser.parse_args()

    world = World(seed=7, now=NOW, days=args.days + 2, calls_per_day=args.calls_per_day)
    default = DigaApiResource.model_fields["max_concurrency"].default
    results = {}
    for concurrency in (1, default):
        with tempfile.TemporaryDirectory() as tmp:
            results[concurrency] = backfill_seconds(
                world, args.days, args.latency_ms, concurrency, Path(tmp), args.page_size
            )
        seconds, requests = results[concurrency]
        print(f"max_concurrency={concurrency}: {seconds:6.2f} s, {requests} requests")
    ratio = results[1][0] / results[default][0]
    print(
        f"{args.days}-day backfill, {args.calls_per_day} calls/day, {args.latency_ms:g} ms latency, "
        f"page size {args.page_size}: "
        f"max_concurrency={default} is {ratio:.2f}x faster than 1"
    )


if __name__ == "__main__":
    main()
