"""Fetching the days of a range concurrently, with one more try for the days the API failed."""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from typing import Protocol, TypeVar

from diga_assets.api.errors import DigaConnectionError, DigaProtocolError, DigaRateLimitError, DigaServerError
from diga_assets.assets.step import FATAL_RUN_ERRORS, DayFailure
from diga_assets.partitions import DayWindow

# Errors worth one more try of the whole day once the other days are done: the API was
# struggling, not refusing. Auth, invalid requests and bad records fail the day for good.
RETRYABLE_DAY_ERRORS = (DigaServerError, DigaRateLimitError, DigaConnectionError, DigaProtocolError)


class HasWindow(Protocol):
    """A day's result: it knows which day it is."""

    window: DayWindow


ResultT = TypeVar("ResultT", bound=HasWindow)


def run_days(
    windows: Sequence[DayWindow],
    fetch_day: Callable[[DayWindow, threading.Event], ResultT],
    *,
    max_concurrency: int,
    on_done: Callable[[ResultT], None] = lambda _: None,
    on_retry: Callable[[DayFailure], None] = lambda _: None,
) -> tuple[list[ResultT], list[DayFailure]]:
    """Fetch days concurrently; retry retryable failures once at the end; stop on fatal errors.

    Returns the successful days (in completion order) and the failures. A fatal error (a
    refused key, an invalid request) cancels the days not yet started and is re-raised.
    """
    cancelled = threading.Event()
    results: list[ResultT] = []
    failures: dict[str, DayFailure] = {}

    def run_round(round_windows: Sequence[DayWindow]) -> None:
        with ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="diga-day") as pool:
            pending: dict[Future[ResultT], DayWindow] = {
                pool.submit(fetch_day, window, cancelled): window for window in round_windows
            }
            fatal: BaseException | None = None
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    window = pending.pop(future)
                    try:
                        result = future.result()
                    except FATAL_RUN_ERRORS as exc:
                        cancelled.set()
                        for other in pending:
                            other.cancel()
                        fatal = fatal or exc
                    except Exception as exc:
                        failures[window.key] = DayFailure(window.key, exc)
                    else:
                        failures.pop(window.key, None)
                        results.append(result)
                        on_done(result)
            if fatal is not None:
                raise fatal

    with cyclic_gc_paused():
        run_round(windows)
        retry = [w for w in windows if w.key in failures and isinstance(failures[w.key].error, RETRYABLE_DAY_ERRORS)]
        for window in retry:
            on_retry(failures[window.key])
        if retry:
            run_round(retry)
    return results, sorted(failures.values(), key=lambda f: f.key)


class _CollectorPause:
    """How many blocks have the cycle collector paused, and whether it ran before the first:
    overlapping pauses (two runs' fetches in one process) end with the collector as it was."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.depth = 0
        self.was_enabled = False


_PAUSE = _CollectorPause()


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Python's cycle collector off for the block, back to what it was after.

    A page decodes into a thousand dicts, so collections come every few pages, and each full one
    walks every object of the process (Dagster's included) while every walk waits: stalls of
    100-250 ms in the middle of the day's request chains (BENCHMARKS.md, "One busy day alone").
    What the fetch allocates holds no cycles and is freed by reference counting; whatever cycles
    other code makes meanwhile wait for the collector's next pass once it is back on. No explicit
    collection on the way out: a full one walks the whole heap, 250 ms in a process that has
    loaded Dagster, paid by every run."""
    with _PAUSE.lock:
        if _PAUSE.depth == 0:
            _PAUSE.was_enabled = gc.isenabled()
            gc.disable()
        _PAUSE.depth += 1
    try:
        yield
    finally:
        with _PAUSE.lock:
            _PAUSE.depth -= 1
            if _PAUSE.depth == 0 and _PAUSE.was_enabled:
                gc.enable()
