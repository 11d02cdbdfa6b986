"""bench/adhoc.py end to end at a tiny size, so it cannot rot between real runs. No timing is
asserted (machines are shared and noisy): only that every contender ran and agreed, and that
the table the benchmark exists to print was printed."""

from __future__ import annotations

import pytest

from diga_assets_tests.bench.scripts import run_bench

# make test-fast skips it.
pytestmark = pytest.mark.bench


@pytest.mark.timeout(300)
def test_adhoc_benchmark_asks_every_question_three_ways_with_the_same_answers():
    out = run_bench("adhoc.py", "--calls", "20000", "--days", "10")
    for question in ("last 30 days by outcome", "one agent over the year", "the year by status"):
        assert question in out
    assert "views / raw files, sum of best times:" in out and "computed from the raw snapshots / raw files:" in out
