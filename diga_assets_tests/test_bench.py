"""Each benchmark runs end to end at a tiny size, so bench/ cannot rot between real runs.

No timing is asserted here (machines are shared and noisy): only that every contender ran,
agreed on the rows, and that the table the benchmark exists to print was printed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


def run_bench(script: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done.stdout


@pytest.mark.timeout(300)
def test_ingest_benchmark_runs_every_contender_on_the_same_rows():
    out = run_bench("ingest.py", "--days", "2", "--calls-per-day", "300", "--latency-ms", "0")
    for contender in ("floor (1 session, sequential)", "project, max_concurrency=1", "project, max_concurrency=4"):
        assert contender in out
    assert "x floor" in out and "peak RSS MB" in out


@pytest.mark.timeout(300)
def test_metrics_benchmark_agrees_with_pandas_and_times_one_day():
    out = run_bench("metrics.py", "--calls", "3000", "--days", "4")
    assert "pandas / project:" in out
    assert "last day on a year of history / alone:" in out


@pytest.mark.timeout(300)
def test_backfill_latency_benchmark_compares_concurrency():
    out = run_bench("backfill_latency.py", "--days", "3", "--calls-per-day", "200", "--latency-ms", "5")
    assert "max_concurrency=4 is" in out and "faster than 1" in out
