"""Process faults: a run SIGKILLed in the middle of a write, and two runs writing the same
files at the same moment.

Each test runs diga_calls_job (diga_calls, then the three daily metrics) against the simulator in
child processes (``killable_run.py``) that stop at an exact point of a write and wait on a FIFO:
the test waits for the point's marker file (a bounded loop, never a sleep standing in for a
point), then SIGKILLs the child there or lets it go. What a reader can see is then checked to the
byte: the previous file, whole, or the new one, exact; never part of one. A re-run in the test's
own process must then leave exact raw ids (the simulator world's), exact metrics (recomputed in
plain Python by ``metric_data``) and an analysis database that opens with every view queryable.
"""

import hashlib
import logging
import multiprocessing
import os
import signal
import time
import warnings
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from multiprocessing.process import BaseProcess
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from diga_assets.analysis.outcome_map import DEFAULT_OUTCOME_MAP
from diga_assets.analysis.views import analysis_views, create_views, refresh_analysis_db, stored_digests
from diga_assets.assets.curated import curate_calls
from diga_assets.assets.metrics import DAILY_CALL_METRICS, compute_daily_metrics
from diga_assets.names import (
    AGENT_VERSION_OUTCOMES,
    CALL_DURATION_STATS,
    DAILY_METRICS,
)
from diga_assets.simulator import DigaSimulator, World
from diga_assets.storage import DigaStorage
from diga_assets_tests.assets.conftest import storage_for, window_of
from diga_assets_tests.conftest import SIM_KEY, StartSimulator
from diga_assets_tests.metric_data import (
    assert_metric_day_matches,
    call,
    latest_calls,
    write_raw_calls,
)
from diga_assets_tests.object_store import BUCKET, S3Server, stored_names
from diga_assets_tests.reliability.killable_run import forked_main, run_calls_job

# Bounds every wait on a child: far above what a loaded 2-core machine needs, still finite.
DEADLINE_S = 45.0
# The simulator's default world (SIM_NOW 2026-11-20 noon, 5 days back) has whole days 11-16..11-19.
METRIC_DAYS = ["2026-11-16", "2026-11-17", "2026-11-18"]
# What a calls-job run leaves in the analysis database: the views over what it wrote and the agents
# view (empty until an agents snapshot exists), and the macros of the version comparison.
VIEWS = {"call_outcome_map", "stored_calls", "calls", "agents", *DAILY_METRICS}
ALL_VIEWS = {*VIEWS, "wilson_interval", "two_proportion_z", "agent_version_comparison"}

# ------------------------------------------------------------------------------ child runs


@dataclass
class ChildRun:
    """A diga_calls_job run in a child process, held at the points it was started with."""

    name: str
    process: BaseProcess
    sync_dir: Path
    log: Path

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else "(no output)"

    def wait_until_held(self, point: str) -> None:
        """Return once the child stands at ``point``; fail if it exits or the deadline passes first."""
        marker = self.sync_dir / f"{point}.reached"
        deadline = time.monotonic() + DEADLINE_S
        while not marker.exists():
            assert self.process.is_alive(), f"run {self.name} exited before {point}:\n{self.log_tail()}"
            assert time.monotonic() < deadline, f"run {self.name} did not reach {point}:\n{self.log_tail()}"
            time.sleep(0.02)

    def release(self, point: str) -> None:
        """Let the child go on from ``point`` (it must be standing there)."""
        fifo = self.sync_dir / f"{point}.go"
        deadline = time.monotonic() + DEADLINE_S
        while True:
            # Non-blocking: fails with ENXIO until the child has the FIFO open for reading, so a
            # child that died never hangs the test.
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
                return
            except OSError:
                assert self.process.is_alive(), f"run {self.name} exited at {point}:\n{self.log_tail()}"
                assert time.monotonic() < deadline, f"run {self.name} never waited at {point}"
                time.sleep(0.02)

    def kill(self) -> None:
        """SIGKILL the child and make sure that is what ended it."""
        assert self.process.pid is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.join(timeout=DEADLINE_S)
        assert self.process.exitcode == -signal.SIGKILL, self.log_tail()

    def wait_for_success(self) -> None:
        """Wait for the child to finish its run; it must have succeeded."""
        self.process.join(timeout=DEADLINE_S)
        assert not self.process.is_alive(), f"run {self.name} did not finish:\n{self.log_tail()}"
        assert self.process.exitcode == 0, f"run {self.name} failed:\n{self.log_tail()}"


@pytest.fixture
def children() -> Iterator[list[ChildRun]]:
    """The child runs a test starts; whatever is still running at teardown is killed."""
    started: list[ChildRun] = []
    yield started
    for run in started:
        if run.process.is_alive():
            run.process.kill()
        run.process.join(timeout=DEADLINE_S)


def start_run(
    children: list[ChildRun],
    tmp_path: Path,
    name: str,
    sim: DigaSimulator,
    *,
    first: str,
    last: str,
    holds: Sequence[str],
    data_dir: str | None = None,
) -> ChildRun:
    """Start diga_calls_job over ``[first, last]`` into ``data_dir`` (``tmp_path/data`` unless
    given) in a child held at ``holds``.

    The child is forked from this process, so it starts warm (see ``killable_run.forked_main``);
    ``python -m diga_assets_tests.reliability.killable_run`` with the same arguments runs it cold.
    """
    sync_dir = tmp_path / f"sync-{name}"
    sync_dir.mkdir()
    for point in holds:
        os.mkfifo(sync_dir / f"{point}.go")
    argv = [
        *("--data-dir", data_dir or str(tmp_path / "data"), "--base-url", sim.base_url, "--api-key", SIM_KEY),
        *("--first", first, "--last", last),
        *("--sync-dir", str(sync_dir), "--max-seconds", str(2 * DEADLINE_S)),
        *(arg for point in holds for arg in ("--hold", point)),
    ]
    log = tmp_path / f"run-{name}.log"
    process = multiprocessing.get_context("fork").Process(target=forked_main, args=(argv, log), name=name)
    with warnings.catch_warnings():
        # Python 3.12+ warns that forking a threaded process may deadlock the child. The threads
        # here are the simulator's; the child touches none of their state (it builds its own
        # Dagster instance, HTTP client and DuckDB databases), and every wait on it is bounded.
        warnings.filterwarnings("ignore", r".*multi-threaded.*fork\(\)", DeprecationWarning)
        process.start()
    run = ChildRun(name, process, sync_dir, log)
    children.append(run)
    return run


# ------------------------------------------------------------------------------ what readers see


def digest(path: Path | str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def parquet_names(directory: Path) -> list[str]:
    """The files of a partition that the readers' ``*.parquet`` globs match."""
    return sorted(p.name for p in directory.glob("*.parquet"))


def temp_files(directory: Path) -> list[Path]:
    """Leftover hidden temporary files of the atomic writer."""
    return sorted(directory.glob(".*.tmp"))


def expected_ids(world: World, key: str) -> list[str]:
    window = window_of(key, "UTC")
    return [c["id"] for c in world.calls_created_between(window.start, window.end)]


def stored_ids(storage: DigaStorage, key: str) -> list[str]:
    return storage.store.read_table(storage.layout.raw_partition("calls", key), columns=["id"]).column("id").to_pylist()


def view_ids_of_day(con: duckdb.DuckDBPyConnection, key: str) -> list[str]:
    return [row[0] for row in con.execute("SELECT id FROM calls WHERE day = ? ORDER BY id", [key]).fetchall()]


def metric_file_is_exact(storage: DigaStorage, asset: str, key: str, calls: list[dict]) -> bool:
    """Whether the stored day of ``asset`` equals the plain-Python computation over ``calls``."""
    try:
        assert_metric_day_matches(storage, asset, key, calls)
    except AssertionError:
        return False
    return True


def assert_metrics_exact(storage: DigaStorage, keys: Sequence[str]) -> None:
    """Every day of every daily metric is one whole file equal to the recomputation from raw."""
    calls = latest_calls(storage)
    for asset in DAILY_METRICS:
        for key in keys:
            assert stored_names(storage, storage.layout.metric_partition(asset, key).rsplit("/", 1)[0]) == [
                "part-0.parquet"
            ]
            assert_metric_day_matches(storage, asset, key, calls)


def assert_analysis_db_exact(storage: DigaStorage, world: World, keys: Sequence[str]) -> None:
    """diga.duckdb opens, holds every view, and each view reads exactly the stored whole files."""
    calls = [c for c in latest_calls(storage) if c["day"].isoformat() in keys]
    with storage.store.connect(str(storage.analysis_db), read_only=True) as con:
        assert set(stored_digests(con)) == ALL_VIEWS
        for view in VIEWS:
            con.execute(f"SELECT count(*) FROM {view}").fetchall()
        for key in keys:
            assert view_ids_of_day(con, key) == sorted(expected_ids(world, key)), key
        per_day = dict(con.execute("SELECT day, sum(total_calls) FROM call_outcome_rates GROUP BY day").fetchall())
        assert per_day == dict(Counter(c["day"] for c in calls))
        [(with_duration,)] = con.execute("SELECT sum(calls_with_duration) FROM call_duration_stats").fetchall()
        assert with_duration == sum(1 for c in calls if c["duration"] is not None)
        [(by_version,)] = con.execute("SELECT sum(total_calls) FROM agent_version_outcomes").fetchall()
        assert by_version == len(calls)


# ------------------------------------------------------------------------------ raw partition


@pytest.mark.parametrize(
    "point",
    ["raw-write", "raw-rename"],
    ids=["half-written", "written-not-yet-renamed"],
)
def test_a_run_killed_while_writing_a_raw_partition_leaves_the_old_file_and_a_rerun_stores_exact_ids(
    point: str, start_simulator: StartSimulator, tmp_path: Path, children: list[ChildRun]
) -> None:
    """SIGKILL with the new calls partition half written (no footer yet), or complete but not yet
    renamed: readers must still see the previous file byte for byte, the leftover temporary file
    must match no reader's glob and no view, and a plain re-run must store exactly the world's ids."""
    sim = start_simulator()
    storage = storage_for(tmp_path)
    other_day, held_day = "2026-11-17", "2026-11-18"
    old_ids = [f"old-{held_day}-{n}" for n in range(3)]
    old_file = Path(
        write_raw_calls(storage, held_day, [call(i, f"{held_day}T1{n}:00:00Z") for n, i in enumerate(old_ids)])
    )
    old_digest = digest(old_file)

    run = start_run(children, tmp_path, "killed", sim, first=other_day, last=held_day, holds=[f"{point}-{held_day}"])
    run.wait_until_held(f"{point}-{held_day}")
    run.kill()

    assert parquet_names(old_file.parent) == ["part-0.parquet"]
    assert digest(old_file) == old_digest
    [leftover] = temp_files(old_file.parent)
    if point == "raw-write":
        # The kill really caught a partial file: it has no footer, so it is not Parquet at all.
        with pytest.raises(pa.ArrowInvalid):
            pq.read_metadata(leftover)
    else:
        assert sorted(pq.read_table(leftover).column("id").to_pylist()) == sorted(expected_ids(sim.world, held_day))
    # The run's other day was fetched concurrently: it may be stored or not, but never in part.
    other_dir = Path(storage.layout.raw_partition("calls", other_day)).parent
    if parquet_names(other_dir):
        assert stored_ids(storage, other_day) == expected_ids(sim.world, other_day)
    # The views built over the readers' globs see the old day: the leftover is not read (in the
    # written-not-renamed case it holds the new ids, so reading it would show).
    with duckdb.connect() as con:
        create_views(con, analysis_views(storage.store, DEFAULT_OUTCOME_MAP))
        assert view_ids_of_day(con, held_day) == old_ids

    result = run_calls_job(tmp_path / "data", sim.base_url, SIM_KEY, other_day, held_day)

    assert result.success
    for key in (other_day, held_day):
        assert parquet_names(Path(storage.layout.raw_partition("calls", key)).parent) == ["part-0.parquet"]
        assert stored_ids(storage, key) == expected_ids(sim.world, key)
    # The leftover is younger than the stale-temp cutoff, so it stays; it is still read by nobody.
    assert leftover.exists()
    assert_analysis_db_exact(storage, sim.world, [other_day, held_day])
    assert_metrics_exact(storage, [other_day, held_day])


# ------------------------------------------------------------------------------ metrics and the DuckDB file


def plant_previous_metrics(storage: DigaStorage) -> dict[Path, str]:
    """Raw calls of our own (not what the simulator serves) and their three daily metrics, as a
    previous run left them; returns each metric file's digest."""
    for key in METRIC_DAYS:
        write_raw_calls(
            storage, key, [call(f"old-{key}-{n}", f"{key}T1{n}:00:00Z", duration=10 * (n + 1)) for n in range(3)]
        )
    days = [date.fromisoformat(key) for key in METRIC_DAYS]
    for day, curated in curate_calls(storage.store, "UTC", DEFAULT_OUTCOME_MAP, days):
        storage.store.write_table(storage.layout.curated_partition("calls", day.isoformat()), curated)
    computed = compute_daily_metrics(DAILY_CALL_METRICS, storage.store, days, timezone="UTC")
    for name, computation in computed.items():
        for key, day in zip(METRIC_DAYS, days, strict=True):
            storage.store.write_table(storage.layout.metric_partition(name, key), computation.rows_of(day))
    files = [Path(storage.layout.metric_partition(asset, key)) for asset in DAILY_METRICS for key in METRIC_DAYS]
    return {path: digest(path) for path in files}


def plant_previous_run(storage: DigaStorage) -> tuple[dict[Path, str], set[str]]:
    """The previous run's metrics, and an analysis database from before two metric views existed
    (so the killed run's refresh has views to write). Returns the metric files' digests and the
    database's views."""
    digests = plant_previous_metrics(storage)
    refresh_analysis_db(storage.store, DEFAULT_OUTCOME_MAP, log=logging.getLogger(__name__))
    with storage.store.connect(str(storage.analysis_db)) as con:
        con.execute(f"DROP VIEW {CALL_DURATION_STATS}")
        con.execute(f"DROP VIEW {AGENT_VERSION_OUTCOMES}")
        views = set(stored_digests(con))
    return digests, views


@pytest.mark.parametrize(
    "point",
    ["metric-compute", f"metric-write-{METRIC_DAYS[1]}", "db-commit", "db-committed"],
    ids=[
        "metric-duckdb-computation",
        "metric-file-half-written",
        "analysis-db-transaction-before-commit",
        "analysis-db-committed-not-checkpointed",
    ],
)
def test_a_run_killed_in_its_metric_step_leaves_whole_files_and_a_rerun_makes_them_exact(
    point: str, start_simulator: StartSimulator, tmp_path: Path, children: list[ChildRun]
) -> None:
    """SIGKILL after the raw step: while DuckDB computes the metrics, with a metric file half
    written, inside the analysis database's write transaction, or after its COMMIT with the views
    only in the WAL (the first refresh to write the file is curated_calls', before the metrics).

    Every metric file must then be the previous version byte for byte or the new one exact; the
    database must open with the old set of views or the new set (one transaction: never some of
    it), each queryable; and a plain re-run must make every metric and view exact."""
    sim = start_simulator()
    storage = storage_for(tmp_path)
    old_digests, old_views = plant_previous_run(storage)

    run = start_run(children, tmp_path, "killed", sim, first=METRIC_DAYS[0], last=METRIC_DAYS[-1], holds=[point])
    run.wait_until_held(point)
    run.kill()

    # diga_calls finished before any metric began, so the new version of a metric is the one
    # computed from the simulator's calls now stored.
    assert [stored_ids(storage, key) for key in METRIC_DAYS] == [expected_ids(sim.world, k) for k in METRIC_DAYS]
    calls = latest_calls(storage)
    state: dict[tuple[str, str], str] = {}
    for asset in DAILY_METRICS:
        for key in METRIC_DAYS:
            path = Path(storage.layout.metric_partition(asset, key))
            assert parquet_names(path.parent) == ["part-0.parquet"], (asset, key)
            if digest(path) == old_digests[path]:
                state[asset, key] = "old"
            else:
                assert metric_file_is_exact(storage, asset, key, calls), f"{asset} {key} is neither old nor exact"
                state[asset, key] = "new"
    leftovers = [temp for asset in DAILY_METRICS for temp in Path(storage.root, "metrics", asset).glob("day=*/.*.tmp")]
    if point.startswith("metric-write"):
        # Killed while writing the second day of the first metric: its first day is replaced,
        # the held day and the one after keep their previous files, the held one's rows sit in
        # a temporary file with no footer.
        [leftover] = leftovers
        asset, held_day = leftover.parent.parent.name, leftover.parent.name.removeprefix("day=")
        assert held_day == METRIC_DAYS[1]
        assert [state[asset, key] for key in METRIC_DAYS] == ["new", "old", "old"]
        with pytest.raises(pa.ArrowInvalid):
            pq.read_metadata(leftover)
    else:
        assert leftovers == []
    if point == "metric-compute":
        assert set(state.values()) == {"old"}, "nothing is written while the first metric computes"
    if point == "db-committed":
        # The kill came before the checkpoint that closing the connection makes.
        assert storage.analysis_db.with_name("diga.duckdb.wal").exists()
    with storage.store.connect(str(storage.analysis_db), read_only=True) as con:
        views = set(stored_digests(con))
        # curated_calls' refresh, before the metric step, creates the missing views: a kill inside
        # its transaction leaves the old set, one after its COMMIT the new set (from the WAL).
        assert views == (old_views if point == "db-commit" else ALL_VIEWS)
        for view in views & VIEWS:
            con.execute(f"SELECT count(*) FROM {view}").fetchall()

    result = run_calls_job(tmp_path / "data", sim.base_url, SIM_KEY, METRIC_DAYS[0], METRIC_DAYS[-1])

    assert result.success
    assert_metrics_exact(storage, METRIC_DAYS)
    assert_analysis_db_exact(storage, sim.world, METRIC_DAYS)


@pytest.mark.parametrize("kept_bytes", [0, 4096], ids=["empty", "main-header-only"])
def test_an_analysis_database_a_kill_left_without_its_headers_is_set_aside_and_rebuilt(
    kept_bytes: int, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """DuckDB creates diga.duckdb with open(O_CREAT) and then writes three 4 KiB headers (strace
    shows it); a process killed in between leaves a file DuckDB refuses to open. That point is
    inside DuckDB's C code, where no hold can stop a child, so the test writes what such a kill
    leaves: a real database file cut after ``kept_bytes``. The file holds views only, so the
    refresh every metric run ends with must move it aside and rebuild it, not fail every metric
    run until someone deletes the file by hand."""
    storage = storage_for(tmp_path)
    plant_previous_metrics(storage)
    whole = tmp_path / "whole.duckdb"
    with duckdb.connect(str(whole)) as con:
        con.execute("CREATE VIEW calls AS SELECT 1 AS id")
    cut = whole.read_bytes()[:kept_bytes]
    db = storage.analysis_db
    db.write_bytes(cut)

    replaced = refresh_analysis_db(storage.store, DEFAULT_OUTCOME_MAP, log=logging.getLogger(__name__))

    assert set(replaced) == ALL_VIEWS
    [aside] = db.parent.glob(f"{db.name}.invalid-*")
    assert aside.read_bytes() == cut
    assert f"moved to {aside}" in caplog.text
    with duckdb.connect(str(db), read_only=True) as con:
        assert set(stored_digests(con)) == ALL_VIEWS
        [(total,)] = con.execute("SELECT sum(total_calls) FROM call_outcome_rates").fetchall()
        assert total == 3 * len(METRIC_DAYS)
        assert con.execute("SELECT count(*) FROM calls").fetchall() == [(3 * len(METRIC_DAYS),)]


# ------------------------------------------------------------------------------ two runs at once


def test_two_runs_over_overlapping_days_write_the_same_files_at_once_and_both_succeed(
    start_simulator: StartSimulator, tmp_path: Path, children: list[ChildRun]
) -> None:
    """Two runs in two processes over overlapping days (11-16..11-18 and 11-17..11-19), lined up so
    that both are half-way through the same raw partition at once, then through the same curated
    day, then one refreshes the analysis database while the other holds it in its write
    transaction, then both are half-way through the same metric file. Both must succeed, and raw
    ids, curated days, metrics and views must be exact."""
    sim = start_simulator()
    storage = storage_for(tmp_path)
    shared_day = "2026-11-17"
    raw_point, curated_point, metric_point = (f"{kind}-write-{shared_day}" for kind in ("raw", "curated", "metric"))
    a_holds = [raw_point, curated_point, "db-commit", metric_point]
    b_holds = [raw_point, curated_point, "db-open", metric_point]
    a = start_run(children, tmp_path, "a", sim, first="2026-11-16", last="2026-11-18", holds=a_holds)
    b = start_run(children, tmp_path, "b", sim, first=shared_day, last="2026-11-19", holds=b_holds)

    for point, folder in (
        (raw_point, Path(storage.layout.raw_partition("calls", shared_day)).parent),
        (curated_point, Path(storage.layout.curated_partition("calls", shared_day)).parent),
    ):
        for run in (a, b):
            run.wait_until_held(point)
        # Both temporary files of the same partition exist at once: the writes really overlap.
        assert len(temp_files(folder)) == 2, point
        for run in (a, b):
            run.release(point)

    # a stands inside its write transaction on diga.duckdb (the refresh at the end of its curated
    # step), holding the file's lock; b refreshes then, finds the file held, and carries on.
    a.wait_until_held("db-commit")
    b.wait_until_held("db-open")
    b.release("db-open")
    b.wait_until_held(metric_point)
    a.release("db-commit")
    a.wait_until_held(metric_point)
    metric_temps = [
        temp for asset in DAILY_METRICS for temp in Path(storage.root, "metrics", asset).glob("day=*/.*.tmp")
    ]
    assert len(metric_temps) == 2 and metric_temps[0].parent == metric_temps[1].parent
    for run in (a, b):
        run.release(metric_point)
    for run in (a, b):
        run.wait_for_success()
    assert "is held by another process" in b.log.read_text(errors="replace")

    days = ["2026-11-16", shared_day, "2026-11-18", "2026-11-19"]
    for key in days:
        raw_dir = Path(storage.layout.raw_partition("calls", key)).parent
        assert parquet_names(raw_dir) == ["part-0.parquet"] and temp_files(raw_dir) == []
        assert stored_ids(storage, key) == expected_ids(sim.world, key)
    assert list(Path(storage.root).rglob("*.tmp")) == []
    assert_metrics_exact(storage, days)
    assert_analysis_db_exact(storage, sim.world, days)


# ------------------------------------------------------------------------------ a bucket root


@pytest.mark.parametrize("point", ["raw-write", "raw-upload"], ids=["half-written", "mid-upload"])
def test_a_run_killed_while_storing_a_raw_partition_in_a_bucket_leaves_the_old_object(
    point: str, s3_server: S3Server, start_simulator: StartSimulator, tmp_path: Path, children: list[ChildRun]
) -> None:
    """SIGKILL while the new partition is half written to its local temporary file, or while its
    upload is sending the body: the bucket must still hold the previous object byte for byte and
    nothing else under the partition (a PUT that never completes creates nothing, and no multipart
    upload is left open), and a plain re-run must store exactly the world's ids."""
    sim = start_simulator()
    root = s3_server.new_root(f"killed-{point}")
    storage = DigaStorage(data_dir=root)
    held_day = "2026-11-18"
    old_ids = [f"old-{held_day}-{n}" for n in range(3)]
    location = write_raw_calls(storage, held_day, [call(i, f"{held_day}T1{n}:00:00Z") for n, i in enumerate(old_ids)])
    old = storage.store.read_bytes(location)

    run = start_run(
        children, tmp_path, "killed", sim, first=held_day, last=held_day, holds=[f"{point}-{held_day}"], data_dir=root
    )
    run.wait_until_held(f"{point}-{held_day}")
    run.kill()

    assert storage.store.read_bytes(location) == old
    assert stored_names(storage, location.rsplit("/", 1)[0]) == ["part-0.parquet"]
    assert s3_server.client().list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []

    result = run_calls_job(root, sim.base_url, SIM_KEY, held_day, held_day)

    assert result.success
    assert stored_ids(storage, held_day) == expected_ids(sim.world, held_day)


def test_two_runs_uploading_the_same_bucket_partitions_at_once_both_succeed_and_store_exact_data(
    s3_server: S3Server, start_simulator: StartSimulator, tmp_path: Path, children: list[ChildRun]
) -> None:
    """Two runs in two processes over overlapping days, both held in the middle of uploading the
    same partition, then let go: each upload replaces the object whole, so whichever lands last,
    the partition and the metrics of every day are exact."""
    sim = start_simulator()
    root = s3_server.new_root("two-runs")
    storage = DigaStorage(data_dir=root)
    shared_day = "2026-11-17"
    point = f"raw-upload-{shared_day}"
    a = start_run(children, tmp_path, "a", sim, first="2026-11-16", last=shared_day, holds=[point], data_dir=root)
    b = start_run(children, tmp_path, "b", sim, first=shared_day, last="2026-11-18", holds=[point], data_dir=root)

    for run in (a, b):
        run.wait_until_held(point)
    for run in (a, b):
        run.release(point)
    for run in (a, b):
        run.wait_for_success()

    days = ["2026-11-16", shared_day, "2026-11-18"]
    for key in days:
        assert stored_names(storage, storage.layout.raw_partition("calls", key).rsplit("/", 1)[0]) == ["part-0.parquet"]
        assert stored_ids(storage, key) == expected_ids(sim.world, key)
    assert_metrics_exact(storage, days)
