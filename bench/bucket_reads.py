"""Bucket-reads benchmark: the analyst's views read from an S3 bucket through each candidate
fsspec filesystem DuckDB can be given when its httpfs extension is missing.

    .venv/bin/python bench/bucket_reads.py [--calls 1500000] [--days 60]

Writes ``--calls`` calls as ``--days`` raw day partitions and builds the curated layer and the
daily metrics from them, as ``bench/adhoc.py`` does, starts an S3-compatible server on loopback
(moto, stopped when the benchmark ends) and uploads the whole data directory into a bucket. Then,
for each candidate filesystem, each in a process of its own where ``S3Store.filesystem`` is
replaced by the candidate before anything touches it:

- refresh: ``refresh_analysis_db`` from an empty cache, as the first ``diga_assets.connect()`` on
  a machine runs it (it globs the bucket and reads the files' schemas), best of two;
- adhoc.py's four questions, through the ``calls`` view of the analysis database of
  ``DIGA_DATA_DIR=s3://bucket/prefix``, opened as ``connect()`` opens it, best of two runs each.

The candidates:

- s3fs: ``s3fs.S3FileSystem(skip_instance_cache=True, use_listings_cache=False)``, what the
  project used until it dropped s3fs (skipped with a note when s3fs is not installed);
- arrow: what the project uses now, ``S3Store.filesystem`` as the code has it (fsspec's
  ``ArrowFSWrapper`` around ``pyarrow.fs.S3FileSystem``);
- obstore: ``obstore.fsspec.FsspecStore("s3")``, through a subclass that strips ``s3://`` from
  the paths it globs (``S3ObstoreFileSystem``; skipped with a note when obstore is not installed).

Prints each question's best seconds per candidate, the sums, the peak RSS of each process and the
ratios of each candidate to s3fs and to arrow; the answers must have the same number of rows
whatever the filesystem. Seconds vary with the machine (and moto serves every candidate alike,
slowly); the ratios are the figures to compare.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any

from adhoc import build, questions
from ingest import s3_server as loopback_s3_server
from measure import Outcome, rows_from_json, run_measured
from metrics import write_history

HERE = Path(__file__).resolve()
BUCKET = "diga-bench"
PREFIX = "bucket-reads"
CANDIDATES = ("s3fs", "arrow", "obstore")
# The module each candidate needs beyond the project's own dependencies.
NEEDS = {"s3fs": "s3fs", "obstore": "obstore.fsspec"}
REFRESH = "refresh_analysis_db (empty cache)"


# ------------------------------------------------------------------------------- candidates


def obstore_filesystem() -> Any:
    """The obstore candidate: ``FsspecStore("s3")`` behind the one fix DuckDB needs."""
    from urllib.parse import urlsplit

    from obstore.fsspec import FsspecStore

    class S3ObstoreFileSystem(FsspecStore):
        """obstore's fsspec store for ``s3://`` as DuckDB calls it. ``FsspecStore`` sets its
        protocol on the instance, so fsspec's ``_strip_protocol`` (a classmethod) leaves
        ``s3://`` on a path and ``glob("s3://bucket/key/*")`` matches nothing, while
        ``glob("bucket/key/*")`` works; DuckDB globs with the prefix. This subclass strips it
        before globbing: the project would have to ship it to read a bucket through obstore.
        Opening, ``info`` and ranged reads take ``s3://`` paths as they are."""

        async def _glob(self, path: str, **kwargs: Any) -> Any:
            return await super()._glob(path.removeprefix("s3://"), **kwargs)

    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or ""
    options = {"allow_http": True} if urlsplit(endpoint).scheme == "http" else None
    return S3ObstoreFileSystem("s3", client_options=options)


def s3fs_filesystem() -> Any:
    """The s3fs candidate, as ``S3Store.filesystem`` made it before the project dropped s3fs."""
    import s3fs

    return s3fs.S3FileSystem(skip_instance_cache=True, use_listings_cache=False)


def use_candidate(candidate: str) -> None:
    """Make ``S3Store.filesystem`` the candidate's (arrow: the code's own, left as it is)."""
    from diga_assets.storage.s3 import S3Store

    if candidate == "arrow":
        return
    make = {"s3fs": s3fs_filesystem, "obstore": obstore_filesystem}[candidate]
    replacement = cached_property(lambda _store: make())
    replacement.__set_name__(S3Store, "filesystem")
    S3Store.filesystem = replacement  # type: ignore[assignment]


def available(candidate: str) -> bool:
    """Whether the candidate's package imports; a note when it does not."""
    if candidate not in NEEDS:
        return True
    try:
        importlib.import_module(NEEDS[candidate])
    except ImportError as exc:
        print(f"note: {candidate} skipped, {NEEDS[candidate]} does not import ({exc})", flush=True)
        return False
    return True


# ------------------------------------------------------------------------------- processes


def refresh(root: str, candidate: str) -> None:
    """``refresh_analysis_db`` from an empty cache (runs in its own process), twice, each with a
    fresh storage resource; the best time printed with the number of views."""
    use_candidate(candidate)
    from diga_assets.analysis.views import refresh_analysis_db
    from diga_assets.storage import open_store

    mapping = outcome_map(root)
    timings = []
    for _ in range(2):
        store = open_store(root)
        shutil.rmtree(store.analysis_db.parent, ignore_errors=True)
        started = time.perf_counter()
        created = refresh_analysis_db(store, mapping, log=_Log())
        timings.append(time.perf_counter() - started)
    filesystem = type(store.filesystem).__name__  # type: ignore[attr-defined]
    print(json.dumps({"rows": len(created), "best_s": min(timings), "first_s": timings[0], "fs": filesystem}))


def ask(root: str, candidate: str, sql: str) -> None:
    """One question (runs in its own process) through the views, with the connection opened as
    ``diga_assets.connect()`` opens it: twice, the best time printed with the answer's size."""
    use_candidate(candidate)
    from diga_assets.analysis.views import refresh_analysis_db
    from diga_assets.storage import open_store

    store = open_store(root)
    refresh_analysis_db(store, outcome_map(root), log=_Log())
    con = store.open_connection(str(store.analysis_db), read_only=True)
    timings = []
    for _ in range(2):
        started = time.perf_counter()
        rows = con.sql(sql).fetchall()
        timings.append(time.perf_counter() - started)
    con.close()
    filesystem = type(store.filesystem).__name__  # type: ignore[attr-defined]
    print(json.dumps({"rows": len(rows), "best_s": min(timings), "first_s": timings[0], "fs": filesystem}))


def outcome_map(root: str) -> Path:
    """The outcome map as ``diga_assets.connect()`` resolves it, for ``DIGA_DATA_DIR=root``."""
    from diga_assets.analysis.outcome_map import resolve_outcome_map
    from diga_assets.settings import Settings

    return resolve_outcome_map(Settings.from_env({**os.environ, "DIGA_DATA_DIR": root}))


class _Log:
    """The refresh's warnings, on stderr."""

    def warning(self, message: str) -> None:
        print(f"warning: {message}", file=sys.stderr)


# ----------------------------------------------------------------------------------- bucket


@contextmanager
def s3_server(cache_dir: Path) -> Iterator[dict[str, str]]:
    """moto on 127.0.0.1 with the bucket created (ingest.py's server); yields the environment that
    points the standard AWS chain at it and at nothing of the machine's user. Stopped when done."""
    with loopback_s3_server(BUCKET) as aws:
        yield {
            **aws,
            "AWS_CONFIG_FILE": str(cache_dir / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(cache_dir / "no-aws-credentials"),
            "XDG_CACHE_HOME": str(cache_dir),
        }


def client(aws: dict[str, str]) -> Any:
    import boto3

    return boto3.session.Session(
        aws_access_key_id=aws["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=aws["AWS_SECRET_ACCESS_KEY"],
        region_name=aws["AWS_DEFAULT_REGION"],
    ).client("s3", endpoint_url=aws["AWS_ENDPOINT_URL"])


def upload(aws: dict[str, str], data_dir: Path) -> int:
    """Every stored file of the data directory under ``s3://BUCKET/PREFIX/``, keys keeping the
    relative paths (the local analysis database stays: a bucket's lives in the reader's cache)."""
    from diga_assets.storage.store import ANALYSIS_DB_FILE

    s3 = client(aws)
    files = [
        path
        for path in sorted(data_dir.rglob("*"))
        if path.is_file() and path.name != ANALYSIS_DB_FILE and not path.name.startswith(".")
    ]
    with ThreadPoolExecutor(max_workers=8) as pool:
        uploads = [
            pool.submit(s3.upload_file, str(path), BUCKET, f"{PREFIX}/{path.relative_to(data_dir).as_posix()}")
            for path in files
        ]
        for done in uploads:
            done.result()
    return sum(path.stat().st_size for path in files)


# ------------------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="role")
    refresher = sub.add_parser("refresh")
    refresher.add_argument("root")
    refresher.add_argument("candidate", choices=CANDIDATES)
    asker = sub.add_parser("ask")
    asker.add_argument("root")
    asker.add_argument("candidate", choices=CANDIDATES)
    asker.add_argument("sql")
    parser.add_argument("--calls", type=int, default=1_500_000)
    parser.add_argument("--days", type=int, default=60)
    args = parser.parse_args()
    if args.role == "refresh":
        return refresh(args.root, args.candidate)
    if args.role == "ask":
        return ask(args.root, args.candidate, args.sql)
    benchmark(args.calls, args.days)
    return None


def benchmark(calls: int, days: int) -> dict[str, dict[str, Outcome]]:
    """Write the history, build the layers, upload them, ask every question through every
    candidate, print the table."""
    candidates = [candidate for candidate in CANDIDATES if available(candidate)]
    root = f"s3://{BUCKET}/{PREFIX}"
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        started = time.perf_counter()
        keys = write_history(data_dir, calls, days)
        print(f"history: {calls:,} calls over {days} days written in {time.perf_counter() - started:.1f}s", flush=True)
        started = time.perf_counter()
        build(data_dir, keys[0], keys[-1])
        print(f"curated_calls and the daily metrics built in {time.perf_counter() - started:.1f}s", flush=True)
        with s3_server(Path(tmp)) as aws:
            started = time.perf_counter()
            size = upload(aws, data_dir)
            print(f"uploaded {size / 1e6:.1f} MB to {root} in {time.perf_counter() - started:.1f}s", flush=True)
            outcomes: dict[str, dict[str, Outcome]] = {REFRESH: {}}
            asked = {name: sql["views"] for name, sql in questions(date.fromisoformat(keys[-1])).items()}
            for candidate in candidates:
                # Each candidate reads with a cache of its own, built by its own refresh.
                env = {**os.environ, **aws, "PYTHONWARNINGS": "ignore", "XDG_CACHE_HOME": f"{tmp}/cache-{candidate}"}
                outcomes[REFRESH][candidate] = run_measured(
                    f"{REFRESH} ({candidate})",
                    [sys.executable, str(HERE), "refresh", root, candidate],
                    env,
                    rows_from_json,
                )
                for name, sql in asked.items():
                    outcomes.setdefault(name, {})[candidate] = run_measured(
                        f"{name} ({candidate})",
                        [sys.executable, str(HERE), "ask", root, candidate, sql],
                        env,
                        rows_from_json,
                    )
    print_table(outcomes, candidates, calls, days, size)
    return outcomes


def print_table(
    outcomes: dict[str, dict[str, Outcome]], candidates: list[str], calls: int, days: int, size: int
) -> None:
    """Best seconds per question and candidate, the sums, the ratios; then the peak RSS."""
    ratios = [(c, base) for base in ("s3fs", "arrow") if base in candidates for c in candidates if c != base]
    questions_only = [name for name in outcomes if name != REFRESH]
    print(
        f"\n{calls:,} calls over {days} days, {size / 1e6:.1f} MB in the bucket (moto on loopback); "
        "best of two runs; the filesystems as DuckDB read through them:"
    )
    for candidate in candidates:
        print(f"  {candidate}: {outcomes[REFRESH][candidate].report.get('fs')}")
    header = f"{'':<36}" + "".join(f"{c + ' s':>10}" for c in candidates)
    print(header + "".join(f"{c + '/' + base:>15}" for c, base in ratios))

    def line(name: str, best: dict[str, float]) -> str:
        cells = "".join(f"{best[c]:>10.3f}" for c in candidates)
        return f"{name:<36}{cells}" + "".join(f"{best[c] / best[base]:>14.2f}x" for c, base in ratios)

    sums = dict.fromkeys(candidates, 0.0)
    for name in questions_only:
        best = {c: outcomes[name][c].report["best_s"] for c in candidates}
        for c in candidates:
            sums[c] += best[c]
        print(line(name, best))
    print(line("sum of the four questions", sums))
    print(line(REFRESH, {c: outcomes[REFRESH][c].report["best_s"] for c in candidates}))
    print("\npeak RSS of each process, MB")
    print(f"{'':<36}" + "".join(f"{c:>10}" for c in candidates))
    for name in [*questions_only, REFRESH]:
        print(f"{name:<36}" + "".join(f"{outcomes[name][c].peak_rss_mb:>10.0f}" for c in candidates))
    print("\nratios (the machine-independent figures; below 1.00x is faster):")
    for c, base in ratios:
        questions_ratio = sums[c] / sums[base]
        refresh_ratio = outcomes[REFRESH][c].report["best_s"] / outcomes[REFRESH][base].report["best_s"]
        print(f"  {c} / {base}: {questions_ratio:.2f}x on the four questions, {refresh_ratio:.2f}x on the refresh")
    for name, by_candidate in outcomes.items():
        if len({by_candidate[c].rows for c in candidates}) != 1:
            raise SystemExit(f"{name}: the answers differ in rows: {[(c, by_candidate[c].rows) for c in candidates]}")
    print("every candidate got the same number of rows for every question and the same views")


if __name__ == "__main__":
    main()
