"""A ``diga_calls_job`` run (diga_calls, then the three daily metrics) in an OS process of its own,
which stops at exact points of its writes and waits there, so the process-fault tests can SIGKILL
it at that point, or line two of them up to write the same files at the same moment.

    python -m diga_assets_tests.reliability.killable_run --data-dir D --base-url U --api-key K \\
        --first 2026-11-17 --last 2026-11-18 --sync-dir S --hold raw-write-2026-11-18

At a hold point the run creates ``{sync_dir}/{point}.reached``, then opens the FIFO
``{sync_dir}/{point}.go`` (made by the test) for reading and reads it to the end. Opening a FIFO
blocks until a writer opens it, so the run goes on only when the test opens and closes that FIFO,
and never when the test kills it instead: no sleeps, no timing. Each point holds once per process.

The hold points, named so that they can be file names:

- ``raw-write-{day}``: the first page of raw calls day ``day`` is in the hidden temporary file; the
  Parquet footer is not (the file is half written).
- ``raw-rename-{day}``: that temporary file is complete (footer written, closed); it is neither
  fsynced nor renamed yet.
- ``raw-upload-{day}`` (a bucket root): the complete file's upload has started, the request is
  sending its body; the object is not created yet.
- ``curated-write-{day}``: the curated file of ``day`` has its rows in the temporary file but no
  footer (the file is half written).
- ``metric-compute``: the first metric's in-memory DuckDB has built its calls table and is about to
  run the metric statement.
- ``metric-write-{day}``: the first metric file of ``day`` has its rows in the temporary file but
  no footer (the file is half written).
- ``db-open``: ``refresh_analysis_db`` is about to open ``diga.duckdb``.
- ``db-commit``: the write transaction on ``diga.duckdb`` has created its views; COMMIT not sent.
- ``db-committed``: COMMIT done, the connection not closed, so the views are in the WAL only.

A watchdog ends the process after ``--max-seconds`` whatever happens, so a test that dies without
its ``finally`` never leaves a process blocked on a FIFO behind.
"""

import argparse
import os
import sys
import threading
import types
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import boto3
import dagster as dg
import duckdb
from botocore.config import Config

import diga_assets.analysis.views as analysis_views
import diga_assets.assets.metrics.daily as daily_metrics
import diga_assets.storage.local as storage_files
import diga_assets.storage.s3 as storage_s3
import diga_assets.storage.store as storage_store
from diga_assets.analysis.views import View
from diga_assets.assets.common import DigaGraph
from diga_assets.assets.curated import build_curated_calls_asset
from diga_assets.assets.metrics import build_metric_assets
from diga_assets.assets.raw import build_raw_assets
from diga_assets.names import CALLS_JOB_ASSETS
from diga_assets.resources import DigaApiResource
from diga_assets.settings import Settings
from diga_assets.storage import DigaStorage

# Several pages per day, so a held raw write really is half a file.
CALLS_PAGE_SIZE = 20
# The test fixtures' partitions (diga_assets_tests.assets.conftest.settings_for); not imported
# from there because the test packages' conftests pull in jsonschema, seconds of start-up per child.
START_DATE = date(2026, 10, 1)


def run_calls_job(
    data_dir: Path | str, base_url: str, api_key: str, first: str, last: str
) -> dg.ExecuteInProcessResult:
    """One run of diga_calls and the three daily metrics over ``[first, last]``: the same run the
    child process makes, for the re-runs the tests make in their own process."""
    settings = Settings(
        data_dir=data_dir, start_date=START_DATE, timezone="UTC", api_base_url=base_url, trailing_days=2
    )
    return dg.materialize(
        [
            *build_raw_assets(DigaGraph(settings)),
            build_curated_calls_asset(DigaGraph(settings)),
            *build_metric_assets(DigaGraph(settings)),
        ],
        selection=dg.AssetSelection.assets(*CALLS_JOB_ASSETS),
        resources={
            "diga": DigaApiResource(
                api_key=api_key,
                base_url=base_url,
                backoff_base_s=0.01,
                backoff_max_s=0.05,
                read_timeout_s=10.0,
                calls_page_size=CALLS_PAGE_SIZE,
            ),
            "storage": DigaStorage(data_dir=str(data_dir)),
        },
        # What a single-run backfill of the range launches.
        tags={"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last},
        raise_on_error=False,
    )


class Holds:
    """The armed hold points of this process; ``hold`` stops at each of them once."""

    def __init__(self, sync_dir: Path, points: Sequence[str]) -> None:
        self.sync_dir = sync_dir
        self.armed = set(points)
        self._lock = threading.Lock()

    def hold(self, point: str) -> None:
        """Announce ``point`` and wait for the test's go, if armed and not yet held."""
        with self._lock:
            if point not in self.armed:
                return
            self.armed.discard(point)
        (self.sync_dir / f"{point}.reached").write_text(str(os.getpid()))
        with open(self.sync_dir / f"{point}.go", "rb") as go:
            go.read()


def install(holds: Holds) -> None:
    """Patch the project's write paths so that each hold point calls ``holds.hold``."""
    write_batch = storage_files.AtomicParquetWriter.write_batch
    commit = storage_files._commit

    def holding_write_batch(self: storage_files.AtomicParquetWriter, batch: Any) -> None:
        write_batch(self, batch)
        partition = self.final_path.parent.name  # date=YYYY-MM-DD (raw) or day=YYYY-MM-DD (curated, metric)
        kind = "raw" if partition.startswith("date=") else "curated" if "curated" in self.final_path.parts else "metric"
        holds.hold(f"{kind}-write-{partition.split('=', 1)[1]}")

    def holding_commit(temp_path: Path, final_path: Path) -> None:
        if final_path.parent.name.startswith("date="):
            holds.hold(f"raw-rename-{final_path.parent.name.split('=', 1)[1]}")
        commit(temp_path, final_path)

    storage_files.AtomicParquetWriter.write_batch = holding_write_batch  # type: ignore[method-assign]
    storage_files._commit = holding_commit

    upload_write_batch = storage_s3.S3ParquetWriter.write_batch

    def holding_upload_write_batch(self: storage_s3.S3ParquetWriter, batch: Any) -> None:
        upload_write_batch(self, batch)
        if "/date=" in self.key:
            holds.hold(f"raw-write-{self.key.split('/date=', 1)[1].split('/', 1)[0]}")

    publish = storage_s3.S3Store.publish

    def holding_publish(self: storage_s3.S3Store, path: Path, key: str) -> None:
        if "/date=" not in key:
            publish(self, path, key)
            return
        # One PUT whose body stands still half-way: the first half has gone over the connection,
        # the rest not. Checksums are computed only when S3 requires them, so the body is read
        # while it is sent rather than once ahead of it.
        point = f"raw-upload-{key.split('/date=', 1)[1].split('/', 1)[0]}"
        client = boto3.session.Session().client("s3", config=Config(request_checksum_calculation="when_required"))
        with open(path, "rb") as file:
            client.put_object(Bucket=self.bucket, Key=key, Body=_HalfThenHold(file, lambda: holds.hold(point)))

    storage_s3.S3ParquetWriter.write_batch = holding_upload_write_batch  # type: ignore[method-assign]
    storage_s3.S3Store.publish = holding_publish  # type: ignore[method-assign]

    views_connection = daily_metrics.views_connection

    @contextmanager
    def holding_views_connection(store: Any, views: Sequence[View]) -> Iterator[tuple[Any, list[str]]]:
        with views_connection(store, views) as (con, created):
            yield _HookedConnection(con, {"sql": lambda *_: holds.hold("metric-compute")}), created

    daily_metrics.views_connection = holding_views_connection

    replace_stale_views = analysis_views._replace_stale_views

    def holding_replace_stale_views(*args: Any) -> list[str]:
        holds.hold("db-open")
        return replace_stale_views(*args)

    analysis_views._replace_stale_views = holding_replace_stale_views

    def on_execute(statement: str, *_: Any) -> None:
        if statement == "COMMIT":
            holds.hold("db-commit")

    def after_execute(statement: str, *_: Any) -> None:
        if statement == "COMMIT":
            holds.hold("db-committed")

    def connect(database: str = ":memory:", read_only: bool = False, **kwargs: Any) -> Any:
        con = duckdb.connect(database, read_only=read_only, **kwargs)
        if database == ":memory:" or read_only:
            return con
        return _HookedConnection(con, {"execute": on_execute}, after={"execute": after_execute})

    # The store reaches DuckDB through its module global: give it one whose connect() to the
    # analysis file for writing returns a connection that holds around COMMIT.
    shim = types.ModuleType("duckdb")
    shim.__dict__.update(vars(duckdb))
    shim.connect = connect  # type: ignore[attr-defined]
    storage_store.duckdb = shim  # type: ignore[attr-defined]


class _HalfThenHold:
    """A request body that hands out its first half, then calls ``hold`` before the rest, while
    it is being sent. Over plain http the request is signed first, which reads the whole body
    once and rewinds it; the hold waits for the pass after that rewind."""

    def __init__(self, file: Any, hold: Callable[[], None]) -> None:
        self._file = file
        self._hold = hold
        self._half = max(1, os.fstat(file.fileno()).st_size // 2)
        self._reads = 0
        self._rewound = False

    def read(self, size: int = -1) -> bytes:
        self._reads += 1
        if self._rewound and self._reads == 2:
            self._hold()
        if self._rewound and self._reads == 1:
            return self._file.read(self._half if size < 0 else min(size, self._half))
        return self._file.read(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        self._rewound = self._rewound or self._reads > 0
        self._reads = 0
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()


class _HookedConnection:
    """A DuckDB connection whose named methods call a hook before (and after) the real call."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        before: dict[str, Callable[..., None]],
        after: dict[str, Callable[..., None]] | None = None,
    ) -> None:
        self._con = con
        self._before = before
        self._after = after or {}

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._con, name)
        if name not in self._before and name not in self._after:
            return real

        def hooked(*args: Any, **kwargs: Any) -> Any:
            self._before.get(name, _nothing)(*args)
            result = real(*args, **kwargs)
            self._after.get(name, _nothing)(*args)
            return result

        return hooked

    def __enter__(self) -> "_HookedConnection":
        return self

    def __exit__(self, *exc: object) -> None:
        self._con.close()


def _nothing(*_: Any) -> None:
    pass


def _watchdog(seconds: float) -> None:
    timer = threading.Timer(seconds, lambda: os._exit(3))
    timer.daemon = True
    timer.start()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="a local directory or s3://bucket/prefix")
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--first", required=True)
    parser.add_argument("--last", required=True)
    parser.add_argument("--sync-dir", type=Path, required=True)
    parser.add_argument("--hold", action="append", default=[], help="a hold point; repeat for several")
    parser.add_argument("--max-seconds", type=float, default=120.0)
    args = parser.parse_args(argv)
    _watchdog(args.max_seconds)
    install(Holds(args.sync_dir, args.hold))
    result = run_calls_job(args.data_dir, args.base_url, args.api_key, args.first, args.last)
    print("run succeeded" if result.success else "run FAILED", flush=True)
    return 0 if result.success else 1


def forked_main(argv: Sequence[str], log: Path) -> None:
    """Entry point of a child forked from the test process (``multiprocessing`` fork context): the
    imports and Dagster's first-run warm-up are already done there, which saves a couple of CPU
    seconds per child on a loaded machine. Output goes to ``log``, never to the test's capture."""
    # Anything DuckDB or Dagster might drop in the working directory lands beside the log, not
    # in the checkout the test process runs from.
    os.chdir(log.parent)
    out = open(log, "w", buffering=1)  # noqa: SIM115 - the process's output until it ends
    os.dup2(out.fileno(), 1)
    os.dup2(out.fileno(), 2)
    sys.stdout = sys.stderr = out
    sys.exit(main(argv))


if __name__ == "__main__":
    sys.exit(main())
