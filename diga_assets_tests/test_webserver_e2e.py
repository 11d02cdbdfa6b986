"""End to end through the UI's own API: `dagster dev` (webserver and daemon) serves the project on
loopback against the Diga simulator, a backfill of three days is launched through GraphQL the way
the UI launches it, and the days land in Parquet and in the DuckDB analysis database.

What the test promises:

- the project's workspace loads in a real `dagster dev` with the project's instance settings;
- a backfill of `diga_calls` and the three daily metrics over a range of days is one run
  (every asset in it uses ``BackfillPolicy.single_run``) and completes successfully;
- each day's raw file holds exactly the calls the API has for that day, and each day has a file
  per daily metric;
- ``diga.duckdb`` answers for exactly those days, and every daily metric view has rows;
- the API key never shows up in what the webserver, the daemon or the run print, nor in what the
  instance stores (runs, events, captured step logs).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import duckdb
import pytest
import requests

from diga_assets.names import CALLS_JOB_ASSETS, DAILY_METRICS
from diga_assets.simulator import DigaSimulator
from diga_assets_tests.assets.test_raw import expected_ids, stored_ids
from diga_assets_tests.conftest import SIM_KEY
from diga_assets_tests.webserver import free_loopback_port, graphql

# dagster dev, a backfill through GraphQL: make test-fast skips it.
pytestmark = pytest.mark.e2e

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DAYS = ("2026-11-16", "2026-11-17", "2026-11-18")  # whole days inside the simulator's five
BACKFILL_ASSETS = CALLS_JOB_ASSETS

# Bounded waits; the backfill daemon ticks every ~30 s, so a backfill takes two or three ticks.
SERVER_START_TIMEOUT_S = 120.0
BACKFILL_TIMEOUT_S = 240.0
RUNS_FINISH_TIMEOUT_S = 60.0
SHUTDOWN_TIMEOUT_S = 75.0  # `dagster dev` itself gives its children 60 s before killing them
POLL_INTERVAL_S = 1.0

BACKFILL_TERMINAL = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}
RUN_TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}

WORKSPACE_QUERY = """
query Workspace {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError { __typename ... on PythonError { message stack } }
      }
    }
    ... on PythonError { message }
  }
}
"""

LAUNCH_BACKFILL_MUTATION = """
mutation LaunchBackfill($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on Error { message }
    ... on PythonError { stack }
  }
}
"""

BACKFILL_QUERY = """
query Backfill($backfillId: String!) {
  partitionBackfillOrError(backfillId: $backfillId) {
    __typename
    ... on PartitionBackfill {
      status
      error { message stack }
      assetBackfillData {
        assetBackfillStatuses {
          ... on AssetPartitionsStatusCounts {
            assetKey { path }
            numPartitionsTargeted
            numPartitionsMaterialized
            numPartitionsFailed
          }
        }
      }
    }
    ... on Error { message }
  }
}
"""

RUNS_QUERY = """
query BackfillRuns($filter: RunsFilter!) {
  runsOrError(filter: $filter) {
    __typename
    ... on Runs {
      results {
        runId
        status
        assetSelection { path }
        tags { key value }
      }
    }
    ... on Error { message }
  }
}
"""

RUN_LOGS_QUERY = """
query RunLogs($runId: ID!) {
  logsForRun(runId: $runId) {
    __typename
    ... on EventConnection {
      events {
        __typename
        ... on MessageEvent { level message }
        ... on ErrorEvent { error { message } }
      }
    }
    ... on Error { message }
  }
}
"""


@dataclass
class DagsterDev:
    """A running `dagster dev`: its URL, the simulator it talks to, and where its output goes."""

    process: subprocess.Popen[bytes]
    url: str
    log_path: Path
    sim: DigaSimulator
    data_dir: Path
    dagster_home: Path

    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        return graphql(self.url, query, variables)

    def instance_files_holding(self, text: str) -> list[str]:
        """Files of the instance (run and event storage, captured step logs) that contain ``text``."""
        needle = text.encode()
        return [str(p) for p in self.dagster_home.rglob("*") if p.is_file() and needle in p.read_bytes()]

    def fail(self, reason: str) -> NoReturn:
        tail = "\n".join(self.output().splitlines()[-80:])
        pytest.fail(f"{reason}\n--- dagster dev output (last lines) ---\n{tail}", pytrace=False)


def poll(dev: DagsterDev, what: str, timeout_s: float, check: Callable[[], Any]) -> Any:
    """Call ``check`` until it returns something truthy; fail (with the server's output) on
    timeout or when `dagster dev` exits."""
    deadline = time.monotonic() + timeout_s
    while True:
        if dev.process.poll() is not None:
            dev.fail(f"dagster dev exited with code {dev.process.returncode} while waiting for {what}")
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            dev.fail(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(POLL_INTERVAL_S)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Interrupt `dagster dev` as Ctrl-C would; kill its process group only if it will not stop."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=SHUTDOWN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def dev_environment(sim: DigaSimulator, data_dir: Path, dagster_home: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DIGA_", "DAGSTER_"))}
    env.update(
        DAGSTER_HOME=str(dagster_home),
        DIGA_API_KEY=SIM_KEY,
        DIGA_API_BASE_URL=sim.base_url,
        DIGA_DATA_DIR=str(data_dir),
        DIGA_START_DATE="2026-11-01",
        DIGA_TIMEZONE="UTC",
        # The daemon would run today's refresh at each quarter hour: a run this test does not launch.
        DIGA_INTRADAY_MINUTES="0",
        PYTHONUNBUFFERED="1",
    )
    return env


def location_loaded(dev: DagsterDev) -> bool:
    try:
        workspace = dev.graphql(WORKSPACE_QUERY)["workspaceOrError"]
    except requests.RequestException:
        return False  # not listening yet
    entries = workspace.get("locationEntries") or []
    if not entries or any(entry["loadStatus"] != "LOADED" for entry in entries):
        return False
    for entry in entries:
        loaded = entry["locationOrLoadError"]
        if loaded["__typename"] == "PythonError":
            dev.fail(f"code location {entry['name']} failed to load: {loaded['message']}\n{loaded['stack']}")
    return True


@pytest.fixture
def dagster_dev(start_simulator, tmp_path: Path) -> Iterator[DagsterDev]:
    """`dagster dev` for the project's workspace, on a free loopback port, with the project's
    instance settings in a fresh DAGSTER_HOME, pointed at a simulator; stopped at teardown."""
    sim = start_simulator()
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    shutil.copy(PROJECT_ROOT / ".dagster_home" / "dagster.yaml", dagster_home / "dagster.yaml")
    data_dir = tmp_path / "data"
    port = free_loopback_port()
    log_path = tmp_path / "dagster-dev.log"
    dagster = Path(sys.executable).parent / "dagster"
    command = [str(dagster), "dev", "-w", str(PROJECT_ROOT / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=tmp_path,
            env=dev_environment(sim, data_dir, dagster_home),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so teardown can reach every child
        )
    dev = DagsterDev(
        process=process,
        url=f"http://127.0.0.1:{port}",
        log_path=log_path,
        sim=sim,
        data_dir=data_dir,
        dagster_home=dagster_home,
    )
    try:
        poll(dev, "the webserver to load the code location", SERVER_START_TIMEOUT_S, lambda: location_loaded(dev))
        yield dev
    finally:
        stop(process)


def launch_asset_backfill(dev: DagsterDev, assets: tuple[str, ...], days: tuple[str, ...]) -> str:
    """Launch a backfill the way the UI's "Materialize selected" over a partition range does."""
    params = {
        "assetSelection": [{"path": [asset]} for asset in assets],
        "partitionNames": list(days),
        "title": "e2e backfill",
    }
    launched = dev.graphql(LAUNCH_BACKFILL_MUTATION, {"params": params})["launchPartitionBackfill"]
    if launched["__typename"] != "LaunchBackfillSuccess":
        dev.fail(f"launchPartitionBackfill answered {launched}")
    return launched["backfillId"]


def backfill_state(dev: DagsterDev, backfill_id: str) -> dict[str, Any]:
    backfill = dev.graphql(BACKFILL_QUERY, {"backfillId": backfill_id})["partitionBackfillOrError"]
    if backfill["__typename"] != "PartitionBackfill":
        dev.fail(f"partitionBackfillOrError answered {backfill}")
    return backfill


def backfill_runs(dev: DagsterDev, backfill_id: str) -> list[dict[str, Any]]:
    filter_ = {"tags": [{"key": "dagster/backfill", "value": backfill_id}]}
    runs = dev.graphql(RUNS_QUERY, {"filter": filter_})["runsOrError"]
    if runs["__typename"] != "Runs":
        dev.fail(f"runsOrError answered {runs}")
    return runs["results"]


def run_errors(dev: DagsterDev, run_id: str) -> list[str]:
    logs = dev.graphql(RUN_LOGS_QUERY, {"runId": run_id})["logsForRun"]
    events = logs.get("events") or []
    errors = [event for event in events if event.get("level") in {"ERROR", "CRITICAL"}]
    return [" ".join([event["message"], (event.get("error") or {}).get("message", "")]).strip() for event in errors]


def wait_for_backfill(dev: DagsterDev, backfill_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The backfill once the daemon marks it finished, and its runs once they all finished."""

    def finished_backfill() -> dict[str, Any] | None:
        state = backfill_state(dev, backfill_id)
        return state if state["status"] in BACKFILL_TERMINAL else None

    def finished_runs() -> list[dict[str, Any]] | None:
        runs = backfill_runs(dev, backfill_id)
        return runs if runs and all(run["status"] in RUN_TERMINAL for run in runs) else None

    state = poll(dev, f"backfill {backfill_id} to finish", BACKFILL_TIMEOUT_S, finished_backfill)
    runs = poll(dev, f"the runs of backfill {backfill_id} to finish", RUNS_FINISH_TIMEOUT_S, finished_runs)
    return state, runs


def describe(dev: DagsterDev, state: dict[str, Any], runs: list[dict[str, Any]]) -> str:
    lines = [f"backfill status {state['status']}, error {state['error']}"]
    for run in runs:
        lines.append(f"run {run['runId']}: {run['status']}")
        lines.extend(f"  {message}" for message in run_errors(dev, run["runId"]))
    return "\n".join(lines)


@pytest.mark.timeout(400)
def test_a_backfill_launched_through_graphql_lands_in_parquet_and_duckdb(dagster_dev: DagsterDev) -> None:
    dev = dagster_dev

    backfill_id = launch_asset_backfill(dev, BACKFILL_ASSETS, DAYS)
    state, runs = wait_for_backfill(dev, backfill_id)

    # The backfill completed, in one run covering the whole range and every selected asset.
    if state["status"] != "COMPLETED_SUCCESS" or any(run["status"] != "SUCCESS" for run in runs):
        dev.fail(describe(dev, state, runs))
    assert len(runs) == 1, f"a single-run backfill should launch one run, got {[r['runId'] for r in runs]}"
    (run,) = runs
    tags = {tag["key"]: tag["value"] for tag in run["tags"]}
    assert (tags["dagster/asset_partition_range_start"], tags["dagster/asset_partition_range_end"]) == (
        DAYS[0],
        DAYS[-1],
    )
    assert sorted(key["path"][-1] for key in run["assetSelection"]) == sorted(BACKFILL_ASSETS)
    counts = {
        status["assetKey"]["path"][-1]: (
            status["numPartitionsTargeted"],
            status["numPartitionsMaterialized"],
            status["numPartitionsFailed"],
        )
        for status in state["assetBackfillData"]["assetBackfillStatuses"]
    }
    assert counts == dict.fromkeys(BACKFILL_ASSETS, (len(DAYS), len(DAYS), 0))

    # Each day's raw file holds exactly the simulator's calls of that day; each metric has its file.
    tmp_path = dev.data_dir.parent
    for day in DAYS:
        ids = stored_ids(tmp_path, day)
        assert ids, f"{day} should hold calls"
        assert ids == expected_ids(dev.sim.world, day), day
        for metric in DAILY_METRICS:
            assert (dev.data_dir / f"metrics/{metric}/day={day}/part-0.parquet").is_file(), (metric, day)
    assert sorted(p.name for p in (dev.data_dir / "raw/calls").iterdir()) == [f"date={day}" for day in DAYS]

    # The analysis database answers for exactly the backfilled days, in every daily metric.
    with duckdb.connect(str(dev.data_dir / "diga.duckdb"), read_only=True) as con:
        days_in_calls = sorted(str(day) for (day,) in con.sql("SELECT DISTINCT day FROM calls").fetchall())
        metric_rows = {metric: con.sql(f"SELECT count(*) FROM {metric}").fetchall()[0][0] for metric in DAILY_METRICS}
    assert days_in_calls == list(DAYS)
    assert all(metric_rows.values()), metric_rows

    # The key reached the API (the files prove it), but nothing printed or stored it.
    assert SIM_KEY not in dev.output()
    assert dev.instance_files_holding(SIM_KEY) == []
