"""The demo's run, shared by every module that reads what it leaves (the demo's own tests, the UI's).

The demo takes tens of seconds, so the whole test session runs it once: the first pytest-xdist
worker to ask runs it under a file lock in the session's shared temp folder; the others wait
for the lock and read what it wrote there. A module that writes (the UI records runs in its
DAGSTER_HOME) works on a copy.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from filelock import FileLock

if TYPE_CHECKING:
    # The demo module is imported when the demo runs: every test session loads this module
    # (the root conftest does), most never run the demo.
    from diga_assets.demo import DemoResult

DEMO_DAYS = 3


@dataclass(frozen=True)
class DemoRun:
    """One demo run: what it returned, what it printed, and the key it gave its simulator."""

    result: DemoResult
    root: Path
    printed: list[str]
    output: Path
    api_key: str


@contextlib.contextmanager
def captured_output(sink_path: Path) -> Iterator[None]:
    """Send stdout and stderr to ``sink_path``, at the Python level (Dagster's console logger,
    print) and the file-descriptor level (anything written below Python), then restore both."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    with open(sink_path, "w", encoding="utf-8") as sink:
        try:
            for fd in saved:
                os.dup2(sink.fileno(), fd)
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                yield
        finally:
            sink.flush()
            for fd, copy in saved.items():
                os.dup2(copy, fd)
                os.close(copy)


def _run(root: Path) -> DemoRun:
    """Run the demo: ``DEMO_DAYS`` days into ``root/data`` and ``root/home``, its output captured
    and the key it made for its simulator recorded."""
    import diga_assets.demo

    keys: list[str] = []
    make_key = diga_assets.demo.simulator_key

    def recorded_key() -> str:
        keys.append(make_key())
        return keys[-1]

    printed: list[str] = []
    with pytest.MonkeyPatch.context() as patch, captured_output(root / "output.log"):
        patch.delenv("DIGA_DATA_DIR", raising=False)
        patch.setattr(diga_assets.demo, "simulator_key", recorded_key)
        result = diga_assets.demo.run_demo(
            DEMO_DAYS, data_dir=root / "data", dagster_home=root / "home", echo=printed.append
        )
    [api_key] = keys
    return DemoRun(result=result, root=root, printed=printed, output=root / "output.log", api_key=api_key)


def shared_demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """The session's demo run: run by the first worker that asks, read by the others."""
    # Under xdist every worker's base temp is a folder of the session's; alone, it is the session's.
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    root = shared / "shared-demo"
    recorded = shared / "shared-demo.pickle"
    with FileLock(str(shared / "shared-demo.lock")):
        if not recorded.exists():
            root.mkdir()
            recorded.write_bytes(pickle.dumps(_run(root)))
    return pickle.loads(recorded.read_bytes())
