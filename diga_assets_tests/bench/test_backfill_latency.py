"""bench/backfill_latency.py end to end at a tiny size, so it cannot rot between real runs. No timing is
asserted (machines are shared and noisy): only that every contender ran and agreed, and that
the table the benchmark exists to print was printed."""

from __future__ import annotations

import pytest

from diga_assets_tests.bench.scripts import run_bench

# make test-fast skips it.
pytestmark = pytest.mark.bench


def test_backfill_latency_benchmark_compares_concurrency():
    out = run_bench("backfill_latency.py", "--days", "3", "--calls-per-day", "200", "--latency-ms", "5")
    assert "max_concurrency=4 is" in out and "faster than 1" in out
