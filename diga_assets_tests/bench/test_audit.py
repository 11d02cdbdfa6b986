"""bench/audit.py end to end at a tiny size, so it cannot rot between real runs. No timing is
asserted (machines are shared and noisy): only that the audit asked once per day, and that the
table the benchmark exists to print was printed."""

from __future__ import annotations

import re

import pytest

from diga_assets_tests.bench.scripts import run_bench

# make test-fast skips it.
pytestmark = pytest.mark.bench


def test_audit_benchmark_asks_once_per_day_against_the_floor():
    out = run_bench("audit.py", "--days", "6", "--latency-ms", "2", "--calls-per-day", "10")
    assert "requests per audited day: 1.00" in out
    assert re.search(r"^the audit alone \(audit_call_days\) +6 +[\d.]+ +[\d.]+$", out, re.MULTILINE), out
    assert re.search(r"^call_day_audit materialized +6 +[\d.]+ +[\d.]+$", out, re.MULTILINE), out
