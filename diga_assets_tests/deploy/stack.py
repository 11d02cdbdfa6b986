"""Processes of a deployment started by a test: each in its own process group with its output in a
file, stopped the way a process manager stops it, and waits that are bounded and say what they
waited for, with the tail of every process's output when they fail."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn, TypeVar

import pytest

POLL_INTERVAL_S = 0.25
# A stopped process is given this long to exit before its whole process group is killed.
STOP_TIMEOUT_S = 30.0
LOG_TAIL_LINES = 60

T = TypeVar("T")


def venv_executable(name: str) -> str:
    """A console script of the environment running the tests (dagster, dagster-daemon, ...)."""
    return str(Path(sys.executable).parent / name)


@dataclass
class Service:
    """One long-running process: a command from ``deployment.py`` run with the environment's
    executables, its output in ``log_path``."""

    name: str
    command: list[str]
    env: dict[str, str]
    cwd: Path
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        argv = [venv_executable(self.command[0]), *self.command[1:]]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                argv,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: its children go with it
            )

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """SIGTERM, as docker and Kubernetes stop a container; SIGKILL to the group if it hangs."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=STOP_TIMEOUT_S)
        # Whatever it started and left behind (a run worker, a gRPC child) goes too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT_S)
        self.process = None

    def tail(self, lines: int = LOG_TAIL_LINES) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


@dataclass
class Stack:
    """The services of one deployment, started in order and stopped in reverse."""

    log_dir: Path
    services: dict[str, Service] = field(default_factory=dict)

    def start(self, name: str, command: list[str], env: dict[str, str], cwd: Path) -> Service:
        service = Service(name, command, env, cwd, self.log_dir / f"{name}.log")
        self.services[name] = service
        service.start()
        return service

    def restart(self, name: str) -> Service:
        service = self.services[name]
        service.stop()
        service.start()
        return service

    def stop_all(self) -> None:
        for service in reversed(list(self.services.values())):
            service.stop()

    def fail(self, reason: str) -> NoReturn:
        tails = "\n".join(
            f"--- {service.name} ({'running' if service.running() else 'stopped'}), last lines ---\n{service.tail()}"
            for service in self.services.values()
        )
        pytest.fail(f"{reason}\n{tails}", pytrace=False)

    def wait_for(self, what: str, timeout_s: float, check: Callable[[], T | None]) -> T:
        """Poll ``check`` until it returns something truthy; fail on timeout, or as soon as a
        started service has exited."""
        deadline = time.monotonic() + timeout_s
        while True:
            exited = [s.name for s in self.services.values() if s.process is not None and not s.running()]
            if exited:
                self.fail(f"{', '.join(exited)} exited while waiting for {what}")
            result = check()
            if result:
                return result
            if time.monotonic() > deadline:
                self.fail(f"timed out after {timeout_s:.0f} s waiting for {what}")
            time.sleep(POLL_INTERVAL_S)
