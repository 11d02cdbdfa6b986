"""Metrics benchmark: the project's DuckDB metrics against a straightforward pandas version.

    .venv/bin/python bench/metrics.py [--calls 10000000] [--days 365] [--profile]

Writes ``--calls`` calls as ``--days`` day partitions of raw Parquet (no API), then, each in a
process of its own (wall seconds and peak RSS):

1. project: the three daily metrics of every day, as the calls job makes them: each day curated
   (``curate_calls``: deduplicated, cut into days, outcome-mapped, written), then the metrics with
   the project's own SQL over the curated days (``compute_daily_metrics``, one read for the three),
   written as the assets write them; the two phases' seconds are printed too;
   then call_kpis, repeat_callers and call_concurrency from those curated days, timed beside them;
2. pandas: the same three tables with pandas (read, keep each call's latest version, map the
   outcome, group), checked equal to the project's on the counts;
3. one day: re-computing the last day's metrics on top of the whole history, against the same
   day computed from a data directory that holds that day alone;
4. the year's rebuild through Dagster, as a user runs it after changing the outcome map
   (``dagster asset materialize --select curated_calls,<the seven daily metrics>
   --partition-range FIRST...LAST``, their checks included, in a DAGSTER_HOME on SQLite as
   ``dagster dev`` keeps it, its storage created before the timed command), against the same
   work done by the project's functions called directly (curation and its writes, the seven
   metrics and their writes, the seven checks' queries, the views' refresh): what the
   orchestration adds. Once more with
   ``DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS=1`` (README, "Rebuilding a year").

With --profile, the project's every-day run goes once more under py-spy, and the lines where its
time goes are printed (a DuckDB statement shows as the line that runs it).

Seconds vary with the machine; the ratios are the figures to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from cpu_profile import profile_command, py_spy, summarize
from measure import Outcome, rows_from_json, run_measured, used_dagster_home

HERE = Path(__file__).resolve()
FIRST_DAY = date(2025, 11, 20)
AGENTS = 12
VERSIONS_PER_AGENT = 3


# ------------------------------------------------------------------------------------- data


def write_history(data_dir: Path, calls: int, days: int, *, callers: int = 1) -> list[str]:
    """Raw call partitions with the project's schema, generated in bulk; returns the day keys.
    With ``callers`` > 1 the calls come from that many callers (``+34600000000`` upwards), and
    the first of them calls on every day (bench/erase.py erases them); else one caller for all."""
    import numpy as np
    import pyarrow as pa

    from diga_assets.api.records import CALLS
    from diga_assets.storage import DigaStorage

    storage = DigaStorage(data_dir=str(data_dir))
    rng = np.random.default_rng(7)
    per_day = calls // days
    statuses = np.array(["completed", "failed", "no_answer", "transferred", "in_progress"])
    reasons = np.array(["hangup", "voicemail_left", "ivr_no_answer", "error", None], dtype=object)
    keys = []
    offset = 0
    for n in range(days):
        day = FIRST_DAY + timedelta(days=n)
        count = per_day + (1 if n < calls % days else 0)
        ids = pa.array(np.arange(offset, offset + count)).cast(pa.string())
        offset += count
        midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
        created = np.datetime64(midnight.replace(tzinfo=None), "us") + rng.integers(0, 86_400_000_000, count).astype(
            "timedelta64[us]"
        )
        agent = rng.integers(0, AGENTS + 1, count)  # AGENTS means "no agent"
        if callers > 1:
            caller = rng.integers(0, callers, count)
            caller[0] = 0
        version = rng.integers(0, VERSIONS_PER_AGENT, count)
        status = statuses[rng.choice(5, count, p=[0.62, 0.08, 0.14, 0.12, 0.04])]
        duration = rng.gamma(2.0, 40.0, count).astype("int64")
        # Answered within 20 s of being created; a call still in progress has no end yet.
        started = created + rng.integers(0, 20_000_000, count).astype("timedelta64[us]")
        ended = started + (duration * 1_000_000).astype("timedelta64[us]")
        columns = {
            "id": ids,
            "agent_id": pa.array([f"agent-{a}" if a < AGENTS else None for a in agent], pa.string()),
            "agent_version_id": pa.array(
                [f"agent-{a}-v{v}" if a < AGENTS else None for a, v in zip(agent, version, strict=True)], pa.string()
            ),
            "status": pa.array(status),
            "end_reason": pa.array(reasons[rng.integers(0, 5, count)], pa.string()),
            "duration": pa.array(np.where(status == "in_progress", 0, duration), mask=status == "in_progress"),
            "type": pa.array(np.where(rng.random(count) < 0.7, "outbound", "inbound")),
            "created_date": pa.array(created, pa.timestamp("us", tz="UTC")),
            "start_time": pa.array(started, pa.timestamp("us", tz="UTC")),
            "end_time": pa.array(ended, pa.timestamp("us", tz="UTC"), mask=status == "in_progress"),
            "contact_id": pa.array(np.full(count, "contact")) if callers == 1 else contact_ids(caller),
            "contact_identifier": pa.array(np.full(count, "+34600000000"))
            if callers == 1
            else pa.array([f"+346{c:08d}" for c in caller]),
            "contact_type": pa.array(np.full(count, "call")),
            "contact_created_date": pa.array(created, pa.timestamp("us", tz="UTC")),
            "fetched_at": pa.array(
                np.full(count, np.datetime64("2026-11-20T00:00:00", "us")), pa.timestamp("us", "UTC")
            ),
        }
        arrays = [
            columns[field.name].cast(field.type) if field.name in columns else pa.nulls(count, field.type)
            for field in CALLS.arrow_schema
        ]
        key = day.isoformat()
        storage.store.write_table(
            storage.layout.raw_partition("calls", key), pa.Table.from_arrays(arrays, schema=CALLS.arrow_schema)
        )
        keys.append(key)
    return keys


def contact_ids(callers: Any) -> Any:
    """A UUID-shaped contact id per caller number (a NumPy array in, an Arrow array out)."""
    import pyarrow as pa

    return pa.array([f"00000000-0000-4000-8000-{c:012d}" for c in callers])


# -------------------------------------------------------------------------------- contenders


def project_metrics(data_dir: str, first: str, last: str) -> None:
    """Contender: the project's three daily metrics over [first, last], from the raw calls, as
    the calls job makes them: each day curated (``curated_calls``: deduplicated, cut into days,
    outcome-mapped, written), then the metrics from the curated days, written per day."""
    from diga_assets.analysis.outcome_map import DEFAULT_OUTCOME_MAP
    from diga_assets.assets.curated import curate_calls
    from diga_assets.assets.metrics.daily import DURATION_STATS, OUTCOME_RATES, VERSION_OUTCOMES, compute_daily_metrics
    from diga_assets.storage import DigaStorage

    storage = DigaStorage(data_dir=data_dir)
    days = _days(first, last)
    started = time.perf_counter()
    for day, table in curate_calls(storage.store, "UTC", DEFAULT_OUTCOME_MAP, days):
        storage.store.write_table(storage.layout.curated_partition("calls", day.isoformat()), table)
    curated = time.perf_counter()
    # The three metrics the pandas contender computes, as the daily_call_metrics step does: one
    # read of the curated days for the three statements.
    metrics = (OUTCOME_RATES, DURATION_STATS, VERSION_OUTCOMES)
    computed = compute_daily_metrics(metrics, storage.store, days, timezone="UTC")
    for name, computation in computed.items():
        for day in days:
            storage.store.write_table(f"{storage.root}/bench/{name}/{day}.parquet", computation.rows_of(day))
    totals = sum(computed[OUTCOME_RATES.name].table["total_calls"].to_pylist())
    phases = {"curate_s": curated - started, "metrics_s": time.perf_counter() - curated}
    print(json.dumps({"rows": totals, **phases}))


def operations_metrics(data_dir: str, first: str, last: str) -> None:
    """Contender: call_kpis, repeat_callers and call_concurrency over [first, last] from the days
    the project contender curated, as the daily_call_metrics step computes them (one read of the
    run's days and the 8 before), written per day."""
    from diga_assets.assets.metrics.daily import CONCURRENCY, KPIS, REPEATS, compute_daily_metrics
    from diga_assets.storage import DigaStorage

    storage = DigaStorage(data_dir=data_dir)
    days = _days(first, last)
    started = time.perf_counter()
    computed = compute_daily_metrics((KPIS, REPEATS, CONCURRENCY), storage.store, days, timezone="UTC")
    for name, computation in computed.items():
        for day in days:
            storage.store.write_table(f"{storage.root}/bench/{name}/{day}.parquet", computation.rows_of(day))
    totals = sum(computed[KPIS.name].table["total_calls"].to_pylist())
    print(json.dumps({"rows": totals, "metrics_s": time.perf_counter() - started}))


def pandas_metrics(data_dir: str, first: str, last: str) -> None:
    """Contender: the same tables with pandas, as an analyst would write them."""
    import pandas as pd

    from diga_assets.analysis.outcome_map import DEFAULT_OUTCOME_MAP

    calls = pd.read_parquet(
        Path(data_dir) / "raw" / "calls",
        columns=[
            "id",
            "agent_id",
            "agent_version_id",
            "status",
            "end_reason",
            "duration",
            "type",
            "created_date",
            "fetched_at",
        ],
    )
    calls = calls.sort_values("fetched_at").drop_duplicates("id", keep="last")
    calls["day"] = calls["created_date"].dt.tz_convert("UTC").dt.date
    calls = calls[(calls["day"] >= date.fromisoformat(first)) & (calls["day"] <= date.fromisoformat(last))]
    mapping = pd.read_csv(DEFAULT_OUTCOME_MAP, keep_default_na=False)
    by_reason = mapping[mapping["end_reason"] != ""].rename(columns={"outcome": "by_reason"})
    by_status = mapping[mapping["end_reason"] == ""][["status", "outcome"]].rename(columns={"outcome": "by_status"})
    calls = calls.merge(by_reason, on=["status", "end_reason"], how="left").merge(by_status, on="status", how="left")
    calls["outcome"] = calls["by_reason"].fillna(calls["by_status"]).fillna("other")
    keys = ["day", "agent_id", "type"]
    rates = pd.crosstab([calls[k].fillna("(none)") for k in keys], calls["outcome"])
    ended = rates.reindex(columns=["completed", "failed", "no_answer", "transferred", "voicemail"], fill_value=0).sum(
        axis=1
    )
    for outcome in ("completed", "failed", "no_answer", "transferred", "voicemail"):
        rates[f"{outcome}_rate"] = rates.get(outcome, 0) / ended.where(ended > 0)
    with_duration = calls.dropna(subset=["duration"])
    durations = with_duration.groupby([with_duration[k].fillna("(none)") for k in keys])["duration"].agg(
        ["count", "mean", "median", lambda s: s.quantile(0.9), "max", "sum"]
    )
    version_keys = ["day", "agent_id", "agent_version_id"]
    versions = calls.groupby([calls[k].fillna("(none)") for k in version_keys]).agg(
        total_calls=("id", "size"),
        completed=("outcome", lambda s: (s == "completed").sum()),
        median_duration_s=("duration", "median"),
    )
    del durations, versions
    print(json.dumps({"rows": int(rates.drop(columns=[c for c in rates.columns if c.endswith("_rate")]).sum().sum())}))


# Curated calls and the seven daily metrics (diga_assets.names.DAILY_METRICS), written out so
# this module imports nothing of the project before a contender's process does.
REBUILD_ASSETS = (
    "curated_calls,call_outcome_rates,call_duration_stats,agent_version_outcomes,call_end_reasons,"
    "call_kpis,repeat_callers,call_concurrency"
)


def rebuild_functions(data_dir: str, first: str, last: str) -> None:
    """Contender: what the rebuild command's steps do, by the project's functions called directly
    (no Dagster): each day curated and written, the seven daily metrics from one read of the
    curated days and each day written, the seven checks the command runs, the views refreshed."""
    import logging

    from diga_assets.analysis.outcome_map import DEFAULT_OUTCOME_MAP
    from diga_assets.analysis.views import refresh_analysis_db
    from diga_assets.assets.curated import curate_calls
    from diga_assets.assets.metrics.daily import DAILY_CALL_METRICS, compute_daily_metrics
    from diga_assets.checks.metrics import (
        completion_anomaly_check,
        counts_check,
        rates_check,
        unmapped_end_reasons_check,
    )
    from diga_assets.checks.raw import duplicate_call_ids
    from diga_assets.partitions import with_neighbours
    from diga_assets.storage import DigaStorage

    storage = DigaStorage(data_dir=data_dir)
    store, layout = storage.store, storage.layout
    days = _days(first, last)
    keys = [day.isoformat() for day in days]
    for day, table in curate_calls(store, "UTC", DEFAULT_OUTCOME_MAP, days):
        store.write_table(layout.curated_partition("calls", day.isoformat()), table)
    span = [day.isoformat() for day in with_neighbours(days)]
    assert not duplicate_call_ids(store, storage.existing_curated_files("calls", span))
    computed = compute_daily_metrics(DAILY_CALL_METRICS, store, days, timezone="UTC")
    for metric in DAILY_CALL_METRICS:
        for key, day in zip(keys, days, strict=True):
            store.write_table(layout.metric_partition(metric.name, key), computed[metric.name].rows_of(day))
    refresh_analysis_db(store, DEFAULT_OUTCOME_MAP, log=logging.getLogger("bench"))
    for result in (
        rates_check("call_outcome_rates", ("agent_id", "call_type"), storage, keys),
        counts_check(storage, keys),
        completion_anomaly_check(storage, keys),
        rates_check("agent_version_outcomes", ("agent_id", "agent_version_id"), storage, keys),
        unmapped_end_reasons_check(storage, keys),
        rates_check("call_kpis", ("agent_id", "call_type"), storage, keys),
    ):
        assert result.passed or result.severity.value == "WARN", result.description
    print(json.dumps({"rows": sum(computed["call_outcome_rates"].table["total_calls"].to_pylist())}))


def rebuild_command(home: Path, first: str, last: str, env: dict[str, str]) -> list[str]:
    """The command a user runs to rebuild a year after changing the outcome map, in ``home``
    prepared as their DAGSTER_HOME is."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    used_dagster_home(home, env)
    dagster = Path(sys.executable).parent / "dagster"
    return [
        *(str(dagster), "asset", "materialize", "-m", "diga_assets.definitions", "--select", REBUILD_ASSETS),
        *("--partition-range", f"{first}...{last}"),
    ]


def rows_of_rebuild(data_dir: Path) -> Callable[[bytes], int]:
    """The calls the rebuilt call_outcome_rates days count (the command prints no rows of its own)."""

    def rows(_: bytes) -> int:
        import pyarrow.dataset as ds

        folder = data_dir / "metrics" / "call_outcome_rates"
        table = ds.dataset(folder, format="parquet").to_table(columns=["total_calls"])
        return int(sum(table["total_calls"].to_pylist()))

    return rows


def _copy_raw(source: Path, target: Path) -> None:
    """A data dir holding ``source``'s raw calls (hard links: nothing is rewritten in place)."""
    shutil.copytree(source / "raw", target / "raw", copy_function=os.link)


def _days(first: str, last: str) -> list[date]:
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


# ------------------------------------------------------------------------------------ driver


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="role")
    for role in ("project", "operations", "pandas", "rebuild-functions"):
        contender = sub.add_parser(role)
        contender.add_argument("data_dir")
        contender.add_argument("first")
        contender.add_argument("last")
    parser.add_argument("--calls", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also run the project over every day under py-spy and print where its time goes (needs the bench extra)",
    )
    args = parser.parse_args()
    if args.role == "project":
        return project_metrics(args.data_dir, args.first, args.last)
    if args.role == "operations":
        return operations_metrics(args.data_dir, args.first, args.last)
    if args.role == "pandas":
        return pandas_metrics(args.data_dir, args.first, args.last)
    if args.role == "rebuild-functions":
        return rebuild_functions(args.data_dir, args.first, args.last)
    benchmark(args.calls, args.days, profile=args.profile)
    return None


def benchmark(calls: int, days: int, *, profile: bool = False) -> list[Outcome]:
    """Generate the history, run every contender, print the table; return the outcomes."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    with tempfile.TemporaryDirectory() as tmp:
        history, alone = Path(tmp) / "history", Path(tmp) / "alone"
        started = time.perf_counter()
        # A caller per 20 calls, so repeat_callers has callers to tell apart.
        keys = write_history(history, calls, days, callers=max(2, calls // 20))
        print(f"history: {calls:,} calls over {days} days written in {time.perf_counter() - started:.1f}s", flush=True)
        last = keys[-1]
        target = Path(alone) / "raw" / "calls" / f"date={last}"
        target.mkdir(parents=True)
        (target / "part-0.parquet").write_bytes(
            (history / "raw" / "calls" / f"date={last}" / "part-0.parquet").read_bytes()
        )

        def contender(role: str, data_dir: Path, first: str) -> list[str]:
            return [sys.executable, str(HERE), role, str(data_dir), first, last]

        outcomes = [
            run_measured("project: every day (DuckDB)", contender("project", history, keys[0]), env, rows_from_json),
            # From the days the project contender just curated.
            run_measured("project: operations metrics", contender("operations", history, keys[0]), env, rows_from_json),
            run_measured("pandas: every day", contender("pandas", history, keys[0]), env, rows_from_json),
            run_measured("project: last day, on the history", contender("project", history, last), env, rows_from_json),
            run_measured("project: last day, alone", contender("project", alone, last), env, rows_from_json),
        ]
        rebuilds = []
        for name, extra in (
            ("rebuild: the functions alone", None),
            ("rebuild: dagster asset materialize", {}),
            ("rebuild: the same, one planned event", {"DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "1"}),
        ):
            data_dir = Path(tmp) / f"rebuild-{len(rebuilds)}"
            _copy_raw(history, data_dir)
            if extra is None:
                command, rows = contender("rebuild-functions", data_dir, keys[0]), rows_from_json
            else:
                home = Path(tmp) / f"home-{len(rebuilds)}"
                command = rebuild_command(home, keys[0], last, env)
                rows = rows_of_rebuild(data_dir)
                extra = {**extra, "DAGSTER_HOME": str(home), "DIGA_DATA_DIR": str(data_dir), "DIGA_START_DATE": keys[0]}
            rebuilds.append(run_measured(name, command, {**env, **(extra or {})}, rows))
            shutil.rmtree(data_dir)
        report = None
        if profile and py_spy() is None:
            print("py-spy is not installed (pip install -e '.[bench]'): no profile", flush=True)
        elif profile:
            # An extra run after the measured ones (sampling costs a few percent). DuckDB releases
            # the GIL while it works, so every running thread is sampled, not the GIL's holder.
            print("profiling: project: every day ...", flush=True)
            raw = Path(tmp) / "profile.txt"
            wall = profile_command(contender("project", history, keys[0]), env, raw, gil=False)
            report = summarize(raw, gil=False, wall_seconds=wall)
    print(f"\n{calls:,} calls over {days} days")
    print(f"{'contender':<38}{'seconds':>9}{'calls':>13}{'peak RSS MB':>13}")
    for o in outcomes:
        print(f"{o.name:<38}{o.seconds:>9.2f}{o.rows:>13,}{o.peak_rss_mb:>13.0f}")
    project, operations, pandas, on_history, alone_day = outcomes
    phases = project.report
    if "curate_s" in phases:
        print(
            f"of which, project: every day: curating {phases['curate_s']:.2f} s, "
            f"the metrics from the curated days {phases['metrics_s']:.2f} s (the rest: start-up, imports, exit)"
        )
        print(
            f"operations metrics (call_kpis, repeat_callers, call_concurrency) from the curated days: "
            f"{operations.report['metrics_s']:.2f} s, {operations.report['metrics_s'] / phases['metrics_s']:.2f}x "
            "the three metrics above"
        )
    for o in rebuilds:
        print(f"{o.name:<38}{o.seconds:>9.2f}{o.rows:>13,}{o.peak_rss_mb:>13.0f}")
    print(f"pandas / project: {pandas.seconds / project.seconds:.1f}x")
    print(f"last day on a year of history / alone: {on_history.seconds / alone_day.seconds:.2f}x")
    functions, command, one_planned = rebuilds
    print(f"a year's rebuild through dagster / the same functions alone: {command.seconds / functions.seconds:.2f}x")
    print(f"  with one planned event per asset: {one_planned.seconds / functions.seconds:.2f}x")
    if report:
        print(f"\nwhere the time goes, project: every day (py-spy, running threads):\n{report}")
    if project.rows != pandas.rows or operations.rows != project.rows or on_history.rows != alone_day.rows:
        raise SystemExit(f"contenders disagree on the calls: {[(o.name, o.rows) for o in outcomes]}")
    if len({o.rows for o in rebuilds}) != 1 or functions.rows != project.rows:
        raise SystemExit(f"the rebuilds disagree on the calls: {[(o.name, o.rows) for o in rebuilds]}")
    return [*outcomes, *rebuilds]


if __name__ == "__main__":
    main()
