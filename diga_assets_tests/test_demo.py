"""The demo runs the whole pipeline against its own simulator and leaves everything it promises,
and nothing it must not: the API key it used is in none of its files or output.

The demo takes tens of seconds, so it runs once per test session (the ``demo_run`` fixture,
shared with the UI tests) for every test here.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import boto3
import dagster as dg
import duckdb
import pyarrow.parquet as pq
import pytest

import diga_assets.demo
from diga_assets.demo import PHONE_SNAPSHOTS, run_demo
from diga_assets.names import CALL_CONVERSATION_STATS, DAILY_METRICS, PHONE_ASSIGNMENT_TIMELINE
from diga_assets_tests.demo_data import DemoRun, captured_output
from diga_assets_tests.reliability.leaks import decoded_bytes, files_holding

# The whole demo, locally and into a bucket: make test-fast skips it.
pytestmark = pytest.mark.e2e

VIEWS = (
    "calls",
    "call_messages",
    "phones",
    "agents",
    "call_outcome_map",
    *DAILY_METRICS,
    CALL_CONVERSATION_STATS,
    PHONE_ASSIGNMENT_TIMELINE,
)


def test_the_demo_leaves_parquet_a_full_database_recorded_runs_and_a_summary(demo_run: DemoRun):
    tmp_path, result, printed = demo_run.root, demo_run.result, demo_run.printed

    days = [(result.first_day + timedelta(days=n)).isoformat() for n in range(3)]
    assert (result.last_day - result.first_day).days == 2
    for day in days:
        assert (tmp_path / f"data/raw/calls/date={day}/part-0.parquet").exists()
        assert (tmp_path / f"data/raw/messages/date={day}/part-0.parquet").exists()
        for metric in (*DAILY_METRICS, CALL_CONVERSATION_STATS):
            assert (tmp_path / f"data/metrics/{metric}/day={day}/part-0.parquet").exists()
    assert len(list((tmp_path / "data/raw/phones").glob("date=*/part-0.parquet"))) == PHONE_SNAPSHOTS
    report = (tmp_path / "data/reports/call_report.html").read_text()
    assert report.count("<svg") == 7 and '<section id="kpis">' in report

    with duckdb.connect(str(tmp_path / "data/diga.duckdb"), read_only=True) as con:
        counts = {view: con.sql(f"SELECT count(*) FROM {view}").fetchall()[0][0] for view in VIEWS}
        calls_per_day = dict(con.sql("SELECT CAST(day AS VARCHAR), count(*) FROM calls GROUP BY ALL").fetchall())
        agents = con.sql("SELECT DISTINCT agent_id, agent_name FROM call_outcome_rates").fetchall()
    assert all(counts.values()), counts
    assert sorted(calls_per_day) == days

    # The summary's per-day figures are the database's, and it says where things are.
    assert [(d.isoformat(), n) for d, n, _, _ in result.headlines] == sorted(calls_per_day.items())
    summary = printed[-1]
    for day in days:
        assert re.search(rf"^{day} +{calls_per_day[day]} ", summary, re.MULTILINE)
    assert str(tmp_path / "data/diga.duckdb") in summary and "diga-assets ui" in summary
    # Each agent by the name the agents list gives it (an agent saved without a name by the first
    # characters of its id).
    assert any(name for _, name in agents) and any(name is None for _, name in agents)
    for agent_id, name in agents:
        shown = name or (agent_id[:8] if agent_id else "(no agent)")
        assert re.search(rf"^{re.escape(shown)} +\d+ ", summary, re.MULTILINE), shown
    # The transcripts' lines: per agent, the calls with one, as the conversation metric counts them.
    assert result.conversations and sum(n for _, n, *_ in result.conversations) > 0
    for agent, transcripts, *_ in result.conversations:
        assert re.search(rf"^{re.escape(agent)} +{transcripts} ", summary.split("transcripts", 1)[1], re.MULTILINE)
    # The demo maps the simulator's own end-reason codes (demo_outcome_map), so its rates count
    # transfers, unanswered calls and errors as such, and nothing is left unmapped.
    assert result.unmapped_end_reasons == [] and "does not name" not in summary
    with duckdb.connect(str(tmp_path / "data/diga.duckdb"), read_only=True) as con:
        outcomes = dict(
            con.sql(
                "SELECT end_reason, any_value(outcome) FROM call_end_reasons WHERE end_reason LIKE 'sim_%' GROUP BY ALL"
            ).fetchall()
        )
        [totals] = con.sql("SELECT sum(transferred), sum(failed), sum(no_answer) FROM call_outcome_rates").fetchall()
    assert outcomes["sim_transferred"] == "transferred" and outcomes["sim_error"] == "failed"
    assert all(totals), totals

    instance = dg.DagsterInstance.from_config(str(tmp_path / "home"))
    recorded = instance.fetch_materializations(dg.AssetKey("diga_calls"), limit=10).records
    assert sorted(r.partition_key for r in recorded) == days
    assert instance.fetch_materializations(dg.AssetKey(PHONE_ASSIGNMENT_TIMELINE), limit=1).records


def test_the_demo_leaves_its_api_key_in_no_file_and_no_output(demo_run: DemoRun):
    home, data = demo_run.root / "home", demo_run.root / "data"
    # The search reaches where a key would hide: the job snapshots, zlib-compressed in runs.db,
    # hold each resource's config, where the key's slot must hold the variable's name ...
    runs_db = home / "history" / "runs.db"
    key_slot = b'\\"api_key\\": {\\"env\\": \\"DIGA_API_KEY\\"}'  # JSON inside JSON: escaped quotes
    assert key_slot not in runs_db.read_bytes() and key_slot in decoded_bytes(runs_db)
    # ... and the zstd-compressed Parquet pages (a stored call id is found in its file).
    day_file = data / f"raw/calls/date={demo_run.result.first_day}/part-0.parquet"
    call_id = pq.read_table(day_file, columns=["id"]).column("id")[0].as_py()
    assert day_file in files_holding([data], [call_id])[call_id]
    assert demo_run.output.stat().st_size > 0, "the run's console output was captured"
    compute_logs = list(home.glob("storage/*/compute_logs/*"))
    assert compute_logs, "the instance captured compute logs, which are searched too"

    key = demo_run.api_key
    assert files_holding([home, data, demo_run.output], [key]) == {}
    assert not any(key in line for line in demo_run.printed)
    assert os.environ.get("DIGA_API_KEY") != key, "the demo put the variable back as it was"


def test_the_demo_into_a_bucket_stores_every_partition_there_and_records_no_aws_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """``demo --s3``: the same pipeline into a bucket on a loopback S3-compatible server, whose
    made-up credentials reach none of the demo's files or output and leave with the demo."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for name in ("DIGA_DATA_DIR", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    stored: list[str] = []
    secret: list[str] = []
    real_bucket = diga_assets.demo.loopback_bucket

    @contextlib.contextmanager
    def listed_bucket(echo: object) -> Iterator[str]:
        # What the bucket holds when the demo is done with it, read before its server stops.
        with real_bucket(echo) as root:  # type: ignore[arg-type]
            yield root
            secret.append(os.environ["AWS_SECRET_ACCESS_KEY"])
            bucket = boto3.session.Session().client("s3")
            pages = bucket.get_paginator("list_objects_v2").paginate(Bucket=diga_assets.demo.DEMO_BUCKET)
            stored.extend(
                f"s3://{diga_assets.demo.DEMO_BUCKET}/{o['Key']}" for p in pages for o in p.get("Contents", [])
            )

    monkeypatch.setattr(diga_assets.demo, "loopback_bucket", listed_bucket)
    printed: list[str] = []
    with captured_output(tmp_path / "output.log"):
        result = run_demo(2, s3=True, dagster_home=tmp_path / "home", echo=printed.append)

    root = f"s3://{diga_assets.demo.DEMO_BUCKET}/demo"
    assert result.data_dir == root
    days = [(result.first_day + timedelta(days=n)).isoformat() for n in range(2)]
    expected = [f"{root}/raw/calls/date={day}/part-0.parquet" for day in days]
    expected += [f"{root}/metrics/{metric}/day={day}/part-0.parquet" for metric in DAILY_METRICS for day in days]
    expected += [result.report]
    assert set(expected) <= set(stored)
    assert not [location for location in stored if location.endswith(".tmp")]
    assert [day.isoformat() for day, calls, _, _ in result.headlines if calls] == days
    assert result.analysis_db.is_relative_to(tmp_path / "cache"), "a bucket's views file is a local cache"
    assert root in printed[-1] and "DIGA_DATA_DIR=s3://" in printed[-1]

    [aws_secret] = secret
    assert files_holding([tmp_path], [aws_secret]) == {}
    assert not any(aws_secret in line for line in printed)
    assert "AWS_SECRET_ACCESS_KEY" not in os.environ, "the demo put the AWS variables back as they were"
