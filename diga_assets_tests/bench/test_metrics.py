"""bench/metrics.py end to end at a tiny size, so it cannot rot between real runs. No timing is
asserted (machines are shared and noisy): only that every contender ran and agreed, and that
the table the benchmark exists to print was printed."""

from __future__ import annotations

import pytest

from diga_assets_tests.bench.scripts import run_bench

# make test-fast skips it.
pytestmark = pytest.mark.bench


@pytest.mark.timeout(300)
def test_metrics_benchmark_agrees_with_pandas_and_times_one_day():
    out = run_bench("metrics.py", "--calls", "3000", "--days", "4")
    assert "pandas / project:" in out and "of which, project: every day: curating" in out
    assert "operations metrics (call_kpis, repeat_callers, call_concurrency) from the curated days:" in out
    assert "last day on a year of history / alone:" in out
    assert "a year's rebuild through dagster / the same functions alone:" in out
