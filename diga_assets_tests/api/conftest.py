"""The API tests' simulators: the shared ``start_simulator``, whose check at teardown also covers
transcript bodies (``diga_assets_tests/contract.py`` does not know that endpoint yet; see
``diga_assets_tests/simulator/transcript_contract.py``). Drop this file once it does."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from diga_assets.simulator import DigaSimulator, FaultConfig, World
from diga_assets_tests.conftest import SIM_KEY, SIM_NOW
from diga_assets_tests.contract import StartSimulator
from diga_assets_tests.simulator.transcript_contract import served_simulators


@pytest.fixture
def start_simulator() -> Iterator[StartSimulator]:
    """The root conftest's ``start_simulator`` (same signature and world defaults), checked by
    :func:`~diga_assets_tests.simulator.transcript_contract.served_simulators`."""
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
