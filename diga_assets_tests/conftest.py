"""Shared fixtures: a Diga API simulator on a free loopback port, its responses checked
against the published contract when the test ends."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from diga_assets.simulator import DigaSimulator, FaultConfig, World
from diga_assets_tests.contract import validate_served_bodies

# A fixed clock so every test sees the same synthetic company.
SIM_NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SIM_KEY = "sim-test-key-5f0c9e"

StartSimulator = Callable[..., DigaSimulator]


@pytest.fixture
def start_simulator() -> Iterator[StartSimulator]:
    """Start simulators on demand; stop them and validate every served body at teardown."""
    started: list[tuple[DigaSimulator, bool]] = []

    def start(
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
        sim = DigaSimulator(world, api_key=api_key, faults=faults)
        sim.start()
        started.append((sim, validate))
        return sim

    yield start
    for sim, _ in started:
        sim.stop()
    for sim, validate in started:
        if validate:
            validate_served_bodies(sim)
