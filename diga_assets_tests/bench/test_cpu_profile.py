"""bench/cpu_profile.py: the summary a profile is read through."""

from __future__ import annotations

import sys

from diga_assets_tests.bench.scripts import BENCH


def test_profile_summary_groups_threads_and_charges_callers(tmp_path):
    sys.path.insert(0, str(BENCH))
    try:
        from cpu_profile import summarize
    finally:
        sys.path.remove(str(BENCH))
    raw = tmp_path / "raw.txt"
    raw.write_text(
        "thread (0x1): diga-day_0;fetch_calls_day (diga_assets/assets/raw/calls.py:120);"
        "to_record_batch (diga_assets/api/records.py:224);array (pyarrow/array.pxi:360) 30\n"
        "thread (0x2): diga-day_1;fetch_calls_day (diga_assets/assets/raw/calls.py:130) 10\n"
        "thread (0x3): diga-calls-2026-11-01;_get_json (diga_assets/api/client.py:446) 50\n"
        "thread (0x4): MainThread 10\n"
    )
    report = summarize(raw, gil=True, rate=100)
    assert "the GIL was held 1.0 s (100 samples at 100/s)" in report
    # The two pool threads are one row, the read-ahead thread another, whatever their day or number.
    assert "0.40 s  40.0%  diga-day\n" in report
    assert "0.50 s  50.0%  diga-calls\n" in report
    # A function is charged with everything it calls; a line only with its own samples.
    assert "0.40 s  40.0%  fetch_calls_day (raw/calls.py)" in report
    assert "0.30 s  30.0%  array (pyarrow/array.pxi:360)" in report
    assert "0.10 s  10.0%  (the interpreter, no Python frame)" in report
