"""bench/transcripts.py end to end at a tiny size, so it cannot rot between real runs. No timing is
asserted (machines are shared and noisy): only that every contender ran and agreed, and that
the table the benchmark exists to print was printed."""

from __future__ import annotations

import re

import pytest

from diga_assets_tests.bench.scripts import run_bench

# make test-fast skips it.
pytestmark = pytest.mark.bench


def test_transcripts_benchmark_counts_requests_and_messages_against_the_latency_floor():
    out = run_bench("transcripts.py", "--days", "2", "--calls-per-day", "100", "--latency-ms", "2")
    requests, messages = (
        int(n.replace(",", "")) for n in re.search(r"requests ([\d,]+) .* messages stored ([\d,]+)", out).groups()
    )
    assert requests > 100 and messages > requests
    assert re.search(r"the fetch step \(run_seconds\) +[\d.]+ +[\d.]+", out)
    assert re.search(r"µs per message", out)
