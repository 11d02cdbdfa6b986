"""Shared fixtures: a Diga API simulator on a free loopback port, its responses checked
against the published contract when the test ends."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from diga_assets.simulator import DigaSimulator, FaultConfig, World
from diga_assets_tests.contract import StartSimulator, served_simulators

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
