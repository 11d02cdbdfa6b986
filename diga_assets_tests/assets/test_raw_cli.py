"""The backfill command the README documents, run as a user runs it: ``diga-assets simulate`` in
one process, Dagster's own CLI in another, configured only through DIGA_* variables."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from diga_assets.simulator import World
from diga_assets_tests.assets.test_raw import expected_ids, recorded_partitions, stored_ids
from diga_assets_tests.conftest import SIM_KEY, SIM_NOW

BIN = Path(sys.executable).parent
WORLD = {"seed": 11, "days": 6, "calls_per_day": 120}


@pytest.fixture
def simulate_process() -> Iterator[str]:
    """``diga-assets simulate`` on a free port; yields its base URL and stops it with SIGTERM."""
    command = [
        str(BIN / "diga-assets"),
        "simulate",
        "--port=0",
        f"--seed={WORLD['seed']}",
        f"--days={WORLD['days']}",
        f"--calls-per-day={WORLD['calls_per_day']}",
        f"--now={SIM_NOW.isoformat()}",
    ]
    env = {**os.environ, "DIGA_API_KEY": SIM_KEY, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        # The URL line is printed once the port is bound; EOF means it died, and stderr says why.
        url_line = next((line for line in process.stdout if line.startswith("export DIGA_API_BASE_URL=")), None)
        assert url_line, process.stderr.read() if process.stderr else "simulator exited"
        yield url_line.strip().split("=", 1)[1]
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_dagster_asset_materialize_with_a_partition_range_is_one_run_writing_every_day(simulate_process, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "DIGA_API_KEY": SIM_KEY,
        "DIGA_API_BASE_URL": simulate_process,
        "DIGA_DATA_DIR": str(tmp_path / "data"),
        "DIGA_START_DATE": "2026-11-01",
    }
    command = [str(BIN / "dagster"), "asset", "materialize", "-m", "diga_assets.definitions", "--select", "diga_calls"]

    done = subprocess.run(
        [*command, "--partition-range", "2026-11-16...2026-11-18"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    # The simulator is a deterministic function of seed and clock: the same world, built here,
    # says which calls each day must hold.
    world = World(now=SIM_NOW, **WORLD)
    days = ["2026-11-16", "2026-11-17", "2026-11-18"]
    for key in days:
        assert stored_ids(tmp_path, key) == expected_ids(world, key)
        assert stored_ids(tmp_path, key), key
    instance = dg.DagsterInstance.from_config(str(home))
    assert len(instance.get_run_records()) == 1
    assert sorted(recorded_partitions(instance)) == days
    assert SIM_KEY not in done.stdout + done.stderr
