"""Each benchmark runs end to end at a tiny size, so bench/ cannot rot between real runs.

No timing is asserted here (machines are shared and noisy): only that every contender ran,
agreed on the rows, and that the table the benchmark exists to print was printed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

# Every benchmark at a tiny size: make test-fast skips it.
pytestmark = pytest.mark.bench

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
    assert "pandas / project:" in out and "of which, project: every day: curating" in out
    assert "last day on a year of history / alone:" in out
    assert "a year's rebuild through dagster / the same functions alone:" in out


@pytest.mark.timeout(300)
def test_adhoc_benchmark_asks_every_question_three_ways_with_the_same_answers():
    out = run_bench("adhoc.py", "--calls", "20000", "--days", "10")
    for question in ("last 30 days by outcome", "one agent over the year", "the year by status"):
        assert question in out
    assert "views / raw files, sum of best times:" in out and "computed from the raw snapshots / raw files:" in out


@pytest.mark.timeout(300)
def test_curated_layout_benchmark_asks_every_layout_every_question():
    out = run_bench("curated_layout.py", "--calls", "20000", "--days", "10")
    assert "by agent, 8k-row groups / as written:" in out and "by created_date, 8k-row groups / as written:" in out
    assert re.search(r"^one agent over the year( +[\d.]+){3}$", out, re.MULTILINE)


@pytest.mark.timeout(300)
def test_bucket_reads_benchmark_reads_the_bucket_through_pyarrows_filesystem():
    out = run_bench("bucket_reads.py", "--calls", "3000", "--days", "3")
    assert "every candidate got the same number of rows for every question" in out
    assert re.search(r"^sum of the four questions +[\d.]+", out, re.MULTILINE)


def test_backfill_latency_benchmark_compares_concurrency():
    out = run_bench("backfill_latency.py", "--days", "3", "--calls-per-day", "200", "--latency-ms", "5")
    assert "max_concurrency=4 is" in out and "faster than 1" in out


def test_transcripts_benchmark_counts_requests_and_messages_against_the_latency_floor():
    out = run_bench("transcripts.py", "--days", "2", "--calls-per-day", "100", "--latency-ms", "2")
    requests, messages = (
        int(n.replace(",", "")) for n in re.search(r"requests ([\d,]+) .* messages stored ([\d,]+)", out).groups()
    )
    assert requests > 100 and messages > requests
    assert re.search(r"the fetch step \(run_seconds\) +[\d.]+ +[\d.]+", out)
    assert re.search(r"µs per message", out)


def test_profile_summary_groups_threads_and_charges_callers(tmp_path):
    sys.path.insert(0, str(BENCH))
    try:
        from cpu_profile import summarize
    finally:
        sys.path.remove(str(BENCH))
    raw = tmp_path / "raw.txt"
    raw.write_text(
        "thread (0x1): diga-day_0;fetch_calls_day (diga_assets/assets/raw/calls.py:120);"
        "to_record_batch (diga_assets/api/records.py:224);array (pyarrow/array.pxi:360) 30\n"
        "thread (0x2): diga-day_1;fetch_calls_day (diga_assets/assets/raw/calls.py:130) 10\n"
        "thread (0x3): diga-calls-2026-11-01;_get_json (diga_assets/api/client.py:446) 50\n"
        "thread (0x4): MainThread 10\n"
    )
    report = summarize(raw, gil=True, rate=100)
    assert "the GIL was held 1.0 s (100 samples at 100/s)" in report
    # The two pool threads are one row, the read-ahead thread another, whatever their day or number.
    assert "0.40 s  40.0%  diga-day\n" in report
    assert "0.50 s  50.0%  diga-calls\n" in report
    # A function is charged with everything it calls; a line only with its own samples.
    assert "0.40 s  40.0%  fetch_calls_day (raw/calls.py)" in report
    assert "0.30 s  30.0%  array (pyarrow/array.pxi:360)" in report
    assert "0.10 s  10.0%  (the interpreter, no Python frame)" in report
