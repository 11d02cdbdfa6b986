"""bench/ingest.py end to end at a tiny size, so it cannot rot between real runs. No timing is
asserted (machines are shared and noisy): only that every contender ran and agreed, and that
the table the benchmark exists to print was printed."""

from __future__ import annotations

import pytest

from diga_assets_tests.bench.scripts import run_bench

# make test-fast skips it.
pytestmark = pytest.mark.bench


@pytest.mark.timeout(300)
def test_ingest_benchmark_runs_every_contender_on_the_same_rows():
    out = run_bench(
        "ingest.py",
        *("--days", "2", "--calls-per-day", "300", "--latency-ms", "0"),
        *("--busy-day-calls", "2500", "--busy-day-latency-ms", "0"),
    )
    range_table, busy_day_table = out.split("one day of ")
    for contender in ("floor (1 session, sequential)", "project, max_concurrency=1", "project, max_concurrency=4"):
        assert contender in range_table
    assert "x floor" in range_table and "peak RSS MB" in range_table
    # The busy day: the floor's three pages, and the project's requests for the same day cut in
    # sub-windows (a count and the probes on top of the pages).
    project = next(line for line in busy_day_table.splitlines() if line.startswith("project, max_concurrency=4"))
    assert int(project.split()[4]) > 3
    assert "of which its diga_calls step's fetch" in busy_day_table
