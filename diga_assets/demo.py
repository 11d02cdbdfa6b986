"""``diga-assets demo``: the whole pipeline against a simulator on loopback, no key needed.

It starts the simulator on a free port, backfills the last days of ``diga_calls`` as one run,
snapshots the phone register, and prints what landed where.
"""

from __future__ import annotations

import os
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb

from diga_assets.assets.raw import build_raw_assets
from diga_assets.checks.raw import build_raw_checks
from diga_assets.partitions import daily_partitions
from diga_assets.resources import DigaApiResource
from diga_assets.settings import Settings
from diga_assets.simulator import DigaSimulator, World
from diga_assets.storage import DigaStorage

DEMO_DAYS = 14

SUMMARY_SQL = """
SELECT date AS day,
       count(*) AS calls,
       round(avg(CASE WHEN status = 'completed' THEN 1 ELSE 0 END), 3) AS completed_share,
       median(duration) AS median_duration_s
FROM read_parquet(?, hive_partitioning = true)
GROUP BY day ORDER BY day
"""


def run_demo(days: int = DEMO_DAYS, data_dir: Path | None = None, dagster_home: Path | None = None) -> None:
    """Run the demo end to end and print a summary."""
    settings = Settings.from_env()
    data_dir = data_dir or settings.data_dir
    project_home = dagster_home or Path(__file__).resolve().parent.parent / ".dagster_home"
    project_home.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("DAGSTER_HOME", str(project_home))

    now = datetime.now(UTC).replace(second=0, microsecond=0)
    last_day = (now - timedelta(days=1)).date()
    first_day = last_day - timedelta(days=days - 1)
    # The simulator's key is made up per run: it is loopback-only and guards nothing.
    sim_key = "sim-" + secrets.token_hex(8)
    world = World(seed=7, now=now, days=days + 2, calls_per_day=400)
    settings = Settings(
        data_dir=data_dir,
        start_date=first_day,
        timezone="UTC",
        api_base_url="http://127.0.0.1",
        trailing_days=settings.trailing_days,
    )
    partitions = daily_partitions(settings)
    storage = DigaStorage(data_dir=str(data_dir))
    with DigaSimulator(world, api_key=sim_key) as sim:
        print(f"Simulator on {sim.base_url} with {len(world.calls_visible())} calls over {days + 2} days")
        resources = {"diga": DigaApiResource(api_key=sim_key, base_url=sim.base_url), "storage": storage}
        assets = build_raw_assets(partitions)
        checks = build_raw_checks(partitions)
        instance = dg.DagsterInstance.get()
        print(f"Backfilling diga_calls {first_day}...{last_day} as one run ...")
        calls = dg.materialize(
            [*assets, *checks],
            selection=dg.AssetSelection.assets("diga_calls") | dg.AssetSelection.checks_for_assets("diga_calls"),
            resources=resources,
            instance=instance,
            tags={
                "dagster/asset_partition_range_start": first_day.isoformat(),
                "dagster/asset_partition_range_end": last_day.isoformat(),
            },
        )
        print(f"Snapshotting diga_phones for {last_day} ...")
        phones = dg.materialize(
            [*assets, *checks],
            selection=dg.AssetSelection.assets("diga_phones") | dg.AssetSelection.checks_for_assets("diga_phones"),
            resources=resources,
            instance=instance,
            partition_key=last_day.isoformat(),
        )
    rows = duckdb.execute(SUMMARY_SQL, [storage.raw_glob("calls")]).fetchall()
    print()
    print(f"{'day':<12}{'calls':>8}{'completed':>11}{'median s':>10}")
    for day, count, share, median in rows:
        print(f"{day!s:<12}{count:>8}{share:>11.1%}{median or 0:>10.0f}")
    print()
    outcome = {True: "succeeded", False: "FAILED"}
    print(f"Runs: calls {outcome[calls.success]}, phones {outcome[phones.success]}")
    print(f"Parquet: {storage.raw_dir('calls')}/date=*/part-0.parquet and {storage.raw_dir('phones')}/")
    home = os.environ["DAGSTER_HOME"]
    print(f"Dagster home: {home}  (open the UI with: DAGSTER_HOME={home} .venv/bin/dagster dev)")
    print("Try:")
    print(f"  duckdb -c \"SELECT status, count(*) FROM read_parquet('{storage.raw_glob('calls')}') GROUP BY ALL\"")
