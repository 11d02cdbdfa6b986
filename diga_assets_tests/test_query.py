"""An analyst's way in: ``diga_assets.connect()`` and ``diga-assets query`` answer from the views,
from a fresh shell with only the environment variables set, for a local data directory and for
a bucket, rebuilding the views file when it is missing."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

import diga_assets
from diga_assets.names import DAILY_METRICS
from diga_assets_tests.assets.conftest import storage_for
from diga_assets_tests.metric_data import agent, call, materialize_metrics, write_raw_agents, write_raw_calls

pytestmark = pytest.mark.usefixtures("each_storage")

DAY = "2026-11-05"
OBSERVED = datetime(2026, 11, 6, 0, 5, tzinfo=UTC)
DIGA_ASSETS = Path(sys.executable).with_name("diga-assets")


def store_a_day(tmp_path: Path) -> None:
    storage = storage_for(tmp_path)
    write_raw_calls(
        storage,
        DAY,
        [call("a", f"{DAY}T09:00:00Z"), call("b", f"{DAY}T10:00:00Z", status="failed", end_reason="sim_error")],
    )
    write_raw_agents(storage, DAY, [agent("agent-a", "Recepción", ("agent-a-v1", 1, None))], OBSERVED)
    materialize_metrics(tmp_path, list(DAILY_METRICS), first=DAY, checks=False)
    # An analyst on another machine has no views file yet: the session builds it.
    storage.analysis_db.unlink()


def _observed():
    from datetime import UTC, datetime

    return datetime(2026, 11, 6, 0, 5, tzinfo=UTC)


def fresh_shell_env(tmp_path: Path) -> dict[str, str]:
    """What a new shell has: PATH, HOME, and the project's and AWS's variables, nothing else."""
    keep = ("PATH", "HOME", "XDG_CACHE_HOME", "LANG")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    env.update({name: value for name, value in os.environ.items() if name.startswith("AWS_")})
    env["DIGA_DATA_DIR"] = storage_for(tmp_path).root
    return env


def query(tmp_path: Path, sql: str, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(DIGA_ASSETS), "query", *options, sql],
        env=fresh_shell_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_query_answers_from_a_fresh_shell_and_builds_the_views_file(tmp_path):
    store_a_day(tmp_path)

    result = query(tmp_path, "SELECT count(*) AS calls FROM calls")

    assert result.returncode == 0, result.stderr
    assert re.search(r"│\s*calls\s*│", result.stdout) and re.search(r"│\s*2\s*│", result.stdout), result.stdout
    assert storage_for(tmp_path).analysis_db.exists()


# The query command as its entry point runs it, then the Dagster modules it imported.
LOADED_DAGSTER = """
import sys
from diga_assets.cli import main
main(["query", "SELECT count(*) AS calls FROM calls"], standalone_mode=False)
print(sorted(name for name in sys.modules if name.split(".")[0] == "dagster"))
"""


def test_a_query_never_imports_dagster(tmp_path):
    """A question costs DuckDB's time, not Dagster's import (a second of start-up per query)."""
    store_a_day(tmp_path)

    result = subprocess.run(
        [sys.executable, "-c", LOADED_DAGSTER],
        env=fresh_shell_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[]", result.stdout


@pytest.mark.one_storage("output formats of the same rows; test_query_answers_from_a_fresh_shell... reads a bucket")
def test_query_prints_csv_and_json(tmp_path):
    store_a_day(tmp_path)
    sql = "SELECT agent_name, sum(total_calls) AS calls FROM call_outcome_rates GROUP BY ALL"

    as_csv = query(tmp_path, sql, "--format", "csv")
    as_json = query(tmp_path, sql, "--format", "json")

    assert as_csv.returncode == 0 and as_json.returncode == 0, as_csv.stderr + as_json.stderr
    assert list(csv.reader(io.StringIO(as_csv.stdout))) == [["agent_name", "calls"], ["Recepción", "2"]]
    assert json.loads(as_json.stdout) == [{"agent_name": "Recepción", "calls": 2}]


@pytest.mark.one_storage("DuckDB's error for bad SQL; test_query_answers_from_a_fresh_shell... reads a bucket")
def test_a_bad_query_says_what_is_wrong_and_fails(tmp_path):
    store_a_day(tmp_path)

    result = query(tmp_path, "SELECT * FROM no_such_view")

    assert result.returncode == 1
    assert "no_such_view" in result.stderr and "Traceback" not in result.stderr


def test_connect_gives_a_read_only_session_with_every_view(tmp_path, monkeypatch):
    store_a_day(tmp_path)
    monkeypatch.setenv("DIGA_DATA_DIR", storage_for(tmp_path).root)

    with diga_assets.connect() as con:
        views = {name for (name,) in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
        outcomes = con.execute("SELECT id, outcome FROM calls ORDER BY id").fetchall()
        with pytest.raises(duckdb.Error, match="read-only"):
            con.execute("CREATE TABLE scratch AS SELECT 1")

    assert {"calls", "phones", "agents", "call_outcome_map", *DAILY_METRICS} - {"phones"} <= views
    assert outcomes == [("a", "completed"), ("b", "failed")]
