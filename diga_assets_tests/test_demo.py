"""The demo runs the whole pipeline against its own simulator and leaves everything it promises."""

from __future__ import annotations

import re
from datetime import timedelta

import dagster as dg
import duckdb

from diga_assets.analysis_db import DAILY_METRICS, PHONE_ASSIGNMENT_TIMELINE
from diga_assets.demo import PHONE_SNAPSHOTS, run_demo

VIEWS = ("calls", "phones", "call_outcome_map", *DAILY_METRICS, PHONE_ASSIGNMENT_TIMELINE)


def test_the_demo_leaves_parquet_a_full_database_recorded_runs_and_a_summary(tmp_path, monkeypatch):
    monkeypatch.delenv("DIGA_DATA_DIR", raising=False)
    printed: list[str] = []

    result = run_demo(3, data_dir=tmp_path / "data", dagster_home=tmp_path / "home", echo=printed.append)

    days = [(result.first_day + timedelta(days=n)).isoformat() for n in range(3)]
    assert (result.last_day - result.first_day).days == 2
    for day in days:
        assert (tmp_path / f"data/raw/calls/date={day}/part-0.parquet").exists()
        for metric in DAILY_METRICS:
            assert (tmp_path / f"data/metrics/{metric}/day={day}/part-0.parquet").exists()
    assert len(list((tmp_path / "data/raw/phones").glob("date=*/part-0.parquet"))) == PHONE_SNAPSHOTS
    assert (tmp_path / "data/reports/call_report.html").read_text().count("<svg") == 5

    with duckdb.connect(str(tmp_path / "data/diga.duckdb"), read_only=True) as con:
        counts = {view: con.sql(f"SELECT count(*) FROM {view}").fetchall()[0][0] for view in VIEWS}
        calls_per_day = dict(con.sql("SELECT CAST(day AS VARCHAR), count(*) FROM calls GROUP BY ALL").fetchall())
    assert all(counts.values()), counts
    assert sorted(calls_per_day) == days

    # The summary's per-day figures are the database's, and it says where things are.
    assert [(d.isoformat(), n) for d, n, _, _ in result.headlines] == sorted(calls_per_day.items())
    summary = printed[-1]
    for day in days:
        assert re.search(rf"^{day} +{calls_per_day[day]} ", summary, re.MULTILINE)
    assert str(tmp_path / "data/diga.duckdb") in summary and "diga-assets ui" in summary

    instance = dg.DagsterInstance.from_config(str(tmp_path / "home"))
    recorded = instance.fetch_materializations(dg.AssetKey("diga_calls"), limit=10).records
    assert sorted(r.partition_key for r in recorded) == days
    assert instance.fetch_materializations(dg.AssetKey(PHONE_ASSIGNMENT_TIMELINE), limit=1).records
