"""The ``simulate`` command: starts, answers, never prints the key, stops cleanly on Ctrl-C.

It serves the ``current`` status model unless told ``--status-model seed``, and ``--deny`` makes
the key lack Read permission on a resource.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import requests
from click.testing import CliRunner

from diga_assets.simulator.cli import simulate
from diga_assets_tests.contract import validate_response
from diga_assets_tests.simulator.conftest import AGENTS, CALLS


def test_simulate_serves_in_the_foreground_and_stops_on_ctrl_c() -> None:
    key = "cli-secret-key-31415"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "diga_assets.simulator.cli",
            "--port",
            "0",
            "--days",
            "2",
            "--calls-per-day",
            "30",
            "--seed",
            "3",
            "--deny",
            "agents",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "DIGA_API_KEY": key, "PYTHONUNBUFFERED": "1"},
    )
    lines: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:  # the URL is printed once the port is bound
            lines.append(line)
            if line.startswith("export DIGA_API_BASE_URL="):
                break
        base_url = lines[-1].strip().split("=", 1)[1]
        assert base_url.startswith("http://127.0.0.1:")
        headers = {"Authorization": f"Bearer {key}"}
        response = requests.get(base_url + CALLS, headers=headers, timeout=10)
        assert response.status_code == 200
        validate_response(CALLS, 200, response.json(), model="current")  # the default model
        assert response.json()["data"]
        assert (
            requests.get(base_url + CALLS, params={"status": "failed"}, headers=headers, timeout=10).status_code == 400
        )
        denied = requests.get(base_url + AGENTS, headers=headers, timeout=10)
        assert denied.status_code == 403 and denied.json()["message"] == "Missing required permissions to view agents"
        assert (
            requests.get(base_url + CALLS, headers={"Authorization": "Bearer sim-test-key"}, timeout=10).status_code
            == 403
        )
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = "".join(lines) + out + err
    assert process.returncode == 0, output
    assert "from $DIGA_API_KEY" in output
    assert "status model current" in output and "lacks Read permission on: agents" in output
    assert key not in output
    assert "Simulator stopped." in output


def test_simulate_stops_on_sigterm_too() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "diga_assets.simulator.cli", "--port", "0", "--days", "0", "--status-model", "seed"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "DIGA_API_KEY"} | {"PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        output = ""
        for line in process.stdout:
            output += line
            if line.startswith("Press Ctrl-C"):
                break
        assert "built-in default test key" in output and "sim-test-key" not in output
        assert "status model seed" in output
        process.terminate()
        output += process.communicate(timeout=20)[0]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, output
    assert "Simulator stopped." in output


def test_simulate_refuses_unknown_resources_to_deny() -> None:
    result = CliRunner().invoke(simulate, ["--deny", "contacts"])
    assert result.exit_code != 0
    assert "contacts" in result.output


def test_simulate_refuses_non_loopback_hosts() -> None:
    result = CliRunner().invoke(simulate, ["--host", "0.0.0.0"])
    assert result.exit_code != 0
    assert "loopback" in result.output
