"""Fixtures for the simulator's own tests: small worlds on a fixed clock, served on free ports."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from diga_assets.simulator import DigaSimulator
from diga_assets_tests.contract import simulator_factory_fixture

# Tuesday 2024-05-14, 12:30 in Madrid: mid-morning traffic, and the window (3 days) holds the
# two calls created at exactly 2024-05-13T00:00:00Z.
FIXED_NOW = datetime(2024, 5, 14, 10, 30, tzinfo=UTC)
API_KEY = "sim-test-key"
CALLS = "/v1/call/"
PHONES = "/v1/phone/"
AGENTS = "/v1/agent/versions-dropdown/dashboard"
MESSAGES = "/v1/call/{id}/message"

# Every body a started simulator served is checked against its document at teardown.
make_simulator = simulator_factory_fixture(seed=7, now=FIXED_NOW, days=3, calls_per_day=60)


@pytest.fixture
def simulator(make_simulator: Callable[..., DigaSimulator]) -> DigaSimulator:
    """A started simulator over the small fixed world; its bodies are validated at teardown."""
    return make_simulator()


@pytest.fixture
def http() -> Iterator[requests.Session]:
    """A plain requests session that sends the simulator's key."""
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {API_KEY}"
        yield session


Get = Callable[..., requests.Response]


@pytest.fixture
def get(http: requests.Session, simulator: DigaSimulator) -> Get:
    """``get(path, **params)`` against the default simulator."""

    def call(path: str, sim: DigaSimulator | None = None, **params: Any) -> requests.Response:
        target = sim if sim is not None else simulator
        return http.get(target.base_url + path, params=params, timeout=10)

    return call
