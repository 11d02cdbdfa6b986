"""Ad-hoc benchmark: everyday questions through the analysis database's views against the same
questions asked of the raw Parquet files.

    .venv/bin/python bench/adhoc.py [--calls 10000000] [--days 365]

Writes ``--calls`` calls as ``--days`` raw day partitions (no API, as ``bench/metrics.py`` does),
builds what the calls job builds from them (``curated_calls`` and the daily metrics, materialized
over the whole range in one run, as a backfill would) and the analysis database, then asks four
questions two ways, each in a process of its own, best of two runs per process:

- views: through ``diga.duckdb``'s documented views (``calls``), as an analyst does;
- computed: through a ``calls`` view that computes the calls from the raw snapshots at every
  query (deduplicated, cut into days, outcome-mapped), as the analysis database did before the
  curated layer and still does for a project with no curated day yet;
- raw: ``read_parquet(raw/calls/date=*/*.parquet, hive_partitioning = true)`` straight, the least
  DuckDB can do over the same data. It relies on what the raw layer guarantees (one row per id
  per day; the partition date is the day in UTC, the zone of this data) and, for the outcome,
  groups by the columns the outcome comes from (status, end_reason) instead of mapping them: a
  stricter floor than the same answer would be.

Prints each question's best seconds and the peak RSS of its process, the sums and the ratios to
the raw files.
Seconds vary with the machine; the ratio is the figure to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from measure import Outcome, rows_from_json, run_measured
from metrics import write_history

HERE = Path(__file__).resolve()
AGENT = "agent-3"


TARGETS = ("views", "computed", "raw")


def questions(last_day: date) -> dict[str, dict[str, str]]:
    """Each question, through the views (``computed`` asks the views' SQL) and on the raw files."""
    month = (last_day - timedelta(days=29)).isoformat()
    return {
        "last 30 days by outcome": {
            "views": f"SELECT outcome, count(*) FROM calls WHERE day >= DATE '{month}' GROUP BY outcome",
            "raw": f"SELECT status, end_reason, count(*) FROM raw WHERE date >= DATE '{month}' GROUP BY ALL",
        },
        "one agent over the year": {
            "views": f"SELECT day, count(*), avg(duration) FROM calls WHERE agent_id = '{AGENT}' GROUP BY day",
            "raw": f"SELECT date, count(*), avg(duration) FROM raw WHERE agent_id = '{AGENT}' GROUP BY date",
        },
        "the year by status": {
            "views": "SELECT status, count(*) FROM calls GROUP BY status",
            "raw": "SELECT status, count(*) FROM raw GROUP BY status",
        },
        "daily volume of the year": {
            "views": "SELECT day, count(*) FROM calls GROUP BY day ORDER BY day",
            "raw": "SELECT date, count(*) FROM raw GROUP BY date ORDER BY date",
        },
    }


# ------------------------------------------------------------------------------------- build


def build(data_dir: Path, first: str, last: str) -> None:
    """What the calls job builds from stored raw calls: the curated days and the daily metrics,
    one run over the range, then the analysis database's views."""
    import dagster as dg

    from diga_assets.assets.common import DigaGraph
    from diga_assets.assets.curated import build_curated_calls_asset
    from diga_assets.assets.metrics import build_metric_assets
    from diga_assets.names import CURATED_CALLS, DAILY_METRICS
    from diga_assets.settings import Settings
    from diga_assets.storage import DigaStorage

    settings = Settings(
        data_dir=data_dir,
        start_date=date.fromisoformat(first),
        timezone="UTC",
        api_base_url="http://127.0.0.1:1",
        trailing_days=2,
    )
    graph = DigaGraph(settings)
    result = dg.materialize(
        [build_curated_calls_asset(graph), *build_metric_assets(graph)],
        selection=[CURATED_CALLS, *DAILY_METRICS],
        resources={"storage": DigaStorage(data_dir=str(data_dir))},
        tags={"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last},
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success


# ----------------------------------------------------------------------------------- asking


def ask(data_dir: str, target: str, sql: str) -> None:
    """One question (runs in its own process): twice, the best time printed with the answer's size."""
    import duckdb

    from diga_assets.analysis.outcome_map import DEFAULT_OUTCOME_MAP
    from diga_assets.analysis.views import View, create_views, outcome_map_view, stored_calls_view
    from diga_assets.names import CALLS_DATASET
    from diga_assets.storage import DataLayout, open_store

    # The store, not the DigaStorage resource: what `diga-assets query` opens, without Dagster.
    store = open_store(data_dir)
    if target == "views":
        con = store.open_connection(str(store.analysis_db), read_only=True)
    elif target == "computed":
        con = store.open_connection()
        # The calls view as it is before any day is curated: computed from the raw snapshots.
        raw_calls = View(CALLS_DATASET, "create_calls_view", {}, True)
        create_views(con, [outcome_map_view(DEFAULT_OUTCOME_MAP), stored_calls_view(store), raw_calls])
    else:
        con = duckdb.connect()
        raw = DataLayout(store.root).raw_glob("calls")
        con.execute(f"CREATE VIEW raw AS FROM read_parquet('{raw}', hive_partitioning = true)")
    timings = []
    for _ in range(2):
        started = time.perf_counter()
        rows = con.sql(sql).fetchall()
        timings.append(time.perf_counter() - started)
    con.close()
    print(json.dumps({"rows": len(rows), "best_s": min(timings)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="role")
    asker = sub.add_parser("ask")
    asker.add_argument("data_dir")
    asker.add_argument("target", choices=TARGETS)
    asker.add_argument("sql")
    parser.add_argument("--calls", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args()
    if args.role == "ask":
        return ask(args.data_dir, args.target, args.sql)
    benchmark(args.calls, args.days)
    return None


def benchmark(calls: int, days: int) -> dict[str, dict[str, Outcome]]:
    """Write the history, build the layers, ask every question both ways, print the table."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        started = time.perf_counter()
        keys = write_history(data_dir, calls, days)
        print(f"history: {calls:,} calls over {days} days written in {time.perf_counter() - started:.1f}s", flush=True)
        started = time.perf_counter()
        build(data_dir, keys[0], keys[-1])
        print(f"curated_calls and the daily metrics built in {time.perf_counter() - started:.1f}s", flush=True)
        outcomes: dict[str, dict[str, Outcome]] = {}
        for name, asked in questions(date.fromisoformat(keys[-1])).items():
            sql_of = {"views": asked["views"], "computed": asked["views"], "raw": asked["raw"]}
            outcomes[name] = {
                target: run_measured(
                    f"{name} ({target})",
                    [sys.executable, str(HERE), "ask", str(data_dir), target, sql_of[target]],
                    env,
                    rows_from_json,
                )
                for target in TARGETS
            }
    print_table(outcomes, calls, days)
    return outcomes


def print_table(outcomes: dict[str, dict[str, Outcome]], calls: int, days: int) -> None:
    """Best seconds per question each way, the peak RSS of each asking process, the sums."""
    print(f"\n{calls:,} calls over {days} days; best of two runs per question; MB: peak RSS of the asking process")
    print(
        f"{'question':<28}{'views s':>9}{'computed s':>12}{'raw s':>8}{'views/raw':>11}"
        f"{'views MB':>10}{'computed MB':>13}"
    )
    sums = dict.fromkeys(TARGETS, 0.0)
    for name, by_target in outcomes.items():
        best = {target: by_target[target].report["best_s"] for target in TARGETS}
        for target in TARGETS:
            sums[target] += best[target]
        print(
            f"{name:<28}{best['views']:>9.3f}{best['computed']:>12.3f}{best['raw']:>8.3f}"
            f"{best['views'] / best['raw']:>10.2f}x{by_target['views'].peak_rss_mb:>10.0f}"
            f"{by_target['computed'].peak_rss_mb:>13.0f}"
        )
    print(
        f"{'sum':<28}{sums['views']:>9.3f}{sums['computed']:>12.3f}{sums['raw']:>8.3f}"
        f"{sums['views'] / sums['raw']:>10.2f}x"
    )
    print(f"views / raw files, sum of best times: {sums['views'] / sums['raw']:.2f}x")
    print(f"computed from the raw snapshots / raw files: {sums['computed'] / sums['raw']:.1f}x")
    for name, by_target in outcomes.items():
        if name != "last 30 days by outcome" and len({by_target[t].rows for t in TARGETS}) != 1:
            raise SystemExit(f"{name}: the answers differ in rows: {[(t, by_target[t].rows) for t in TARGETS]}")


if __name__ == "__main__":
    main()
