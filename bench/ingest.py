"""Ingest benchmark: the project's diga_calls backfill against the least any client can do.

    .venv/bin/python bench/ingest.py [--days 30] [--calls-per-day 10000] [--latency-ms 50]
                                     [--concurrency 1,4] [--bucket] [--profile]
                                     [--dlt [--dlt-python /path/to/venv-with-dlt/bin/python]]
                                     [--busy-day-calls 100000] [--busy-day-latency-ms 200]

Starts the project's simulator on loopback (D days x N calls a day, L ms added to every request)
and runs, one after the other, each as its own process:

1. floor: one keep-alive session walking every page of the range with the cursor, decoding the
   JSON (orjson) and keeping nothing: what any client must at least spend;
2. project: ``dagster asset materialize --select diga_calls --partition-range ...``, the whole
   command, at max_concurrency 1 and at the resource's default;
3. with --bucket, the same command again with ``DIGA_DATA_DIR=s3://...``: a bucket of an
   S3-compatible server (moto's) on loopback, in a process of its own;
4. dlt (with --dlt, if installed): dlt's ``rest_api`` source loading the same range into DuckDB,
   configured as dlt's docs advise for an incremental API-to-DuckDB load that dedups on ``id``
   (see ``load_with_dlt``), at the same size as the others (30 days by default).

Then one busy day alone (``--busy-day-calls`` calls at ``--busy-day-latency-ms``; 0 calls skips
it): the floor's sequential walk of that day against the same command for that one partition,
which cuts the day into sub-windows walked side by side, and its fetch step; both against the
sequential floor computed as pages x latency.

Prints wall seconds, rows, rows/s, the ratio to the floor, each process's peak RSS (its own, or
its largest waited-for descendant's), the CPU seconds it used and those the simulator used
serving it, and fails when contenders disagree on the rows. With --profile, each project
contender runs once more under py-spy, and which threads and lines held the interpreter lock is
printed. Seconds vary with the machine; the ratios are the figures to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from cpu_profile import profile_command, py_spy, summarize
from measure import Outcome, rows_from_json, run_measured, used_dagster_home

BIN = Path(sys.executable).parent
HERE = Path(__file__).resolve()
KEY = "bench-ingest-key"
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
BUCKET = "bench-ingest"
# moto's server in a process of its own, so that serving the uploads does not take the
# interpreter lock from the simulator (a real bucket runs on other machines): it prints its port
# and serves until its stdin closes (the benchmark closes it when done, and so does its death).
S3_SERVER = """
import logging, sys
from moto.server import ThreadedMotoServer
logging.getLogger("werkzeug").setLevel(logging.ERROR)
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
try:
    sys.stdin.read()
finally:
    server.stop()
"""


def walk_floor(base_url: str, start: str, end: str) -> None:
    """The floor contender (runs in its own process): walk every page, decode, keep nothing."""
    import orjson
    import requests

    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {KEY}"
    params = {"start_created_date": start, "end_created_date": end, "limit": 1000, "order": "asc"}
    rows = 0
    while True:
        # The body read as one piece, as the project's client reads it (requests' .content reads
        # 10 KB at a time, ~1.5 ms of CPU more per page): the floor must be the least a client does.
        response = session.get(f"{base_url}/v1/call/", params=params, timeout=60, stream=True)
        response.raise_for_status()
        page = orjson.loads(b"".join(response.iter_content(chunk_size=None)))
        rows += len(page["data"])
        if not page["has_more"]:
            break
        params["after"] = page["last_id"]
    print(json.dumps({"rows": rows}))


def load_with_dlt(base_url: str, start: str, end: str, workdir: str) -> None:
    """The peer contender (runs in its own process): dlt's ``rest_api`` source into DuckDB.

    Configured as dlt's own docs recommend for loading an API into DuckDB incrementally with
    deduplication on the record's key, so that dlt is measured as a user who read them would
    run it rather than at its defaults:

    - one walk of the whole range with ``JSONResponseCursorPaginator``: the cursor is the page's
      ``last_id``, sent back as ``after``, and the API's ``has_more`` says when to stop (so no
      extra request for an empty last page);
    - the largest page the API allows (``limit`` 1000, its maximum): the fewest requests;
    - ``write_disposition="merge"`` with ``primary_key="id"``: a rerun or an overlapping range
      updates rows instead of duplicating them;
    - the DuckDB destination with ``loader_file_format="parquet"``, which dlt's DuckDB docs
      recommend over its default (INSERT VALUES statements) as the faster load.
    """
    import dlt
    from dlt.sources.helpers.rest_client.paginators import JSONResponseCursorPaginator
    from dlt.sources.rest_api import rest_api_source

    source = rest_api_source(
        {
            "client": {
                "base_url": base_url,
                "auth": {"type": "bearer", "token": KEY},
                "paginator": JSONResponseCursorPaginator(
                    cursor_path="last_id", cursor_param="after", has_more_path="has_more"
                ),
            },
            "resources": [
                {
                    "name": "calls",
                    "write_disposition": "merge",
                    "primary_key": "id",
                    "endpoint": {
                        "path": "v1/call/",
                        "params": {"start_created_date": start, "end_created_date": end, "limit": 1000, "order": "asc"},
                        "data_selector": "data",
                    },
                }
            ],
        }
    )
    database = Path(workdir) / "dlt.duckdb"
    pipeline = dlt.pipeline(
        pipeline_name="diga_bench",
        destination=dlt.destinations.duckdb(str(database)),
        pipelines_dir=str(Path(workdir) / "pipelines"),
        dataset_name="diga",
    )
    pipeline.run(source, loader_file_format="parquet")
    import duckdb

    with duckdb.connect(str(database), read_only=True) as con:
        rows = con.sql("SELECT count(*) FROM diga.calls").fetchall()[0][0]
    print(json.dumps({"rows": rows}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="role")
    floor = sub.add_parser("floor")
    peer = sub.add_parser("dlt")
    for contender in (floor, peer):
        contender.add_argument("base_url")
        contender.add_argument("start")
        contender.add_argument("end")
    peer.add_argument("workdir")

    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--calls-per-day", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument(
        "--concurrency",
        type=lambda text: [int(n) for n in text.split(",")],
        default=None,
        help="max_concurrency values to run the project at, comma-separated (default: 1 and the resource's default)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also run each project contender under py-spy and print who holds the GIL (needs the bench extra)",
    )
    parser.add_argument(
        "--bucket",
        action="store_true",
        help="also run each project contender into a bucket of an S3-compatible server on loopback (moto)",
    )
    parser.add_argument(
        "--busy-day-calls",
        type=int,
        default=100_000,
        help="then one day of this many calls fetched alone (0: skip it)",
    )
    parser.add_argument("--busy-day-latency-ms", type=float, default=200.0)
    parser.add_argument("--dlt", action="store_true", help="also run dlt's rest_api source")
    parser.add_argument(
        "--dlt-python",
        default=sys.executable,
        help="the Python that has dlt[duckdb,parquet] (a venv of its own keeps the project's clean)",
    )
    args = parser.parse_args()
    if args.role == "floor":
        return walk_floor(args.base_url, args.start, args.end)
    if args.role == "dlt":
        return load_with_dlt(args.base_url, args.start, args.end, args.workdir)
    benchmark(
        args.days,
        args.calls_per_day,
        args.latency_ms,
        dlt_python=args.dlt_python if args.dlt else None,
        concurrencies=args.concurrency,
        profile=args.profile,
        bucket=args.bucket,
    )
    if args.busy_day_calls:
        busy_day(args.busy_day_calls, args.busy_day_latency_ms)
    return None


@contextmanager
def s3_server(bucket: str = BUCKET) -> Iterator[dict[str, str]]:
    """An S3-compatible server on 127.0.0.1 with ``bucket`` created; yields the AWS variables
    that point the standard chain at it. Stopped when done."""
    import boto3

    process = subprocess.Popen(
        [sys.executable, "-c", S3_SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        aws = {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": secrets.token_hex(16),
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        session = boto3.session.Session(
            aws_access_key_id=aws["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=aws["AWS_SECRET_ACCESS_KEY"],
            region_name=aws["AWS_DEFAULT_REGION"],
        )
        session.client("s3", endpoint_url=aws["AWS_ENDPOINT_URL"]).create_bucket(Bucket=bucket)
        yield aws
    finally:
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def bucket_rows(aws: dict[str, str], prefix: str) -> int:
    """The rows of every calls partition stored under ``s3://BUCKET/prefix``."""
    import pyarrow.dataset as ds
    from pyarrow import fs

    bucket = fs.S3FileSystem(
        access_key=aws["AWS_ACCESS_KEY_ID"],
        secret_key=aws["AWS_SECRET_ACCESS_KEY"],
        region=aws["AWS_DEFAULT_REGION"],
        endpoint_override=aws["AWS_ENDPOINT_URL"],
    )
    return ds.dataset(f"{BUCKET}/{prefix}/raw/calls", format="parquet", filesystem=bucket).count_rows()


def benchmark(
    days: int,
    calls_per_day: int,
    latency_ms: float,
    *,
    dlt_python: str | None,
    concurrencies: list[int] | None = None,
    profile: bool = False,
    bucket: bool = False,
) -> list[Outcome]:
    """Run every contender against one simulator and print the table; return the outcomes."""
    import pyarrow.dataset as ds

    from diga_assets.resources import DigaApiResource
    from diga_assets.simulator import DigaSimulator, FaultConfig, World

    last = (NOW - timedelta(days=1)).date()
    first = last - timedelta(days=days - 1)
    start, end = floor_bounds(first, last)
    built = time.perf_counter()
    world = World(seed=7, now=NOW, days=days + 1, calls_per_day=calls_per_day)
    print(f"world: {world.visible_call_count():,} calls built in {time.perf_counter() - built:.1f}s", flush=True)
    default = DigaApiResource.model_fields["max_concurrency"].default
    outcomes: list[Outcome] = []
    simulator_cpu: dict[str, float] = {}

    def measured(name: str, command: list[str], env: dict[str, str], rows_of: Callable[[bytes], int]) -> Outcome:
        outcome, simulator_cpu[name] = run_beside_simulator(name, command, env, rows_of)
        return outcome

    step_seconds: dict[str, float] = {}
    profiles: dict[str, str] = {}
    bucket_ratios: dict[int, float] = {}
    with (
        DigaSimulator(world, api_key=KEY, faults=FaultConfig(latency_ms=latency_ms), keep_bodies=False) as sim,
        tempfile.TemporaryDirectory() as tmp,
        s3_server() if bucket else _nothing() as aws,
    ):
        env = {**os.environ, "PYTHONWARNINGS": "ignore"}
        floor_cmd = [sys.executable, str(HERE), "floor", sim.base_url, start, end]
        # The simulator caches each call's JSON the first time it serves it: one untimed walk
        # first, so no contender pays (or is spared) the cold start of the simulator.
        print("warming the simulator up (one untimed walk) ...", flush=True)
        subprocess.run(floor_cmd, env=env, check=True, capture_output=True)
        outcomes.append(measured("floor (1 session, sequential)", floor_cmd, env, rows_from_json))

        def project(
            concurrency: int, run: str, data_dir: str | None = None
        ) -> tuple[list[str], dict[str, str], Path, Path]:
            """The command, environment, data dir and DAGSTER_HOME of one project run (a new data dir)."""
            return project_run(Path(tmp), run, {**env, **(aws or {})}, sim.base_url, first, last, concurrency, data_dir)

        for concurrency in concurrencies or (1, default):
            command, project_env, data_dir, home = project(concurrency, f"{concurrency}")

            def stored_rows(_: bytes, data_dir: Path = data_dir) -> int:
                return ds.dataset(data_dir / "raw" / "calls", format="parquet").count_rows()

            outcomes.append(measured(f"project, max_concurrency={concurrency}", command, project_env, stored_rows))
            step_seconds[outcomes[-1].name] = fetch_seconds(home)
            if aws is not None:
                prefix = f"run-{concurrency}"
                command, project_env, _, home = project(concurrency, f"bucket-{concurrency}", f"s3://{BUCKET}/{prefix}")

                def bucket_stored_rows(_: bytes, prefix: str = prefix) -> int:
                    return bucket_rows(aws, prefix)

                name = f"project -> bucket, concurrency={concurrency}"
                outcomes.append(measured(name, command, project_env, bucket_stored_rows))
                step_seconds[name] = fetch_seconds(home)
                bucket_ratios[concurrency] = outcomes[-1].seconds / outcomes[-2].seconds
        if profile and py_spy() is None:
            print("py-spy is not installed (pip install -e '.[bench]'): no profiles", flush=True)
        elif profile:
            # Extra runs, after the measured ones: sampling costs a few percent.
            for concurrency in concurrencies or (1, default):
                command, project_env, _, _ = project(concurrency, f"profile-{concurrency}")
                print(f"profiling: project, max_concurrency={concurrency} ...", flush=True)
                raw = Path(tmp) / f"profile-{concurrency}.txt"
                wall = profile_command(command, project_env, raw, gil=True)
                profiles[f"project, max_concurrency={concurrency}"] = summarize(raw, gil=True, wall_seconds=wall)
        if dlt_python:
            # The parquet loader file format needs pyarrow next to dlt and duckdb.
            probe = subprocess.run([dlt_python, "-c", "import dlt, duckdb, pyarrow"], capture_output=True)
            if probe.returncode != 0:
                print(
                    f"dlt, duckdb or pyarrow is not importable by {dlt_python}"
                    " (pip install 'dlt[duckdb,parquet]'): skipping it",
                    flush=True,
                )
            else:
                dlt_cmd = [dlt_python, str(HERE), "dlt", sim.base_url, start, end, tmp]
                outcomes.append(measured("dlt -> duckdb (merge, parquet)", dlt_cmd, env, rows_from_json))
    print_table(outcomes, days, calls_per_day, latency_ms, simulator_cpu)
    floor = outcomes[0].seconds
    print("\nof which the diga_calls step's fetch (its run_seconds metadata; the rest is the dagster")
    print("command's start-up, the checks and the exit):")
    for name, seconds in step_seconds.items():
        print(f"  {name:<32}{seconds:>9.2f} s  {seconds / floor:.2f}x floor")
    if bucket_ratios:
        print("\ninto a bucket against the same run into a local directory (whole command):")
        for concurrency, ratio in bucket_ratios.items():
            print(f"  max_concurrency={concurrency}: bucket / local {ratio:.2f}x")
    for name, report in profiles.items():
        print(f"\nwho holds the GIL, {name} (py-spy --gil, the whole command):\n{report}")
    rows = {o.rows for o in outcomes}
    if len(rows) != 1:
        raise SystemExit(f"contenders disagree on the rows: {[(o.name, o.rows) for o in outcomes]}")
    return outcomes


def floor_bounds(first: date, last: date) -> tuple[str, str]:
    """The floor's (and dlt's) start_/end_created_date for the days ``first..last``. The range is
    half-open like the project's days; the simulator reads end_created_date as inclusive, so they
    stop one millisecond short of it (calls are whole seconds)."""
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), UTC) - timedelta(milliseconds=1)
    return f"{first}T00:00:00Z", end.isoformat(timespec="milliseconds")


def run_beside_simulator(
    name: str, command: list[str], env: dict[str, str], rows_of: Callable[[bytes], int]
) -> tuple[Outcome, float]:
    """``run_measured``, and the CPU the simulator spent meanwhile: it serves from this process's
    threads, so its CPU is this process's while the contender runs (the main thread only waits)."""
    before = time.process_time()
    outcome = run_measured(name, command, env, rows_of)
    return outcome, time.process_time() - before


def project_run(
    tmp: Path,
    run: str,
    env: dict[str, str],
    base_url: str,
    first: date,
    last: date,
    concurrency: int,
    data_dir: str | None = None,
) -> tuple[list[str], dict[str, str], Path, Path]:
    """The command, environment, data dir and DAGSTER_HOME (used before) of one project run of
    ``diga_calls`` over ``first..last``."""
    local_dir, home = tmp / f"data-{run}", used_dagster_home(tmp / f"home-{run}", env)
    project_env = {
        **env,
        # A bucket root's views file is a cache in the user's cache directory.
        "XDG_CACHE_HOME": str(tmp / f"cache-{run}"),
        "DAGSTER_HOME": str(home),
        "DIGA_API_KEY": KEY,
        "DIGA_API_BASE_URL": base_url,
        "DIGA_DATA_DIR": data_dir or str(local_dir),
        "DIGA_START_DATE": first.isoformat(),
        "DIGA_MAX_CONCURRENCY": str(concurrency),
    }
    command = [
        str(BIN / "dagster"),
        "asset",
        "materialize",
        "-m",
        "diga_assets.definitions",
        "--select",
        "diga_calls",
        "--partition-range",
        f"{first}...{last}",
    ]
    return command, project_env, local_dir, home


def busy_day(calls: int, latency_ms: float) -> list[Outcome]:
    """One day of ``calls`` calls fetched alone: the floor's sequential walk against the project's
    command for that one partition (at the default concurrency, so the day is cut into
    sub-windows), each against pages x latency. Prints its table; returns the outcomes."""
    import pyarrow.dataset as ds

    from diga_assets.resources import DigaApiResource
    from diga_assets.simulator import DigaSimulator, FaultConfig, World

    day = (NOW - timedelta(days=1)).date()
    start, end = floor_bounds(day, day)
    world = World(seed=11, now=NOW, days=2, calls_per_day=calls)
    concurrency = DigaApiResource.model_fields["max_concurrency"].default
    with (
        DigaSimulator(world, api_key=KEY, faults=FaultConfig(latency_ms=latency_ms), keep_bodies=False) as sim,
        tempfile.TemporaryDirectory() as tmp,
    ):
        env = {**os.environ, "PYTHONWARNINGS": "ignore"}
        floor_cmd = [sys.executable, str(HERE), "floor", sim.base_url, start, end]
        subprocess.run(floor_cmd, env=env, check=True, capture_output=True)  # warm the simulator's cache
        sim.request_log.clear()
        floor, floor_sim_cpu = run_beside_simulator("floor (1 session, sequential)", floor_cmd, env, rows_from_json)
        pages = len(sim.request_log.all())
        command, project_env, data_dir, home = project_run(Path(tmp), "busy", env, sim.base_url, day, day, concurrency)

        def stored_rows(_: bytes) -> int:
            return ds.dataset(data_dir / "raw" / "calls", format="parquet").count_rows()

        sim.request_log.clear()
        project, project_sim_cpu = run_beside_simulator(
            f"project, max_concurrency={concurrency}", command, project_env, stored_rows
        )
        requests = len([r for r in sim.request_log.all() if r.path == "/v1/call/"])
        step = fetch_seconds(home)
    # Without latency there is nothing to overlap: the floor's own walk is then the baseline.
    sequential = pages * latency_ms / 1000 or floor.seconds
    print(f"\none day of {floor.rows:,} calls alone, {latency_ms:g} ms latency per request, {pages} pages of 1,000")
    print(f"sequential floor (pages x latency, or the floor's walk without latency): {sequential:.2f} s")
    print(
        f"{'contender':<34}{'seconds':>9}{'rows':>11}{'requests':>10}{'x floor':>9}{'peak RSS MB':>13}"
        f"{'CPU s':>8}{'sim CPU s':>11}"
    )
    for outcome, sent, sim_cpu in ((floor, pages, floor_sim_cpu), (project, requests, project_sim_cpu)):
        print(
            f"{outcome.name:<34}{outcome.seconds:>9.2f}{outcome.rows:>11,}{sent:>10}"
            f"{outcome.seconds / sequential:>9.2f}{outcome.peak_rss_mb:>13.0f}{outcome.cpu_seconds:>8.1f}"
            f"{sim_cpu:>11.1f}"
        )
    print(f"  of which its diga_calls step's fetch {step:>9.2f} s  {step / sequential:.2f}x floor")
    if floor.rows != project.rows:
        raise SystemExit(f"the busy day's contenders disagree on the rows: {floor.rows} and {project.rows}")
    return [floor, project]


@contextmanager
def _nothing() -> Iterator[None]:
    yield None


def fetch_seconds(dagster_home: Path) -> float:
    """The ``run_seconds`` the diga_calls step recorded in the instance at ``dagster_home``."""
    import dagster as dg

    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey("diga_calls"))
    assert event is not None and event.asset_materialization is not None, "diga_calls recorded nothing"
    return float(event.asset_materialization.metadata["run_seconds"].value)


def print_table(
    outcomes: list[Outcome], days: int, calls_per_day: int, latency_ms: float, simulator_cpu: dict[str, float]
) -> None:
    """The table; CPU columns show whether a contender waited on the network or on the two cores."""
    floor = outcomes[0].seconds
    print(f"\n{days} days x {calls_per_day:,} calls/day, {latency_ms:g} ms latency per request")
    print(
        f"{'contender':<34}{'seconds':>9}{'rows':>11}{'rows/s':>10}{'x floor':>9}{'peak RSS MB':>13}"
        f"{'CPU s':>8}{'sim CPU s':>11}"
    )
    for o in outcomes:
        print(
            f"{o.name:<34}{o.seconds:>9.2f}{o.rows:>11,}{o.rows / o.seconds:>10,.0f}"
            f"{o.seconds / floor:>9.2f}{o.peak_rss_mb:>13.0f}{o.cpu_seconds:>8.1f}{simulator_cpu[o.name]:>11.1f}"
        )


if __name__ == "__main__":
    main()
