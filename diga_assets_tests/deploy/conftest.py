"""Fixtures of the deployment tests: one PostgreSQL 15 server for the session, a fresh database
(and role) for each test that asks for one."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator

import pytest

from diga_assets_tests.deploy.postgres import PG_BIN, Database, Postgres, postgres_available, postgres_server


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """Debian's PostgreSQL 15 on a free loopback port; `.ci/run` installs it when missing."""
    if not postgres_available():
        if os.environ.get("DIGA_REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL 15 is required in {PG_BIN} (apt-get install postgresql-15)")
        pytest.skip(f"PostgreSQL 15 is not installed in {PG_BIN} (apt-get install postgresql-15); CI installs it")
    with postgres_server() as server:
        yield server


@pytest.fixture
def database(postgres: Postgres, request: pytest.FixtureRequest) -> Database:
    """An empty database owned by a role of its own, named after the test."""
    # PostgreSQL names are at most 63 bytes: a readable prefix, and a digest that keeps
    # parametrized tests apart.
    digest = hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:8]
    name = "t_" + re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:40] + "_" + digest
    return postgres.new_database(name)
