"""A deployment as Dagster users run one, end to end on this machine.

PostgreSQL 15 holds the instance; the project's code server, the daemon and the webserver run as
three processes with deploy/'s settings (dagster.s3.yaml, run monitoring shortened) and
deploy/workspace.yaml, started with the commands that docker-compose.yml and the Helm values run
(on loopback and free ports); the data (DIGA_DATA_DIR) and the compute logs go to buckets of an S3
server (moto); the Diga simulator is the
API, answering each request a second late. Runs are launched by the default run launcher: one
worker process each, where Docker and Kubernetes would start a container or a pod (not tested
here: no Docker daemon, no cluster).

What the test promises:

- a ten-day backfill of the calls job submitted through GraphQL becomes four runs of at most three
  days (DIGA_BACKFILL_DAYS_PER_RUN=3), each queued first, all successful;
- at no moment, across every run, are two steps of the diga_api pool in flight (the step events
  in PostgreSQL), although up to four runs may be in progress;
- each day in the bucket holds exactly the simulator's calls, and every run's step logs are in the
  bucket;
- a run worker SIGKILLed in the middle of its fetch: the run is marked failed, run monitoring frees
  its pool slot, the runs waiting for the slot proceed, and re-executing the failed run makes its
  days exact;
- after the daemon and the webserver restart, the runs, the backfills and a running schedule are
  read back from PostgreSQL, and the restarted daemon launches runs.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import dagster as dg
import pytest
import requests
import yaml
from moto.server import ThreadedMotoServer

from diga_assets.names import API_POOL, CALLS_DATASET, CALLS_JOB_ASSETS, DIGA_CALLS
from diga_assets.simulator import World
from diga_assets.storage import DigaStorage
from diga_assets_tests.assets.conftest import window_of
from diga_assets_tests.conftest import SIM_KEY
from diga_assets_tests.deploy.deployment import (
    LOCATION_NAME,
    S3_INSTANCE_YAML,
    WORKSPACE_YAML,
    code_server_command,
    daemon_command,
    read_yaml,
    webserver_command,
)
from diga_assets_tests.deploy.postgres import Database
from diga_assets_tests.deploy.stack import Stack
from diga_assets_tests.webserver import GraphQLError, free_loopback_port, graphql, port_open

# A whole deployment on PostgreSQL: make test-fast skips it.
pytestmark = [pytest.mark.postgres, pytest.mark.e2e]

# The simulated company: a fixed clock, so the test can rebuild the same World and know each
# day's calls exactly.
SIM_SEED = 7
SIM_NOW = "2026-11-20T12:00:00+00:00"
SIM_DAYS = 25
SIM_CALLS_PER_DAY = 120
# Every API request is answered this late, so a fetch lasts long enough to be caught under way.
SIM_LATENCY_MS = 1000

DAYS_PER_RUN = 3
COMPLETE_DAYS = tuple(f"2026-11-{day:02d}" for day in range(1, 11))  # ten days: four runs
KILLED_DAYS = tuple(f"2026-11-{day:02d}" for day in range(11, 17))  # six days: two runs
# The only values the test's dagster.yaml changes: a dead run's slot is freed within seconds.
TEST_RUN_MONITORING = {"free_slots_after_run_end_seconds": 1, "poll_interval_seconds": 1}

COMPUTE_LOGS_BUCKET = "diga-compute-logs"
COMPUTE_LOGS_PREFIX = "diga/compute-logs"
AWS_REGION = "us-east-1"

# Public Dagster tag names on the runs a backfill launches.
BACKFILL_TAG = "dagster/backfill"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
# Dagster's default repository name for a code location built from one Definitions.
REPOSITORY_NAME = "__repository__"
SCHEDULE = "diga_calls_daily"

# Bounded waits. The backfill daemon ticks every 30 s (the first tick when it starts); runs wait
# for the pool one after another, each a new worker process.
START_TIMEOUT_S = 120.0
RUNS_TIMEOUT_S = 300.0
REQUEST_TIMEOUT_S = 30.0
RUN_FAILED_TIMEOUT_S = 60.0
SLOT_FREED_TIMEOUT_S = 60.0
BACKFILL_STATUS_TIMEOUT_S = 90.0
COMPUTE_LOGS_TIMEOUT_S = 60.0

BACKFILL_FINISHED = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}
FINISHED = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
STEP_ENDS = {dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE}
WORKER_PID = re.compile(r"Started process for run \(pid: (\d+)\)")

WORKSPACE_QUERY = """
query Workspace {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError { __typename ... on PythonError { message } }
      }
    }
  }
}
"""

LAUNCH_BACKFILL = """
mutation LaunchBackfill($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on Error { message }
  }
}
"""

BACKFILL_STATUS = """
query Backfill($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill { status }
    ... on Error { message }
  }
}
"""

ALL_RUNS = """
query Runs {
  runsOrError {
    __typename
    ... on Runs { results { runId status } }
    ... on Error { message }
  }
}
"""

REEXECUTE = """
mutation Reexecute($params: ReexecutionParams!) {
  launchRunReexecution(reexecutionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on Error { message }
    ... on PythonError { stack }
  }
}
"""

START_SCHEDULE = """
mutation StartSchedule($selector: ScheduleSelector!) {
  startSchedule(scheduleSelector: $selector) {
    __typename
    ... on ScheduleStateResult { scheduleState { status } }
    ... on Error { message }
  }
}
"""

SCHEDULE_STATE = """
query Schedule($selector: ScheduleSelector!) {
  scheduleOrError(scheduleSelector: $selector) {
    __typename
    ... on Schedule { scheduleState { status } }
    ... on Error { message }
  }
}
"""


# The deployment's DIGA_DATA_DIR: a bucket, as in production, where run workers on different
# machines share nothing else (the runs here are processes of one machine all the same).
DATA_BUCKET = "diga-data"


def deployment_data_dir(s3: Any) -> str:
    s3.create_bucket(Bucket=DATA_BUCKET)
    return f"s3://{DATA_BUCKET}/deployment"


def stored_call_ids(data_dir: str, day: str) -> list[str] | None:
    """The ids in a day's raw calls file, in file order; None when the day was never stored.
    Read through the store, as the runs write."""
    storage = DigaStorage(data_dir=data_dir)
    location = storage.layout.raw_partition(CALLS_DATASET, day)
    if not storage.store.exists(location):
        return None
    return storage.store.read_table(location, columns=["id"]).column("id").to_pylist()


def simulator_command(port: int) -> list[str]:
    """The simulator as a process of its own, serving ``simulator_world()`` a second late."""
    return [
        *("diga-assets", "simulate", "--port", str(port), "--api-key", SIM_KEY, "--status-model", "current"),
        *("--seed", str(SIM_SEED), "--now", SIM_NOW, "--days", str(SIM_DAYS)),
        *("--calls-per-day", str(SIM_CALLS_PER_DAY), "--latency-ms", str(SIM_LATENCY_MS)),
    ]


def simulator_world() -> World:
    """The world the simulator serves, rebuilt from the same arguments."""
    return World(
        seed=SIM_SEED,
        now=datetime.fromisoformat(SIM_NOW),
        days=SIM_DAYS,
        calls_per_day=SIM_CALLS_PER_DAY,
        status_model="current",
    )


def expected_call_ids(world: World, day: str) -> list[str]:
    window = window_of(day)
    return [call["id"] for call in world.calls_created_between(window.start, window.end)]


@dataclass
class Simulator:
    """The simulator process's admin endpoint: how many API requests it has received."""

    url: str
    state_requests: int = 0

    def api_requests(self) -> int:
        """Requests to the API so far. The simulator counts its admin requests too, each logged
        after it answers, so the count it reports includes every earlier call of this method."""
        state = requests.get(f"{self.url}/_simulator/state", timeout=10).json()
        served = state["requests"] - self.state_requests
        self.state_requests += 1
        return served


@dataclass
class Deployment:
    """The running deployment: its processes, its instance as the test reads it, its URL."""

    stack: Stack
    env: dict[str, str]
    cwd: Path
    web_port: int
    instance: dg.DagsterInstance
    simulator: Simulator
    data_dir: str
    s3: Any

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            return graphql(self.url, query, variables)
        except (GraphQLError, requests.RequestException) as error:
            self.stack.fail(f"GraphQL request failed: {error}")

    def start_webserver(self) -> None:
        command = webserver_command("127.0.0.1", self.web_port, str(WORKSPACE_YAML))
        self.stack.start("webserver", command, self.env, self.cwd)

    def start_daemon(self) -> None:
        self.stack.start("daemon", daemon_command(str(WORKSPACE_YAML)), self.env, self.cwd)

    def wait_for_code_location(self) -> None:
        def loaded() -> bool:
            try:
                workspace = graphql(self.url, WORKSPACE_QUERY)["workspaceOrError"]
            except requests.RequestException:
                return False  # not listening yet
            entries = workspace.get("locationEntries") or []
            if not entries or any(entry["loadStatus"] != "LOADED" for entry in entries):
                return False
            for entry in entries:
                if entry["locationOrLoadError"]["__typename"] == "PythonError":
                    self.stack.fail(f"{entry['name']} failed to load: {entry['locationOrLoadError']['message']}")
            return True

        self.stack.wait_for("the webserver to load the code location", START_TIMEOUT_S, loaded)

    def launch_backfill(self, days: tuple[str, ...]) -> str:
        """Launch a backfill of the calls job's assets as the UI's "Materialize" over a range does."""
        params = {"assetSelection": [{"path": [asset]} for asset in CALLS_JOB_ASSETS], "partitionNames": list(days)}
        launched = self.graphql(LAUNCH_BACKFILL, {"params": params})["launchPartitionBackfill"]
        if launched["__typename"] != "LaunchBackfillSuccess":
            self.stack.fail(f"launchPartitionBackfill answered {launched}")
        return launched["backfillId"]

    def backfill_status(self, backfill_id: str) -> str:
        backfill = self.graphql(BACKFILL_STATUS, {"id": backfill_id})["partitionBackfillOrError"]
        if backfill["__typename"] != "PartitionBackfill":
            self.stack.fail(f"partitionBackfillOrError answered {backfill}")
        return backfill["status"]

    def schedule_selector(self) -> dict[str, str]:
        return {
            "repositoryLocationName": LOCATION_NAME,
            "repositoryName": REPOSITORY_NAME,
            "scheduleName": SCHEDULE,
        }

    # What PostgreSQL holds, read through the same instance settings ------------------------------

    def runs_of(self, backfill_id: str) -> list[dg.DagsterRun]:
        """The backfill's runs, oldest first."""
        records = self.instance.get_run_records(filters=dg.RunsFilter(tags={BACKFILL_TAG: backfill_id}))
        return [record.dagster_run for record in sorted(records, key=lambda record: record.create_timestamp)]

    def run(self, run_id: str) -> dg.DagsterRun:
        run = self.instance.get_run_by_id(run_id)
        assert run is not None, run_id
        return run

    def events(self, run_id: str, *types: dg.DagsterEventType) -> list[dg.EventLogEntry]:
        return list(self.instance.all_logs(run_id, of_type=set(types)))

    def step_started(self, run_id: str, step_key: str) -> bool:
        return any(e.step_key == step_key for e in self.events(run_id, dg.DagsterEventType.STEP_START))

    def worker_pid(self, run_id: str) -> int | None:
        """The pid the run worker reports in its first engine event."""
        for event in self.events(run_id, dg.DagsterEventType.ENGINE_EVENT):
            match = WORKER_PID.search(event.message or "")
            if match:
                return int(match.group(1))
        return None

    def pool_holders(self) -> set[str]:
        """Runs holding or waiting for a slot of the diga_api pool."""
        info = self.instance.event_log_storage.get_concurrency_info(API_POOL)
        return {slot.run_id for slot in info.claimed_slots} | {step.run_id for step in info.pending_steps}

    def runs_finished(self, run_ids: list[str]) -> list[dg.DagsterRun] | None:
        runs = [self.run(run_id) for run_id in run_ids]
        return runs if all(run.status in FINISHED for run in runs) else None

    def compute_log_keys(self) -> list[str]:
        listed = self.s3.list_objects_v2(Bucket=COMPUTE_LOGS_BUCKET, Prefix=COMPUTE_LOGS_PREFIX)
        return [entry["Key"] for entry in listed.get("Contents", [])]


@pytest.fixture
def s3_endpoint() -> Iterator[str]:
    """An S3 server on loopback (moto), for the compute logs."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    # Its HTTP server logs every request; a failure report needs the processes' output instead.
    access_log = logging.getLogger("werkzeug")
    level = access_log.level
    access_log.setLevel(logging.WARNING)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        access_log.setLevel(level)


def write_instance_settings(home: Path, staging: Path) -> Path:
    """deploy/dagster.s3.yaml with run monitoring shortened and the compute logs staged in
    ``staging``, and nothing else changed. (S3ComputeLogManager stages a run's logs in /tmp
    itself, whatever TMPDIR says, and leaves an empty <run id>/compute_logs folder there.)"""
    settings = read_yaml(S3_INSTANCE_YAML)
    settings["run_monitoring"].update(TEST_RUN_MONITORING)
    settings["compute_logs"]["config"]["local_dir"] = str(staging)
    path = home / "dagster.yaml"
    path.write_text(yaml.safe_dump(settings), encoding="utf-8")

    deployed, tested = read_yaml(S3_INSTANCE_YAML), read_yaml(path)
    for key in TEST_RUN_MONITORING:
        del tested["run_monitoring"][key], deployed["run_monitoring"][key]
    del tested["compute_logs"]["config"]["local_dir"]
    assert tested == deployed, "the test's dagster.yaml may differ from deploy/ in run monitoring and staging only"
    return path


@pytest.fixture
def deployment(
    tmp_path: Path, database: Database, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Deployment]:
    """The simulator, the code server and the webserver running on loopback against PostgreSQL
    and S3; the daemon is left to the test. Everything is stopped at teardown, failed or not."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    write_instance_settings(home, tmp_path / "compute-log-staging")
    # Not under DAGSTER_HOME: Dagster keeps its own logs/ there.
    log_dir = tmp_path / "process-logs"
    log_dir.mkdir()
    s3 = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name=AWS_REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    data_dir = deployment_data_dir(s3)
    sim_port, grpc_port, web_port = free_loopback_port(), free_loopback_port(), free_loopback_port()

    aws = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": AWS_REGION,
        "AWS_ENDPOINT_URL": s3_endpoint,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    instance_env = {
        **database.env(),
        **aws,
        "DIGA_COMPUTE_LOGS_BUCKET": COMPUTE_LOGS_BUCKET,
        "DIGA_COMPUTE_LOGS_PREFIX": COMPUTE_LOGS_PREFIX,
    }
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DAGSTER_", "DIGA_", "AWS_"))}
    env.update(
        instance_env,
        DAGSTER_HOME=str(home),
        DIGA_CODE_SERVER_HOST="127.0.0.1",
        DIGA_CODE_SERVER_PORT=str(grpc_port),
        DIGA_API_KEY=SIM_KEY,
        DIGA_API_BASE_URL=f"http://127.0.0.1:{sim_port}",
        DIGA_DATA_DIR=data_dir,
        DIGA_START_DATE="2026-11-01",
        DIGA_TIMEZONE="UTC",
        DIGA_BACKFILL_DAYS_PER_RUN=str(DAYS_PER_RUN),
        # Days fetched one after another: a fetch under way has more requests still to come.
        DIGA_MAX_CONCURRENCY="1",
        # The daemon would run today's refresh at each quarter hour: runs in the pool the test
        # does not launch, beside the ones whose slots it follows.
        DIGA_INTRADAY_MINUTES="0",
        PYTHONUNBUFFERED="1",
    )
    # The test reads the same instance: the same settings, the same variables.
    for key, value in instance_env.items():
        monkeypatch.setenv(key, value)
    s3.create_bucket(Bucket=COMPUTE_LOGS_BUCKET)
    # Created here first, so the schema exists before three processes open it at once.
    instance = dg.DagsterInstance.from_config(str(home))

    stack = Stack(log_dir)
    try:
        stack.start("simulator", simulator_command(sim_port), env, tmp_path)
        stack.wait_for("the simulator to listen", START_TIMEOUT_S, lambda: port_open(sim_port))
        stack.start("code-server", code_server_command("127.0.0.1", grpc_port), env, tmp_path)
        stack.wait_for("the code server to listen", START_TIMEOUT_S, lambda: port_open(grpc_port))
        deployment = Deployment(
            stack=stack,
            env=env,
            cwd=tmp_path,
            web_port=web_port,
            instance=instance,
            simulator=Simulator(f"http://127.0.0.1:{sim_port}"),
            data_dir=data_dir,
            s3=s3,
        )
        deployment.start_webserver()
        deployment.wait_for_code_location()
        yield deployment
    finally:
        stack.stop_all()
        instance.dispose()


def ancestors(pid: int) -> list[int]:
    """The parent, grandparent, ... of a process, from /proc."""
    chain = []
    while pid > 1:
        # The parent pid is the fourth field of /proc/<pid>/stat, after the ")" ending the name.
        pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        chain.append(pid)
    return chain


def kill_worker_mid_fetch(dep: Deployment, backfill_id: str) -> tuple[dg.DagsterRun, dg.DagsterRun]:
    """SIGKILL the worker of the backfill's first run to fetch, once a request of its fetch has
    reached the API; that run and the backfill's other run."""

    def fetching() -> dg.DagsterRun | None:
        runs = dep.runs_of(backfill_id)
        return next((run for run in runs if dep.step_started(run.run_id, DIGA_CALLS)), None)

    victim = dep.stack.wait_for("a run of the second backfill to start fetching", RUNS_TIMEOUT_S, fetching)
    before = dep.simulator.api_requests()
    dep.stack.wait_for(
        f"run {victim.run_id} to send a request", REQUEST_TIMEOUT_S, lambda: dep.simulator.api_requests() > before
    )
    pid = dep.worker_pid(victim.run_id)
    assert pid is not None, f"run {victim.run_id} reported no worker pid"
    # The run worker is a child of the code server (the default run launcher): make sure the pid
    # is that process, not a recycled one.
    code_server = dep.stack.services["code-server"].process
    assert code_server is not None and code_server.pid in ancestors(pid), f"{pid} is not a worker of the code server"
    assert victim.run_id in dep.pool_holders(), "the fetching run should hold the diga_api slot"
    # Checked before the kill: after it, run monitoring frees the slot within seconds, and a
    # check that ran late (a loaded machine, a profiler pausing this process) would find the
    # other run fetching, as it should by then.
    (other,) = [run for run in dep.runs_of(backfill_id) if run.run_id != victim.run_id]
    assert not dep.step_started(other.run_id, DIGA_CALLS), "the other run must not fetch while the slot is taken"
    os.kill(pid, signal.SIGKILL)
    return dep.run(victim.run_id), other


def pool_step_spans(dep: Deployment, runs: list[dg.DagsterRun]) -> list[tuple[float, float, str]]:
    """(start, end, run id) of every step of the diga_api pool in ``runs``, by start. A step that
    never ended (its worker was killed) ends when its run was marked failed."""
    spans = []
    for run in runs:
        snapshot = dep.instance.get_job_snapshot(run.job_snapshot_id)
        pool_steps = {op.name for op in snapshot.node_defs_snapshot.op_def_snaps if op.pool == API_POOL}
        events = dep.events(run.run_id, dg.DagsterEventType.STEP_START, *STEP_ENDS, dg.DagsterEventType.RUN_FAILURE)
        run_failed = [e.timestamp for e in events if e.dagster_event_type == dg.DagsterEventType.RUN_FAILURE]
        for start in (e for e in events if e.dagster_event_type == dg.DagsterEventType.STEP_START):
            if start.step_key not in pool_steps:
                continue
            ends = [e.timestamp for e in events if e.dagster_event_type in STEP_ENDS and e.step_key == start.step_key]
            end = ends[0] if ends else run_failed[0]
            spans.append((start.timestamp, end, run.run_id))
    return sorted(spans)


def assert_days_exact(dep: Deployment, world: World, days: tuple[str, ...]) -> None:
    for day in days:
        stored = stored_call_ids(dep.data_dir, day)
        assert stored, f"{day} holds no calls"
        assert stored == expected_call_ids(world, day), day


@pytest.mark.timeout(600)
def test_a_deployment_spreads_a_backfill_over_workers_survives_a_killed_worker_and_a_restart(
    deployment: Deployment,
) -> None:
    dep = deployment
    world = simulator_world()
    started = time.monotonic()
    timings: dict[str, float] = {}

    # Both backfills are submitted before the daemon runs: the webserver only records them in
    # PostgreSQL. The daemon's backfill loop ticks every 30 s, its first tick as it starts, so
    # starting it now turns both into runs at once.
    complete_id = dep.launch_backfill(COMPLETE_DAYS)
    killed_id = dep.launch_backfill(KILLED_DAYS)
    assert dep.runs_of(complete_id) == [] and dep.runs_of(killed_id) == []
    dep.start_daemon()

    # A run worker dies in the middle of its fetch: the run is marked failed, and run monitoring
    # frees its pool slot, which a dead worker never gives back itself.
    victim, other = kill_worker_mid_fetch(dep, killed_id)
    timings["killed a worker"] = time.monotonic() - started
    dep.stack.wait_for(
        f"run {victim.run_id} to be marked failed",
        RUN_FAILED_TIMEOUT_S,
        lambda: dep.run(victim.run_id).status == dg.DagsterRunStatus.FAILURE,
    )
    dep.stack.wait_for(
        "run monitoring to free the killed run's slot",
        SLOT_FREED_TIMEOUT_S,
        lambda: victim.run_id not in dep.pool_holders(),
    )
    events = dep.events(victim.run_id, dg.DagsterEventType.STEP_START, *STEP_ENDS)
    assert [e.step_key for e in events] == [DIGA_CALLS], "the worker was killed in its fetch, before it ended"

    # The runs waiting for the slot proceed: the backfill's other run succeeds, and so does the
    # ten-day backfill.
    def every_run_finished() -> list[dg.DagsterRun] | None:
        complete_runs = dep.runs_of(complete_id)
        return dep.runs_finished([run.run_id for run in complete_runs] + [other.run_id]) if complete_runs else None

    dep.stack.wait_for("every run of both backfills to finish", RUNS_TIMEOUT_S, every_run_finished)
    timings["backfill runs finished"] = time.monotonic() - started
    assert dep.run(other.run_id).status == dg.DagsterRunStatus.SUCCESS

    # Ten days at three a run: four runs, each queued before it ran, all successful.
    complete_runs = dep.runs_of(complete_id)
    ranges = sorted((run.tags[RANGE_START_TAG], run.tags[RANGE_END_TAG]) for run in complete_runs)
    assert ranges == [
        ("2026-11-01", "2026-11-03"),
        ("2026-11-04", "2026-11-06"),
        ("2026-11-07", "2026-11-09"),
        ("2026-11-10", "2026-11-10"),
    ]
    for run in complete_runs:
        assert run.status == dg.DagsterRunStatus.SUCCESS, run.run_id
        lifecycle = [
            e.dagster_event_type
            for e in dep.events(
                run.run_id,
                dg.DagsterEventType.RUN_ENQUEUED,
                dg.DagsterEventType.RUN_START,
                dg.DagsterEventType.RUN_SUCCESS,
            )
        ]
        assert lifecycle == [
            dg.DagsterEventType.RUN_ENQUEUED,
            dg.DagsterEventType.RUN_START,
            dg.DagsterEventType.RUN_SUCCESS,
        ], run.run_id
    assert_days_exact(dep, world, COMPLETE_DAYS)

    # The daemon and the webserver restart; PostgreSQL keeps everything they showed before.
    started_schedule = dep.graphql(START_SCHEDULE, {"selector": dep.schedule_selector()})["startSchedule"]
    assert started_schedule["__typename"] == "ScheduleStateResult", started_schedule
    runs_before = {run.run_id: run.status.value for run in dep.instance.get_runs()}
    for name in ("daemon", "webserver"):
        dep.stack.services[name].stop()
    dep.start_webserver()
    dep.start_daemon()
    dep.wait_for_code_location()
    timings["restarted"] = time.monotonic() - started

    listed = dep.graphql(ALL_RUNS)["runsOrError"]["results"]
    assert {run["runId"]: run["status"] for run in listed} == runs_before
    schedule = dep.graphql(SCHEDULE_STATE, {"selector": dep.schedule_selector()})["scheduleOrError"]
    assert schedule["scheduleState"]["status"] == "RUNNING", schedule

    def final_statuses() -> tuple[str, str] | None:
        statuses = (dep.backfill_status(complete_id), dep.backfill_status(killed_id))
        return statuses if BACKFILL_FINISHED.issuperset(statuses) else None

    statuses = dep.stack.wait_for("the backfills' final status", BACKFILL_STATUS_TIMEOUT_S, final_statuses)
    assert statuses == ("COMPLETED_SUCCESS", "COMPLETED_FAILED")

    # Re-executing the failed run, as the UI's "Re-execute from failure" does, makes its days
    # exact; the restarted daemon dequeues it.
    params = {"parentRunId": victim.run_id, "strategy": "FROM_FAILURE"}
    relaunched = dep.graphql(REEXECUTE, {"params": params})["launchRunReexecution"]
    assert relaunched["__typename"] == "LaunchRunSuccess", relaunched
    rerun_id = relaunched["run"]["runId"]
    dep.stack.wait_for(f"re-executed run {rerun_id} to finish", RUNS_TIMEOUT_S, lambda: dep.runs_finished([rerun_id]))
    assert dep.run(rerun_id).status == dg.DagsterRunStatus.SUCCESS
    assert_days_exact(dep, world, KILLED_DAYS)
    timings["re-executed"] = time.monotonic() - started

    # Across every run, the diga_api pool had one step in flight at a time; the killed run's
    # step counts as in flight until its run was marked failed.
    all_runs = dep.instance.get_runs()
    spans = pool_step_spans(dep, list(all_runs))
    assert len(spans) == len(all_runs) == 4 + 2 + 1
    for (_, end, run_id), (start, _, next_run_id) in itertools.pairwise(spans):
        assert start >= end, f"{next_run_id} started its diga_api step before {run_id} ended its own"

    # Every successful run's step logs were uploaded to the bucket.
    succeeded = {run.run_id for run in all_runs if run.status == dg.DagsterRunStatus.SUCCESS}

    def logged_runs() -> bool:
        prefixes = {
            key.removeprefix(f"{COMPUTE_LOGS_PREFIX}/storage/").split("/", 1)[0] for key in dep.compute_log_keys()
        }
        return succeeded <= prefixes

    dep.stack.wait_for("every successful run's compute logs in the bucket", COMPUTE_LOGS_TIMEOUT_S, logged_runs)
    print("timings (s since the backfills were submitted):", {k: round(v, 1) for k, v in timings.items()})
