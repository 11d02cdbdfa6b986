"""The analysis database and the settings that keep runs and analysts out of each other's way:

- ``diga.duckdb`` holds views only (calls, phones, call_outcome_map, one per metric asset), with
  absolute paths that work from another working directory (quoted as SQL literals, whatever the
  folder is called), and the ``calls`` view is the latest version of each call with its outcome;
- views are rewritten only when missing or changed (a second refresh writes nothing; a new time
  zone or outcome map replaces just the view it shapes);
- an analyst's read-only session, held open by another process while a run materializes a
  metric: both succeed, the run warns naming the file, and the views catch up on a later run;
- the outcome map: the shipped CSV follows the documented rules, and a bad ``DIGA_OUTCOME_MAP`` is
  refused naming the variable and the line;
- the project's ``dagster.yaml`` loads, limits the ``diga_api`` pool and frees slots of dead runs.
"""

import logging
import shutil
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from diga_assets.analysis.outcome_map import (
    DEFAULT_OUTCOME_MAP,
    OUTCOMES,
    OutcomeMapError,
    load_outcome_map,
    resolve_outcome_map,
)
from diga_assets.analysis.views import refresh_analysis_db
from diga_assets.names import DAILY_METRICS
from diga_assets.storage import DigaStorage
from diga_assets_tests.assets.conftest import storage_for
from diga_assets_tests.metric_data import (
    call,
    materialize_metrics,
    materialize_timeline,
    outcome_of,
    phone,
    write_raw_calls,
    write_raw_phones,
)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
LOG = logging.getLogger(__name__)
VIEWS = {"calls", "phones", "call_outcome_map", *DAILY_METRICS, "phone_assignment_timeline"}


def write_two_days(tmp_path: Path) -> None:
    storage = storage_for(tmp_path)
    write_raw_calls(
        storage,
        "2026-11-05",
        [
            call("a", "2026-11-05T09:00:00Z", end_reason="voicemail_left", duration=20),
            call("b", "2026-11-05T10:00:00Z", status="failed", end_reason="error", duration=None),
        ],
    )
    write_raw_calls(storage, "2026-11-06", [call("c", "2026-11-06T09:00:00Z", agent_id=None)])
    write_raw_phones(
        storage, "2026-11-05", [phone("p1", "assigned", inbound="agent-a")], datetime(2026, 11, 6, 0, 5, tzinfo=UTC)
    )


def test_the_database_holds_views_only_that_work_from_any_working_directory(tmp_path, monkeypatch):
    write_two_days(tmp_path)
    materialize_metrics(tmp_path, list(DAILY_METRICS), first="2026-11-05", last="2026-11-06", checks=False)
    materialize_timeline(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    with duckdb.connect(str(storage_for(tmp_path).layout.analysis_db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM duckdb_tables()").fetchone() == (0,)
        assert {
            name for (name,) in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()
        } == VIEWS
        for name, sql in con.execute("SELECT view_name, sql FROM duckdb_views() WHERE NOT internal").fetchall():
            root = DEFAULT_OUTCOME_MAP if name == "call_outcome_map" else storage_for(tmp_path).root
            assert f"'{root}" in sql, (name, sql)
        assert con.execute("SELECT id, day::VARCHAR, outcome FROM calls ORDER BY id").fetchall() == [
            ("a", "2026-11-05", "voicemail"),
            ("b", "2026-11-05", "failed"),
            ("c", "2026-11-06", "completed"),
        ]
        assert con.execute("SELECT count(*) FROM phones").fetchone() == (1,)
        assert con.execute("SELECT outcome FROM call_outcome_map WHERE status = 'in_queue'").fetchone() == (
            "unfinished",
        )
        assert con.execute(
            "SELECT day::VARCHAR, sum(total_calls) FROM call_outcome_rates GROUP BY 1 ORDER BY 1"
        ).fetchall() == [
            ("2026-11-05", 2),
            ("2026-11-06", 1),
        ]
        assert con.execute("SELECT count(*) FROM call_duration_stats").fetchone() == (2,)
        assert con.execute("SELECT agent_id FROM agent_version_outcomes WHERE day = '2026-11-06'").fetchall() == [
            (None,)
        ]
        assert con.execute("SELECT phone_id, valid_to FROM phone_assignment_timeline").fetchall() == [("p1", None)]


def test_views_are_rewritten_only_when_missing_or_changed(tmp_path):
    write_two_days(tmp_path)
    storage = storage_for(tmp_path)
    assert set(refresh_analysis_db(storage.layout, "UTC", DEFAULT_OUTCOME_MAP, log=LOG)) == {
        "calls",
        "phones",
        "call_outcome_map",
    }
    db = storage.layout.analysis_db
    before = (db.stat().st_mtime_ns, db.read_bytes())

    assert refresh_analysis_db(storage.layout, "UTC", DEFAULT_OUTCOME_MAP, log=LOG) == []
    assert (db.stat().st_mtime_ns, db.read_bytes()) == before

    assert refresh_analysis_db(storage.layout, "Europe/Madrid", DEFAULT_OUTCOME_MAP, log=LOG) == ["calls"]
    custom = tmp_path / "outcomes.csv"
    shutil.copy(DEFAULT_OUTCOME_MAP, custom)
    assert refresh_analysis_db(storage.layout, "Europe/Madrid", custom, log=LOG) == ["call_outcome_map"]
    with duckdb.connect(str(db), read_only=True) as con:
        assert "Europe/Madrid" in con.execute("SELECT sql FROM duckdb_views() WHERE view_name = 'calls'").fetchone()[0]


def test_paths_are_quoted_as_sql_literals(tmp_path):
    storage = DigaStorage(data_dir=str(tmp_path / "Lucía's data; DROP VIEW calls; --"))
    write_raw_calls(storage, "2026-11-05", [call("a", "2026-11-05T09:00:00Z")])

    assert "calls" in refresh_analysis_db(storage.layout, "UTC", DEFAULT_OUTCOME_MAP, log=LOG)

    with duckdb.connect(str(storage.layout.analysis_db), read_only=True) as con:
        assert con.execute("SELECT id, outcome FROM calls").fetchall() == [("a", "completed")]


ANALYST = textwrap.dedent(
    """
    import sys, duckdb
    con = duckdb.connect(sys.argv[1], read_only=True)
    print(con.execute("SELECT count(DISTINCT day) FROM call_outcome_rates").fetchone()[0], flush=True)
    sys.stdin.readline()  # the run happens now
    print(con.execute("SELECT count(DISTINCT day) FROM call_outcome_rates").fetchone()[0], flush=True)
    print(con.execute("SELECT count(*) FROM calls").fetchone()[0], flush=True)
    """
)


def test_a_run_succeeds_while_an_analyst_holds_the_database_open(tmp_path):
    write_two_days(tmp_path)
    storage = storage_for(tmp_path)
    db = storage.layout.analysis_db
    materialize_metrics(tmp_path, ["call_outcome_rates"], first="2026-11-05", checks=False)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # DuckDB's lock is per process: the analyst's session runs in a process of its own, elsewhere.
    analyst = subprocess.Popen(
        [sys.executable, "-c", ANALYST, str(db)],
        cwd=elsewhere,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert analyst.stdout.readline().strip() == "1"
        instance = dg.DagsterInstance.ephemeral()
        # call_duration_stats has no view yet, so this run needs to write to the held file.
        result = materialize_metrics(
            tmp_path, ["call_outcome_rates", "call_duration_stats"], first="2026-11-06", checks=False, instance=instance
        )
        out, err = analyst.communicate("go\n", timeout=30)
    finally:
        if analyst.poll() is None:
            analyst.kill()

    assert result.success
    assert analyst.returncode == 0, err
    # The analyst's open session sees the day written meanwhile and the calls, from another directory.
    assert out.split() == ["2", "3"]
    warnings = [log.user_message for log in instance.all_logs(result.run_id) if log.level == logging.WARNING]
    assert any(str(db) in message and "held by another process" in message for message in warnings), warnings
    # Once the session is closed, the next refresh adds the view the run could not.
    assert refresh_analysis_db(storage.layout, "UTC", DEFAULT_OUTCOME_MAP, log=LOG) == ["call_duration_stats"]


def test_the_shipped_outcome_map_follows_the_issue():
    mapping = load_outcome_map(DEFAULT_OUTCOME_MAP)
    assert set(mapping.values()) <= set(OUTCOMES)
    reasons = [None, "hangup", "voicemail_left", "answering_machine_detected", "mailbox_unavailable",
               "ivr_no_answer", "ivr_unreachable", "transferred"]  # fmt: skip
    statuses = ["completed", "failed", "transferred", "no_answer", "dialing", "in_queue", "in_progress", "voicemail"]
    for status in statuses:
        for reason in reasons:
            mapped = mapping.get((status, reason), mapping.get((status, None), "other"))
            assert mapped == outcome_of(status, reason), (status, reason)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("status,reason,outcome\ncompleted,,completed\n", "line 1: the header must be"),
        ("status,end_reason,outcome\ncompleted,,completed\nfailed,,broken\n", "line 3: outcome 'broken' is not one of"),
        (
            "status,end_reason,outcome\ncompleted,x,voicemail\ncompleted,x,no_answer\n",
            "line 3: status 'completed' with",
        ),
        ("status,end_reason,outcome\ncompleted,,completed,extra\n", "line 2: expected 3 fields"),
        ("status,end_reason,outcome\n,hangup,completed\n", "line 2: status is empty"),
        ("status,end_reason,outcome\ncompleted, hangup,completed\n", "line 2: end_reason ' hangup' has leading"),
    ],
)
def test_a_bad_outcome_map_is_refused_naming_the_variable_and_the_line(tmp_path, content, expected):
    path = tmp_path / "outcomes.csv"
    path.write_text(content)

    with pytest.raises(OutcomeMapError) as raised:
        resolve_outcome_map({"DIGA_OUTCOME_MAP": str(path)})

    assert str(raised.value).startswith(f"DIGA_OUTCOME_MAP={path} ")
    assert expected in str(raised.value)


def test_a_missing_outcome_map_is_refused_naming_the_variable(tmp_path):
    with pytest.raises(OutcomeMapError, match=r"DIGA_OUTCOME_MAP=.*nope\.csv: cannot read the file"):
        resolve_outcome_map({"DIGA_OUTCOME_MAP": str(tmp_path / "nope.csv")})


def test_the_project_dagster_yaml_limits_the_api_pool_and_frees_slots_of_dead_runs(tmp_path):
    # A copy, so loading the instance does not create storage folders in the project's DAGSTER_HOME.
    shutil.copy(PROJECT_ROOT / ".dagster_home" / "dagster.yaml", tmp_path / "dagster.yaml")

    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
        assert instance.run_monitoring_enabled
        assert instance.run_monitoring_settings["free_slots_after_run_end_seconds"] > 0
