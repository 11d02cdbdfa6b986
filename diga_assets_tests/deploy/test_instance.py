"""deploy/'s instance settings against a real PostgreSQL: `dagster instance info` reports the
storage in PostgreSQL, and every variant loads as a Dagster instance with the classes it names.

Each test gets an empty database of its own; finding Dagster's tables in it afterwards shows the
instance used that database, named only by the DAGSTER_POSTGRES_* variables."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from diga_assets_tests.deploy.deployment import COMPOSE_INSTANCE_YAML, INSTANCE_YAML, S3_INSTANCE_YAML
from diga_assets_tests.deploy.postgres import Database, Postgres

# Every instance variant on a real PostgreSQL: make test-fast skips it.
pytestmark = pytest.mark.postgres

DAGSTER = Path(sys.executable).parent / "dagster"
COMMAND_TIMEOUT_S = 120
# Dagster's tables for runs, events and schedules, and the slot table of the pools.
DAGSTER_TABLES = {"runs", "event_logs", "jobs", "job_ticks", "concurrency_slots"}


def instance_home(tmp_path: Path, settings: Path) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(settings, home / "dagster.yaml")
    return home


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without any Dagster, DIGA or AWS setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "DIGA_", "AWS_"))}
    env.update(extra)
    return env


def tables_in(postgres: Postgres, database: Database) -> set[str]:
    listed = postgres.psql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'", database=database.name)
    return set(listed.split())


def test_instance_info_reports_postgres_storage(tmp_path: Path, postgres: Postgres, database: Database) -> None:
    home = instance_home(tmp_path, INSTANCE_YAML)

    result = subprocess.run(
        [str(DAGSTER), "instance", "info"],
        env=clean_env(DAGSTER_HOME=str(home), **database.env()),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    for line in (
        "run_storage: PostgresRunStorage",
        "event_log_storage: PostgresEventLogStorage",
        "schedule_storage: PostgresScheduleStorage",
    ):
        assert line in result.stdout, result.stdout
    # The schema was created in the database the variables name, at Dagster's latest revision.
    assert tables_in(postgres, database) >= DAGSTER_TABLES
    schema_state = yaml.safe_load(result.stdout.split("Storage schema state:", 1)[1].split("\n", 2)[2])["schema"]
    assert set(schema_state) == {"event_log_storage", "run_storage", "schedule_storage"}
    for storage, revisions in schema_state.items():
        assert revisions["current"] and revisions["current"] == revisions["latest"], (storage, revisions)


INSTANCE_CLASSES = {
    # file: (run launcher, compute log manager)
    INSTANCE_YAML: ("DefaultRunLauncher", "LocalComputeLogManager"),
    S3_INSTANCE_YAML: ("DefaultRunLauncher", "S3ComputeLogManager"),
    COMPOSE_INSTANCE_YAML: ("DockerRunLauncher", "LocalComputeLogManager"),
}

DESCRIBE_INSTANCE = """
import dagster as dg
instance = dg.DagsterInstance.get()
print(
    type(instance.run_storage).__name__,
    type(instance.event_log_storage).__name__,
    type(instance.schedule_storage).__name__,
    type(instance.run_coordinator).__name__,
    type(instance.run_launcher).__name__,
    type(instance.compute_log_manager).__name__,
)
"""


@pytest.mark.parametrize("settings", list(INSTANCE_CLASSES), ids=lambda path: path.name)
def test_every_variant_loads_as_an_instance_on_postgres(
    tmp_path: Path, postgres: Postgres, database: Database, settings: Path
) -> None:
    # Loading each class validates its config against Dagster's schema (the S3 client and the
    # Docker launcher are built without reaching a bucket or a Docker daemon).
    home = instance_home(tmp_path, settings)
    env = clean_env(
        DAGSTER_HOME=str(home),
        DIGA_COMPUTE_LOGS_BUCKET="diga-test",
        DIGA_COMPUTE_LOGS_PREFIX="compute-logs",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
        **database.env(),
    )

    result = subprocess.run(
        [sys.executable, "-c", DESCRIBE_INSTANCE],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    launcher, compute_logs = INSTANCE_CLASSES[settings]
    assert result.stdout.split() == [
        "PostgresRunStorage",
        "PostgresEventLogStorage",
        "PostgresScheduleStorage",
        "QueuedRunCoordinator",
        launcher,
        compute_logs,
    ]
    assert tables_in(postgres, database) >= DAGSTER_TABLES
