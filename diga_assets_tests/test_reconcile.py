"""``diga-assets reconcile``: the audit, then the calls job over exactly the days that changed (or
every day with ``--full``), a line per day, and afterwards every stored day equal to the API's."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections import Counter
from datetime import date

import dagster as dg
import pyarrow.parquet as pq
import pytest

from diga_assets.names import day_stretches
from diga_assets.reconcile import ReconcileError, reconcile
from diga_assets_tests.assets import conftest as asset_fixtures
from diga_assets_tests.assets.conftest import settings_for, window_of
from diga_assets_tests.assets.test_raw import expected_ids, stored_ids, stored_rows
from diga_assets_tests.conftest import SIM_KEY

DIGA_ASSETS = os.path.join(os.path.dirname(sys.executable), "diga-assets")
DAYS = [f"2026-11-{day}" for day in range(14, 20)]
CALLS_PATH = "/v1/call/"
# The asset tests' fixture that stores days of raw calls from a simulator.
materialize_raw = asset_fixtures.materialize_raw


def test_reconcile_fetches_again_exactly_the_changed_days_and_says_so_per_day(
    start_simulator, materialize_raw, tmp_path
):
    sim = start_simulator(days=10, calls_per_day=30, status_model="current")
    materialize_raw(sim, first=DAYS[0], last=DAYS[-1])
    gone = expected_ids(sim.world, "2026-11-16")[4:7]
    sim.world.delete_calls(gone)
    sim.request_log.clear()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "DIGA_API_KEY": SIM_KEY,
        "DIGA_API_BASE_URL": sim.base_url,
        "DIGA_DATA_DIR": str(tmp_path / "data"),
        "DIGA_START_DATE": "2026-10-01",
        "DIGA_TIMEZONE": "UTC",
    }

    done = subprocess.run(
        [DIGA_ASSETS, "reconcile", "--from", DAYS[0], "--to", DAYS[-1], f"--dagster-home={tmp_path / 'home'}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    lines = {line.split()[0]: line for line in done.stdout.splitlines() if line[:4] == "2026"}
    assert sorted(lines) == DAYS
    assert "fetched again" in lines["2026-11-16"] and "3 removed" in lines["2026-11-16"], lines["2026-11-16"]
    assert all(line.endswith("unchanged") for day, line in lines.items() if day != "2026-11-16")
    assert stored_ids(tmp_path, "2026-11-16") == expected_ids(sim.world, "2026-11-16")
    # The day's metrics were computed again, and equal a count of what the API serves, per agent.
    window = window_of("2026-11-16")
    served = Counter(c["agent_id"] for c in sim.world.calls_created_between(window.start, window.end))
    metric = pq.read_table(tmp_path / "data" / "metrics" / "call_outcome_rates" / "day=2026-11-16" / "part-0.parquet")
    per_agent = Counter()
    for row in metric.select(["agent_id", "total_calls"]).to_pylist():
        per_agent[row["agent_id"]] += row["total_calls"]
    assert per_agent == served
    # The audit's view says what the day is now: unchanged since the re-fetch.
    audit = pq.read_table(tmp_path / "data" / "audit" / "call_day_audit" / "part-0.parquet").to_pylist()
    assert {str(row["day"]): row["action"] for row in audit} == dict.fromkeys(DAYS, "none")
    # One count per day, then the walk of the one changed day only (and its count again).
    walks = [r for r in sim.request_log.requests_to(CALLS_PATH) if r.query.get("limit") != "1"]
    assert {r.query["start_created_date"][:10] for r in walks} == {"2026-11-15"}  # the 16th, less a second
    assert SIM_KEY not in done.stdout + done.stderr


def test_full_reconcile_finds_a_call_edited_in_place(start_simulator, materialize_raw, tmp_path, monkeypatch):
    monkeypatch.setenv("DIGA_API_KEY", SIM_KEY)
    sim = start_simulator(days=10, calls_per_day=30, status_model="current")
    materialize_raw(sim, first=DAYS[0], last=DAYS[-1])
    edited = expected_ids(sim.world, "2026-11-18")[3]
    sim.world.change_call(edited, end_reason="sim_transferred_later")
    settings = dataclasses.replace(settings_for(tmp_path / "data"), api_base_url=sim.base_url)
    first, last = date.fromisoformat(DAYS[0]), date.fromisoformat(DAYS[-1])

    counted = reconcile(
        settings,
        first=first,
        last=last,
        instance=dg.DagsterInstance.ephemeral(),
        echo=lambda _: None,
    )
    assert not any(outcome.refetched for outcome in counted)  # the count cannot see an edit in place

    full = reconcile(
        settings,
        first=first,
        last=last,
        full=True,
        instance=dg.DagsterInstance.ephemeral(),
        echo=lambda _: None,
    )

    assert all(outcome.refetched for outcome in full)
    rows = stored_rows(tmp_path, "2026-11-18", columns=["id", "end_reason"]).to_pylist()
    assert {row["id"]: row["end_reason"] for row in rows}[edited] == "sim_transferred_later"
    window = window_of("2026-11-18")
    assert len(rows) == len(sim.world.calls_created_between(window.start, window.end))


def test_reconcile_without_the_key_says_which_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("DIGA_API_KEY", raising=False)
    with pytest.raises(ReconcileError, match="DIGA_API_KEY is not set"):
        reconcile(settings_for(tmp_path / "data"), instance=dg.DagsterInstance.ephemeral())


def test_days_are_fetched_in_runs_of_consecutive_days():
    days = [date(2026, 11, d) for d in (5, 3, 4, 9, 11, 10)]

    assert day_stretches(days) == [
        (date(2026, 11, 3), date(2026, 11, 5)),
        (date(2026, 11, 9), date(2026, 11, 11)),
    ]
