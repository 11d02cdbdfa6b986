"""The backfill command the README documents, run as a user runs it: Dagster's own CLI in a
separate process, configured only through DIGA_* variables, against a simulator on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from diga_assets_tests.assets.test_raw import expected_ids, recorded_partitions, stored_ids
from diga_assets_tests.conftest import SIM_KEY

DAGSTER = str(Path(sys.executable).parent / "dagster")


def test_dagster_asset_materialize_with_a_partition_range_is_one_run_writing_every_day(start_simulator, tmp_path):
    sim = start_simulator(days=6, calls_per_day=120)
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "DIGA_API_KEY": SIM_KEY,
        "DIGA_API_BASE_URL": sim.base_url,
        "DIGA_DATA_DIR": str(tmp_path / "data"),
        "DIGA_START_DATE": "2026-11-01",
    }
    command = [DAGSTER, "asset", "materialize", "-m", "diga_assets.definitions", "--select", "diga_calls"]

    done = subprocess.run(
        [*command, "--partition-range", "2026-11-16...2026-11-18"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    days = ["2026-11-16", "2026-11-17", "2026-11-18"]
    for key in days:
        assert stored_ids(tmp_path, key) == expected_ids(sim.world, key)
    instance = dg.DagsterInstance.from_config(str(home))
    assert len(instance.get_run_records()) == 1
    assert sorted(recorded_partitions(instance)) == days
    assert SIM_KEY not in done.stdout + done.stderr
