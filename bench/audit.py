"""How long the audit of a year of stored days takes against the simulator with added latency,
against its floor (days / max_concurrency x latency: one request a day, that many at once).

    .venv/bin/python bench/audit.py [--days 365] [--latency-ms 50] [--calls-per-day 30] [--max-concurrency 4]

The year is stored first without latency (diga_calls, one run); then, with the latency on,
``call_day_audit`` is materialized as a whole command would run it, and ``audit_call_days`` (the
audit's work alone) is timed too. Prints requests (the target: one per day), seconds and the
ratios to the floor (the target: at most 1.3x for the audit's work).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg

from diga_assets.assets.common import DigaGraph
from diga_assets.assets.raw import build_raw_assets
from diga_assets.assets.raw.audit import audit_call_days, audit_windows
from diga_assets.names import CALL_DAY_AUDIT, DIGA_CALLS
from diga_assets.resources import DigaApiResource
from diga_assets.settings import AUDIT_DAYS, Settings
from diga_assets.simulator import DigaSimulator, FaultConfig, World
from diga_assets.storage import DigaStorage

KEY = "bench-key"
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
CALLS_PATH = "/v1/call/"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--calls-per-day", type=int, default=30)
    parser.add_argument("--max-concurrency", type=int, default=4)
    args = parser.parse_args()
    days, latency_s, concurrency = args.days, args.latency_ms / 1000, args.max_concurrency
    last = (NOW - timedelta(days=1)).date()
    first = last - timedelta(days=days - 1)
    world = World(seed=11, now=NOW, days=days + 1, calls_per_day=args.calls_per_day, status_model="current")
    faults = FaultConfig()
    with (
        tempfile.TemporaryDirectory() as tmp,
        DigaSimulator(world, api_key=KEY, faults=faults, keep_bodies=False) as sim,
    ):
        # The asset audits back from the real yesterday: the most days it may, so it covers the year.
        settings = Settings(Path(tmp) / "data", first, "UTC", sim.base_url, 2, audit_days=AUDIT_DAYS.high)
        graph = DigaGraph(settings)
        assets = build_raw_assets(graph)
        storage = DigaStorage(data_dir=str(settings.data_dir))
        diga = DigaApiResource(api_key=KEY, base_url=sim.base_url, max_concurrency=concurrency)
        resources = {"diga": diga, "storage": storage}
        started = time.perf_counter()
        stored = dg.materialize(
            assets,
            selection=DIGA_CALLS,
            resources=resources,
            tags={"dagster/asset_partition_range_start": str(first), "dagster/asset_partition_range_end": str(last)},
            run_config=QUIET,
        )
        assert stored.success
        print(f"stored {days} days ({len(world.calls_visible()):,} calls) in {time.perf_counter() - started:.1f}s")

        faults.latency_ms = args.latency_ms
        windows = audit_windows(graph, storage.store, today=NOW.date(), first=first, last=last)
        sim.request_log.clear()
        with diga.make_client() as client:
            started = time.perf_counter()
            audits, failures = audit_call_days(client, storage.store, windows, max_concurrency=concurrency)
            work_s = time.perf_counter() - started
        assert not failures and len(audits) == days
        work_requests = len(sim.request_log.requests_to(CALLS_PATH))

        sim.request_log.clear()
        started = time.perf_counter()
        audited = dg.materialize(assets, selection=CALL_DAY_AUDIT, resources=resources, run_config=QUIET)
        asset_s = time.perf_counter() - started
        assert audited.success
        asset_requests = len(sim.request_log.requests_to(CALLS_PATH))

    floor_s = days / concurrency * latency_s
    print(f"\naudit of {days} stored days at {args.latency_ms:g} ms latency, max_concurrency={concurrency}")
    print(f"{'':38}{'requests':>10}{'seconds':>10}{'x floor':>10}")
    print(f"{'floor (days / concurrency x latency)':38}{days:>10}{floor_s:>10.2f}{1:>10.2f}")
    print(f"{'the audit alone (audit_call_days)':38}{work_requests:>10}{work_s:>10.2f}{work_s / floor_s:>10.2f}")
    print(f"{'call_day_audit materialized':38}{asset_requests:>10}{asset_s:>10.2f}{asset_s / floor_s:>10.2f}")
    print(f"requests per audited day: {work_requests / days:.2f}")


if __name__ == "__main__":
    main()
