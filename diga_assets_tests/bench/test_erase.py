"""bench/erase.py end to end at a tiny size, so it cannot rot between real runs. No timing is
asserted (machines are shared and noisy): only that one caller was erased from every day, and
that the table the benchmark exists to print was printed."""

from __future__ import annotations

import re

import pytest

from diga_assets_tests.bench.scripts import run_bench

# make test-fast skips it.
pytestmark = pytest.mark.bench


def test_erase_benchmark_erases_one_caller_from_every_day_against_the_curation():
    out = run_bench("erase.py", "--calls", "6000", "--days", "4", "--callers", "100")
    assert re.search(r"^erase one caller on 4 of 4 days, \d+ calls removed$", out, re.MULTILINE), out
    assert re.search(r"^erasure in all +[\d.]+ +[\d.]+$", out, re.MULTILINE), out
