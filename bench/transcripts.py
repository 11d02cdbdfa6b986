"""How long fetching transcripts takes against what the API's latency allows, in the same run.

    .venv/bin/python bench/transcripts.py [--days 3] [--calls-per-day 2000] [--latency-ms 50]
                                          [--concurrency 4]

Starts the project's simulator (current model, with transcripts) on loopback with ``latency-ms``
added to every request, stores the calls of ``days`` days with ``dagster asset materialize
--select diga_calls`` (not timed), then times ``dagster asset materialize --select
diga_call_messages`` over the same range at ``DIGA_MAX_CONCURRENCY=concurrency``. The baseline is
what the latency alone costs: requests / concurrency * latency (the requests counted by the
simulator). Prints the whole command and its fetch step (the step's ``run_seconds``) against that
baseline, and the command's CPU per message stored.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from measure import run_measured

KEY = "bench-key"
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
BIN = Path(sys.executable).parent


def step_seconds(dagster_home: Path, asset: str) -> float:
    """The ``run_seconds`` the asset's step recorded in the instance at ``dagster_home``."""
    import dagster as dg

    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey(asset))
    assert event is not None and event.asset_materialization is not None, f"{asset} recorded nothing"
    return float(event.asset_materialization.metadata["run_seconds"].value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--calls-per-day", type=int, default=2000)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()

    import pyarrow.dataset as ds

    from diga_assets.simulator import DigaSimulator, FaultConfig, World

    last = (NOW - timedelta(days=1)).date()
    first = last - timedelta(days=args.days - 1)
    world = World(seed=7, now=NOW, days=args.days + 1, calls_per_day=args.calls_per_day, status_model="current")
    faults = FaultConfig(latency_ms=args.latency_ms)
    with (
        DigaSimulator(world, api_key=KEY, faults=faults, keep_bodies=False) as sim,
        tempfile.TemporaryDirectory() as tmp,
    ):
        home, data = Path(tmp) / "home", Path(tmp) / "data"
        home.mkdir()
        env = {
            **os.environ,
            "PYTHONWARNINGS": "ignore",
            "DAGSTER_HOME": str(home),
            "DIGA_API_KEY": KEY,
            "DIGA_API_BASE_URL": sim.base_url,
            "DIGA_DATA_DIR": str(data),
            "DIGA_START_DATE": first.isoformat(),
            "DIGA_MAX_CONCURRENCY": str(args.concurrency),
        }

        def materialize(asset: str) -> list[str]:
            return [
                str(BIN / "dagster"),
                *("asset", "materialize", "-m", "diga_assets.definitions", "--select", asset),
                *("--partition-range", f"{first}...{last}"),
            ]

        print(f"storing the calls of {args.days} days (not timed) ...", flush=True)
        run_measured("diga_calls", materialize("diga_calls"), env, lambda _: 0)
        sim.request_log.clear()
        before = time.process_time()
        outcome = run_measured("diga_call_messages", materialize("diga_call_messages"), env, lambda _: 0)
        simulator_cpu = time.process_time() - before
        requests = sum(1 for record in sim.request_log if record.path.endswith("/message"))
        messages = ds.dataset(data / "raw" / "messages", format="parquet").count_rows()
        fetch = step_seconds(home, "diga_call_messages")

    floor = requests / args.concurrency * args.latency_ms / 1000
    print(
        f"\n{args.days} days x {args.calls_per_day:,} calls/day, {args.latency_ms:g} ms latency per request, "
        f"max_concurrency={args.concurrency}"
    )
    print(f"requests {requests:,} (transcripts of the finished calls), messages stored {messages:,}")
    print(f"{'':<36}{'seconds':>9}{'x latency floor':>17}")
    print(f"{'latency floor (requests/conc x lat)':<36}{floor:>9.2f}{1:>17.2f}")
    print(f"{'the fetch step (run_seconds)':<36}{fetch:>9.2f}{fetch / floor:>17.2f}")
    print(f"{'the whole dagster command':<36}{outcome.seconds:>9.2f}{outcome.seconds / floor:>17.2f}")
    print(
        f"\nCPU of the whole command {outcome.cpu_seconds:.1f} s: {outcome.cpu_seconds / messages * 1e6:.0f} µs per "
        f"message ({outcome.cpu_seconds / requests * 1e3:.2f} ms per request); peak RSS {outcome.peak_rss_mb:.0f} MB; "
        f"simulator CPU {simulator_cpu:.1f} s"
    )


if __name__ == "__main__":
    main()
