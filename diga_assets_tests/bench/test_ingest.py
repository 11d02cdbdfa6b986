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
    out = run_bench("ingest.py", "--days", "2", "--calls-per-day", "300", "--latency-ms", "0")
    for contender in ("floor (1 session, sequential)", "project, max_concurrency=1", "project, max_concurrency=4"):
        assert contender in out
    assert "x floor" in out and "peak RSS MB" in out
