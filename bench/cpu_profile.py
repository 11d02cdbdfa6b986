"""Where a benchmark contender's time goes: sample it with py-spy and print the busiest code.

``py-spy`` is optional (``pip install -e '.[bench]'``); a benchmark asked to profile without it
says so and goes on. Two ways to sample:

- ``gil=True`` (the ingest benchmark): only the thread holding the GIL counts, so the seconds
  add up to at most the wall time, and a run whose samples come close to its wall time is bound
  by the one lock. Code that releases the GIL (Arrow kernels, Parquet encoding, socket waits)
  runs beside it and is not in these figures.
- ``gil=False`` (the metrics benchmark, whose work is inside DuckDB): every Python thread that
  is not waiting counts, and a DuckDB statement shows as the Python line that runs it, for as
  long as it runs (DuckDB's own worker threads are not Python's and are not sampled).

Profiled runs are extra runs, never the measured ones: sampling costs the contender a few percent.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

# "function (path/to/file.py:123)"; a thread frame reads "thread (0x7f..): name" or "process ...".
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?):(?P<line>\d+)\)$")
_THREAD = re.compile(r"^thread \([^)]*\)(?:: (?P<name>.*))?$")
_THREAD_NUMBER = re.compile(r"[_-]\d+$")
_READ_AHEAD_DAY = re.compile(r"-\d{4}-\d{2}-\d{2}$")


def py_spy() -> str | None:
    """The py-spy executable beside this Python, or on PATH; ``None`` when it is not installed."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def profile_command(command: list[str], env: dict[str, str], raw_output: Path, *, gil: bool, rate: int = 100) -> float:
    """Run ``command`` under ``py-spy record``, writing its collapsed stacks to ``raw_output``;
    return its wall seconds under the sampler."""
    executable = py_spy()
    if executable is None:
        raise FileNotFoundError("py-spy is not installed (pip install -e '.[bench]')")
    recorder = [executable, "record", *(["--gil"] if gil else []), "--rate", str(rate), "--threads"]
    recorder += ["--format", "raw", "--output", str(raw_output)]
    started = time.perf_counter()
    done = subprocess.run([*recorder, "--", *command], env=env, capture_output=True)
    if done.returncode != 0:
        sys.stderr.write(done.stderr.decode(errors="replace")[-4000:])
        raise SystemExit(f"profiling {command[0]} failed with exit code {done.returncode}")
    return time.perf_counter() - started


def summarize(
    raw_output: Path,
    *,
    gil: bool,
    wall_seconds: float | None = None,
    rate: int = 100,
    top: int = 12,
    package: str = "diga_assets",
) -> str:
    """A plain-text report of a py-spy raw profile: seconds per thread role, the project's
    functions by inclusive time, and the lines that were running themselves."""
    by_thread: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in raw_output.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        total += samples
        frames = stack.split(";")
        thread = _THREAD.match(frames[0])
        by_thread[_thread_role(thread.group("name") if thread else None)] += samples
        seen = set()
        for frame in frames:
            parsed = _FRAME.match(frame)
            if parsed and package in parsed["file"] and (name := _label(parsed, line_number=False)) not in seen:
                seen.add(name)
                inclusive[name] += samples
        leaf = _FRAME.match(frames[-1])
        # A stack that is only its thread frame: the interpreter itself, starting or shutting down.
        own[_label(leaf, line_number=True) if leaf else "(the interpreter, no Python frame)"] += samples
    if total == 0:
        return "py-spy recorded no samples"

    def rows(counts: list[tuple[str, int]]) -> list[str]:
        return [f"  {samples / rate:7.2f} s {samples / total:6.1%}  {name}" for name, samples in counts]

    what = "the GIL was held" if gil else "threads were running"
    held = f"{what} {total / rate:.1f} s ({total:,} samples at {rate}/s)"
    if wall_seconds is not None:
        held += f" of the {wall_seconds:.1f} s the command took under the sampler"
    lines = [held, "", "by thread:"]
    lines += rows(by_thread.most_common())
    lines += ["", f"{package} functions, with everything they call:", *rows(inclusive.most_common(top))]
    lines += ["", "lines running themselves (a C call shows as the Python line that made it):"]
    lines += rows(own.most_common(top))
    return "\n".join(lines)


def _thread_role(name: str | None) -> str:
    # Pool threads are numbered ("diga-day_3") and read-ahead threads carry their day: one row per
    # kind of thread says more than one per thread.
    if not name:
        return "(main thread, before its name is known)"
    return _THREAD_NUMBER.sub("", _READ_AHEAD_DAY.sub("", name))


def _label(frame: re.Match[str], *, line_number: bool) -> str:
    path = frame["file"]
    short = "/".join(Path(path).parts[-2:])
    return f"{frame['function']} ({short}:{frame['line']})" if line_number else f"{frame['function']} ({short})"
