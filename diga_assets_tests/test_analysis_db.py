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
from datetime import UTC, date, datetime
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
from diga_assets.assets.curated import curate_calls
from diga_assets.names import DAILY_METRICS
from diga_assets.settings import Settings
from diga_assets.storage import DigaStorage
from diga_assets_tests.assets.conftest import storage_for
from diga_assets_tests.metric_data import (
    agent,
    call,
    materialize_metrics,
    materialize_timeline,
    outcome_of,
    phone,
    two_proportion_z,
    wilson_interval,
    write_raw_agents,
    write_raw_calls,
    write_raw_phones,
)

# Run against a local data directory and against a bucket (each_storage).
pytestmark = pytest.mark.usefixtures("each_storage")

PROJECT_ROOT = Path(__file__).resolve().parents[1]
LOG = logging.getLogger(__name__)
VIEWS = {"stored_calls", "calls", "phones", "agents", "call_outcome_map", *DAILY_METRICS, "phone_assignment_timeline"}
MACROS = {"wilson_interval", "two_proportion_z", "agent_version_comparison"}


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
    write_raw_agents(
        storage, "2026-11-05", [agent("agent-a", "Recepción", ("v1", 1, None))], datetime(2026, 11, 6, 0, 5, tzinfo=UTC)
    )


def test_the_database_holds_views_only_that_work_from_any_working_directory(tmp_path, monkeypatch):
    write_two_days(tmp_path)
    materialize_metrics(tmp_path, list(DAILY_METRICS), first="2026-11-05", last="2026-11-06", checks=False)
    materialize_timeline(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    with storage_for(tmp_path).store.connect(str(storage_for(tmp_path).analysis_db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM duckdb_tables()").fetchone() == (0,)
        assert {
            name for (name,) in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()
        } == VIEWS
        macros = "SELECT function_name FROM duckdb_functions() WHERE NOT internal AND function_type LIKE '%macro'"
        assert {name for (name,) in con.execute(macros).fetchall()} == MACROS
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
    assert set(refresh_analysis_db(storage.store, DEFAULT_OUTCOME_MAP, log=LOG)) == {
        "calls",
        "stored_calls",
        "phones",
        "agents",
        "call_outcome_map",
        "wilson_interval",
        "two_proportion_z",
    }
    db = storage.analysis_db
    before = (db.stat().st_mtime_ns, db.read_bytes())

    assert refresh_analysis_db(storage.store, DEFAULT_OUTCOME_MAP, log=LOG) == []
    assert (db.stat().st_mtime_ns, db.read_bytes()) == before

    # The first curated day turns calls into a read of the curated days.
    for day, table in curate_calls(storage.store, "UTC", DEFAULT_OUTCOME_MAP, [date(2026, 11, 5)]):
        storage.store.write_table(storage.layout.curated_partition("calls", day.isoformat()), table)
    assert refresh_analysis_db(storage.store, DEFAULT_OUTCOME_MAP, log=LOG) == ["calls"]
    custom = tmp_path / "outcomes.csv"
    shutil.copy(DEFAULT_OUTCOME_MAP, custom)
    assert refresh_analysis_db(storage.store, custom, log=LOG) == ["call_outcome_map"]
    with duckdb.connect(str(db), read_only=True) as con:
        definitions = dict(con.execute("SELECT view_name, sql FROM duckdb_views() WHERE NOT internal").fetchall())
    assert "/curated/calls/day=*/*.parquet" in definitions["calls"] and str(custom) in definitions["call_outcome_map"]

    # A view or a macro an analyst replaced by hand is put back by the next refresh.
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE OR REPLACE VIEW phones AS SELECT 1 AS nothing")
        con.execute("CREATE OR REPLACE MACRO wilson_interval(successes, trials) AS 0")
    assert set(refresh_analysis_db(storage.store, custom, log=LOG)) == {"phones", "wilson_interval"}
    with storage.store.connect(str(db), read_only=True) as con:
        columns = {column for (column,) in con.execute("SELECT name FROM pragma_table_info('phones')").fetchall()}
        assert {"id", "inbound_agent_id"} <= columns and "nothing" not in columns
    assert refresh_analysis_db(storage.store, custom, log=LOG) == []


def test_paths_are_quoted_as_sql_literals(tmp_path):
    storage = DigaStorage(data_dir=str(tmp_path / "Lucía's data; DROP VIEW calls; --"))
    write_raw_calls(storage, "2026-11-05", [call("a", "2026-11-05T09:00:00Z")])

    assert "calls" in refresh_analysis_db(storage.store, DEFAULT_OUTCOME_MAP, log=LOG)

    with storage.store.connect(str(storage.analysis_db), read_only=True) as con:
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


@pytest.mark.local_only("the analyst's plain duckdb session reads local files; a bucket's analyst uses connect()")
def test_a_run_succeeds_while_an_analyst_holds_the_database_open(tmp_path):
    write_two_days(tmp_path)
    storage = storage_for(tmp_path)
    db = storage.analysis_db
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
    assert refresh_analysis_db(storage.store, DEFAULT_OUTCOME_MAP, log=LOG) == ["call_duration_stats"]


def test_the_shipped_outcome_map_follows_the_documented_rules():
    mapping = load_outcome_map(DEFAULT_OUTCOME_MAP)
    assert set(mapping.values()) <= set(OUTCOMES)
    reasons = [None, "hangup", "voicemail_left", "answering_machine_detected", "mailbox_unavailable",
               "ivr_no_answer", "ivr_unreachable", "transferred", "sim_transferred"]  # fmt: skip
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
        resolve_outcome_map(Settings.from_env({"DIGA_OUTCOME_MAP": str(path)}))

    assert str(raised.value).startswith(f"DIGA_OUTCOME_MAP={path} ")
    assert expected in str(raised.value)


def test_a_missing_outcome_map_is_refused_naming_the_variable(tmp_path):
    with pytest.raises(OutcomeMapError, match=r"DIGA_OUTCOME_MAP=.*nope\.csv: cannot read the file"):
        resolve_outcome_map(Settings.from_env({"DIGA_OUTCOME_MAP": str(tmp_path / "nope.csv")}))


def test_the_project_dagster_yaml_limits_the_api_pool_and_frees_slots_of_dead_runs(tmp_path):
    # A copy, so loading the instance does not create storage folders in the project's DAGSTER_HOME.
    shutil.copy(PROJECT_ROOT / ".dagster_home" / "dagster.yaml", tmp_path / "dagster.yaml")

    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
        assert instance.run_monitoring_enabled
        assert instance.run_monitoring_settings["free_slots_after_run_end_seconds"] > 0


@pytest.mark.one_storage("a view's join over the snapshots; test_the_database_holds_views_only... reads a bucket")
def test_agents_are_named_by_their_latest_observation_everywhere(tmp_path):
    storage = storage_for(tmp_path)
    first, second = datetime(2026, 11, 6, 0, 5, tzinfo=UTC), datetime(2026, 11, 7, 0, 5, tzinfo=UTC)
    write_raw_agents(
        storage,
        "2026-11-05",
        [agent("agent-a", "Recepción", ("a-v1", 1, None)), agent("agent-b", None), agent("agent-c", "Citas")],
        first,
    )
    write_raw_agents(
        storage,
        "2026-11-06",
        [
            agent("agent-a", "Recepción 24h", ("a-v1", 1, None), ("a-v2", 2, "horario de verano")),
            agent("agent-b", None, ("b-v1", 1, "primera")),
            agent("agent-c", None),
        ],
        second,
    )
    write_raw_calls(storage, "2026-11-05", [call("x", "2026-11-05T09:00:00Z", version="a-v1")])
    write_raw_calls(storage, "2026-11-06", [call("y", "2026-11-06T09:00:00Z", version="a-v2")])
    materialize_metrics(tmp_path, list(DAILY_METRICS), first="2026-11-05", last="2026-11-06", checks=False)

    with storage.store.connect(str(storage.analysis_db), read_only=True) as con:
        agents = con.execute(
            "SELECT agent_id, agent_name, version_id, version_name, version_number FROM agents ORDER BY ALL"
        ).fetchall()
        named_days = con.execute("SELECT day::VARCHAR, agent_name FROM call_outcome_rates ORDER BY day").fetchall()
        versions = con.execute(
            "SELECT agent_version_id, version_name, version_number FROM agent_version_outcomes ORDER BY day"
        ).fetchall()
    # The latest name on every row (a rename shows everywhere; a later NULL does not erase a name),
    # each version once, and an agent's version-less row only until a version of it is observed.
    assert agents == [
        ("agent-a", "Recepción 24h", "a-v1", None, 1),
        ("agent-a", "Recepción 24h", "a-v2", "horario de verano", 2),
        ("agent-b", None, "b-v1", "primera", 1),
        ("agent-c", "Citas", None, None, None),
    ]
    assert named_days == [("2026-11-05", "Recepción 24h"), ("2026-11-06", "Recepción 24h")]
    assert versions == [("a-v1", None, 1), ("a-v2", "horario de verano", 2)]


def test_before_any_agents_snapshot_the_metric_views_work_with_names_unknown(tmp_path):
    write_raw_calls(storage_for(tmp_path), "2026-11-05", [call("x", "2026-11-05T09:00:00Z")])
    materialize_metrics(tmp_path, list(DAILY_METRICS), first="2026-11-05", checks=False)

    with storage_for(tmp_path).store.connect(str(storage_for(tmp_path).analysis_db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM agents").fetchone() == (0,)
        assert con.execute("SELECT agent_id, agent_name FROM call_outcome_rates").fetchall() == [("agent-a", None)]


@pytest.mark.one_storage("a view's arithmetic; test_the_database_holds_views_only... reads a bucket")
def test_agent_version_comparison_equals_an_independent_computation(tmp_path):
    storage = storage_for(tmp_path)
    # agent-a: v1 completes 18 of 20 ended calls over two days, v2 8 of 20: a real difference.
    # agent-b: v1 10 of 20, v2 11 of 20: noise.
    plan = {
        ("agent-a", "a-v1", "2026-11-05"): (9, 10),
        ("agent-a", "a-v1", "2026-11-06"): (9, 10),
        ("agent-a", "a-v2", "2026-11-06"): (8, 20),
        ("agent-b", "b-v1", "2026-11-05"): (10, 20),
        ("agent-b", "b-v2", "2026-11-06"): (11, 20),
    }
    by_day: dict[str, list[dict]] = {}
    for (agent_id, version, day), (completed, ended) in plan.items():
        for i in range(ended):
            by_day.setdefault(day, []).append(
                call(
                    f"{version}-{day}-{i}",
                    f"{day}T09:{i:02d}:00Z",
                    status="completed" if i < completed else "failed",
                    end_reason=None,
                    agent_id=agent_id,
                    version=version,
                )
            )
    for day, records in by_day.items():
        write_raw_calls(storage, day, records)
    write_raw_agents(
        storage,
        "2026-11-06",
        [
            agent("agent-a", "Recepción", ("a-v1", 1, None), ("a-v2", 2, None)),
            agent("agent-b", "Citas", ("b-v1", 1, None), ("b-v2", 2, None)),
        ],
        datetime(2026, 11, 7, 0, 5, tzinfo=UTC),
    )
    materialize_metrics(tmp_path, list(DAILY_METRICS), first="2026-11-05", last="2026-11-06", checks=False)

    with storage.store.connect(str(storage.analysis_db), read_only=True) as con:
        relation = con.execute(
            "SELECT * FROM agent_version_comparison(DATE '2026-11-05', DATE '2026-11-06') "
            "ORDER BY agent_id, version_number"
        )
        rows = [dict(zip([d[0] for d in relation.description], row, strict=True)) for row in relation.fetchall()]

    totals = {
        ("agent-a", "a-v1"): (18, 20),
        ("agent-a", "a-v2"): (8, 20),
        ("agent-b", "b-v1"): (10, 20),
        ("agent-b", "b-v2"): (11, 20),
    }
    assert [(r["agent_id"], r["agent_version_id"]) for r in rows] == list(totals)
    for row in rows:
        completed, ended = totals[(row["agent_id"], row["agent_version_id"])]
        low, high = wilson_interval(completed, ended)
        assert (row["completed_calls"], row["ended_calls"]) == (completed, ended)
        assert row["completion_rate"] == pytest.approx(completed / ended)
        assert (row["completion_rate_low"], row["completion_rate_high"]) == (pytest.approx(low), pytest.approx(high))
    first_a, second_a, first_b, second_b = rows
    assert first_a["previous_version_id"] is None and first_a["differs_from_previous"] is False
    assert second_a["previous_version_id"] == "a-v1"
    assert second_a["z_vs_previous"] == pytest.approx(two_proportion_z(18, 20, 8, 20))
    assert second_a["z_vs_previous"] < -1.96 and second_a["differs_from_previous"] is True
    assert second_b["z_vs_previous"] == pytest.approx(two_proportion_z(10, 20, 11, 20))
    assert second_b["differs_from_previous"] is False and first_b["agent_name"] == "Citas"
