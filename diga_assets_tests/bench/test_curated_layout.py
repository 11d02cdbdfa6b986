"""bench/curated_layout.py end to end at a tiny size, so it cannot rot between real runs. No timing is
asserted (machines are shared and noisy): only that every contender ran and agreed, and that
the table the benchmark exists to print was printed."""

from __future__ import annotations

import re

import pytest

from diga_assets_tests.bench.scripts import run_bench

# make test-fast skips it.
pytestmark = pytest.mark.bench


@pytest.mark.timeout(300)
def test_curated_layout_benchmark_asks_every_layout_every_question():
    out = run_bench("curated_layout.py", "--calls", "20000", "--days", "10")
    assert "by agent, 8k-row groups / as written:" in out and "by created_date, 8k-row groups / as written:" in out
    assert re.search(r"^one agent over the year( +[\d.]+){3}$", out, re.MULTILINE)
