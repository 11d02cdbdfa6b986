"""bench/bucket_reads.py end to end at a tiny size, so it cannot rot between real runs. No timing is
asserted (machines are shared and noisy): only that every contender ran and agreed, and that
the table the benchmark exists to print was printed."""

from __future__ import annotations

import re

import pytest

from diga_assets_tests.bench.scripts import run_bench

# make test-fast skips it.
pytestmark = pytest.mark.bench


@pytest.mark.timeout(300)
def test_bucket_reads_benchmark_reads_the_bucket_through_pyarrows_filesystem():
    out = run_bench("bucket_reads.py", "--calls", "3000", "--days", "3")
    assert "every candidate got the same number of rows for every question" in out
    assert re.search(r"^sum of the four questions +[\d.]+", out, re.MULTILINE)
