"""Wall time, CPU time and peak memory of a benchmark contender, each in a process of its own.

``run_measured`` starts the contender through this file as a small launcher: wait4's
ru_maxrss of a child forked straight from a benchmark would count the benchmark's own memory
(the simulator's world, generated data), which a fork shares until exec. Forked from the fresh
launcher it counts only the contender (or its largest waited-for descendant).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Directories kept for the benchmark's whole process (the migrated DAGSTER_HOME), removed at exit.
_TEMPORARY_DIRECTORIES = contextlib.ExitStack()
atexit.register(_TEMPORARY_DIRECTORIES.close)
_MIGRATED_HOMES: list[Path] = []


@dataclass
class Outcome:
    """One contender's figures."""

    name: str
    seconds: float
    rows: int
    peak_rss_mb: float
    cpu_seconds: float
    # What the contender printed as its last line, when it is a JSON object (its own figures).
    report: dict[str, Any] = field(default_factory=dict)


def run_measured(name: str, command: list[str], env: dict[str, str], rows_of: Callable[[bytes], int]) -> Outcome:
    """Run ``command`` through the launcher; its wall time, rows (from its stdout) and peak RSS."""
    print(f"running: {name} ...", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "measure.json"
        launcher = [sys.executable, __file__, str(report), *command]
        done = subprocess.run(launcher, env=env, cwd=PROJECT_ROOT, capture_output=True)
        if done.returncode != 0:
            sys.stderr.write(done.stderr.decode(errors="replace")[-4000:])
            raise SystemExit(f"{name} failed with exit code {done.returncode}")
        measured = json.loads(report.read_text())
    return Outcome(
        name,
        measured["seconds"],
        rows_of(done.stdout),
        measured["peak_rss_kb"] / 1024,
        measured["cpu_seconds"],
        _last_json(done.stdout),
    )


def used_dagster_home(home: Path, env: dict[str, str]) -> Path:
    """``home`` as a user's ``DAGSTER_HOME`` is on every day but the first: its SQLite storage
    already created. A home's first command creates the run, event and schedule databases, about
    0.3 s more than opening them, once; a contender timed in a new home would pay that on every
    measurement. The databases are created once per benchmark (``dagster instance migrate``,
    untimed) and copied into each home; files already in ``home`` (a dagster.yaml) stay."""
    shutil.copytree(_migrated_home(env), home, dirs_exist_ok=True)
    return home


def _migrated_home(env: dict[str, str]) -> Path:
    """A home whose databases ``dagster instance migrate`` created, made on the first call."""
    if not _MIGRATED_HOMES:
        home = Path(_TEMPORARY_DIRECTORIES.enter_context(tempfile.TemporaryDirectory(prefix="dagster-home-")))
        dagster = Path(sys.executable).parent / "dagster"
        subprocess.run(
            [str(dagster), "instance", "migrate"],
            env={**env, "DAGSTER_HOME": str(home)},
            cwd=PROJECT_ROOT,
            check=True,
            capture_output=True,
        )
        _MIGRATED_HOMES.append(home)
    return _MIGRATED_HOMES[0]


def _last_json(stdout: bytes) -> dict[str, Any]:
    lines = stdout.decode(errors="replace").strip().splitlines()
    try:
        report = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:
        return {}
    return report if isinstance(report, dict) else {}


def rows_from_json(stdout: bytes) -> int:
    """Contenders of ours print ``{"rows": N}`` as their last line."""
    return json.loads(stdout.decode().strip().splitlines()[-1])["rows"]


def _launch(report: str, command: list[str]) -> int:
    started = time.perf_counter()
    process = subprocess.Popen(command)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    # User + system CPU of the contender and of the descendants it waited for (wait4 counts both).
    cpu = usage.ru_utime + usage.ru_stime
    Path(report).write_text(json.dumps({"seconds": seconds, "peak_rss_kb": usage.ru_maxrss, "cpu_seconds": cpu}))
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    raise SystemExit(_launch(sys.argv[1], sys.argv[2:]))
