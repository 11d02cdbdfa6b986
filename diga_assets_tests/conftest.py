"""Shared fixtures: a Diga API simulator on a free loopback port, its responses checked
against the published contract when the test ends; an S3-compatible server on loopback, and
the storage parametrization that runs a test against a local directory and against a bucket."""

from __future__ import annotations

import gc
import signal
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from diga_assets.simulator import DigaSimulator, FaultConfig, World
from diga_assets_tests.contract import StartSimulator, served_simulators
from diga_assets_tests.demo_data import DemoRun, shared_demo_run
from diga_assets_tests.object_store import S3Server, forget_data_root, running_s3_server, use_data_root

# A fixed clock so every test sees the same synthetic company.
SIM_NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SIM_KEY = "sim-test-key-5f0c9e"


@pytest.fixture
def start_simulator() -> Iterator[StartSimulator]:
    """Start simulators on demand; stop them and validate every served body at teardown.

    ``start(*, world=None, faults=None, api_key=SIM_KEY, validate=True, **world_kwargs)``: without
    a world, one is built on the fixed clock (5 days, 100 calls a day unless ``world_kwargs`` say).
    """
    with served_simulators() as start:

        def start_on_fixed_clock(
            *,
            world: World | None = None,
            faults: FaultConfig | None = None,
            api_key: str = SIM_KEY,
            validate: bool = True,
            **world_kwargs: Any,
        ) -> DigaSimulator:
            if world is None:
                world_kwargs.setdefault("now", SIM_NOW)
                world_kwargs.setdefault("days", 5)
                world_kwargs.setdefault("calls_per_day", 100)
                world = World(**world_kwargs)
            return start(world, validate=validate, api_key=api_key, faults=faults)

        yield start_on_fixed_clock


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """moto's S3 server on 127.0.0.1, with the AWS chain of this process pointed at it."""
    with running_s3_server(tmp_path_factory.mktemp("aws")) as server:
        yield server


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """The demo, run once per test session (3 days, into a temporary data dir and DAGSTER_HOME)
    for every module that reads what it leaves; treat it as read-only."""
    return shared_demo_run(tmp_path_factory)


@pytest.fixture(params=["local", "s3"])
def each_storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Run the test twice: with its data in ``tmp_path/data``, and in a fresh prefix of a bucket
    (every ``storage_for(tmp_path)`` of the test follows). Yields which one."""
    if request.param == "s3":
        server = request.getfixturevalue("s3_server")
        use_data_root(tmp_path, server.new_root(request.node.name[:40]))
    try:
        yield request.param
    finally:
        forget_data_root(tmp_path)


def pytest_configure(config: pytest.Config) -> None:
    # A shell starts a background command (`make test &`) with SIGINT ignored, and a child inherits
    # an ignored signal across exec: the tests that press Ctrl-C on a command would then wait for
    # nothing. Children get SIGINT's default, as a command started in a terminal does.
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    # A test worker holds every module it imported (Dagster, pyarrow, DuckDB, moto) and the
    # pipelines its modules share: half a million objects, which each full pass of the cycle
    # collector walks (0.3-0.4 s a pass). Python's default allows a full pass after every 10
    # middle-generation ones; at 100 they are rarer, and short-lived cycles are still freed by the
    # younger passes (BENCHMARKS.md, "The test suite's CPU"). Only the test processes change: the
    # commands and workers they start keep the default.
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, 100)
    config.addinivalue_line(
        "markers", "local_only(reason): the test inspects local files; its bucket variant is not collected"
    )
    config.addinivalue_line(
        "markers",
        "one_storage(reason): what the test asserts is computed after the files are read (charts, "
        "output formats, a check's verdict), and a sibling test reads the same files from a bucket; "
        "its bucket variant is not collected",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Drop the bucket variant of tests marked ``local_only`` (they look at temp files beside a
    partition, directory listings, a WAL file: things a bucket does not have) or ``one_storage``
    (their assertion is about what happens after the read, which a bucket variant would repeat
    at twice the cost while a named sibling covers reading the bucket), and of tests that
    never reach a data root: every storage helper is keyed by ``tmp_path``, so a test that needs
    it only through ``each_storage`` stores nothing, and its bucket variant would repeat it."""
    kept, dropped = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_s3 = callspec is not None and callspec.params.get("each_storage") == "s3"
        if on_s3 and (_local_only(item) or not _uses_tmp_path(item)):
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    items[:] = _longest_first(kept)


# The slow families, longest first: the deployment (postgres and e2e), whole commands, the
# browser, the benchmarks. `make test` hands modules to the workers in collection order
# (--no-loadscope-reorder), so these start at once and the short modules fill in beside them;
# by default xdist sends the modules with the most tests first, and the deployment test, a
# module of one test, started last and ran alone at the end.
SLOW_FAMILIES = ("postgres", "e2e", "browser", "bench")


def _longest_first(items: list[pytest.Item]) -> list[pytest.Item]:
    """The items, modules of the slow families first: a module with more of them first, then by
    its first family in SLOW_FAMILIES. The order within a rank, and within a module, is kept."""

    def rank(item: pytest.Item) -> tuple[int, int]:
        families = [i for i, family in enumerate(SLOW_FAMILIES) if item.get_closest_marker(family)]
        return (-len(families), families[0] if families else len(SLOW_FAMILIES))

    module_rank: dict[str, tuple[int, int]] = {}
    for item in items:
        module = item.nodeid.split("::", 1)[0]
        module_rank[module] = min(module_rank.get(module, (0, len(SLOW_FAMILIES))), rank(item))
    return sorted(items, key=lambda item: module_rank[item.nodeid.split("::", 1)[0]])


def _local_only(item: pytest.Item) -> bool:
    return any(item.get_closest_marker(name) for name in ("local_only", "one_storage"))


def _uses_tmp_path(item: pytest.Item) -> bool:
    """Whether the test asks for ``tmp_path`` itself or through a fixture other than ``each_storage``."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return True
    seen: set[str] = set()
    pending = [name for name in info.argnames if name != "each_storage"]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        for definition in info.name2fixturedefs.get(name, ()):
            pending.extend(arg for arg in definition.argnames if arg != "each_storage")
    return "tmp_path" in seen
