"""The published Diga contract as executable checks.

Every body the simulator serves can be validated against the OpenAPI pages kept in the package:
the schemas are loaded from ``diga_assets.api.spec`` and resolved with a ``referencing`` registry,
never retyped here, so a simulator that drifts from the spec fails its own tests.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from diga_assets.api.spec import CALLS_PATH, PHONES_PATH, seed_page
from diga_assets.simulator import DigaSimulator, World
from diga_assets.simulator.world import CURRENT_MODEL_ENUM_ADDITIONS

API_PATHS = (CALLS_PATH, PHONES_PATH)
ADMIN_PREFIX = "/_simulator/"


class ContractViolation(AssertionError):
    """A served body does not match the published schema."""


def _schema_ref(path: str, status: int) -> str:
    """The ``$ref`` the spec gives for a response; undocumented errors use the 500 error schema."""
    responses = seed_page(path).operation(path)["responses"]
    documented = responses.get(str(status))
    if documented is None:
        if status < 400:
            raise ContractViolation(f"GET {path} documents no {status} response")
        documented = responses["500"]
    return documented["content"]["application/json"]["schema"]["$ref"]


@cache
def _validator(path: str, ref: str, newer_model: bool) -> Draft202012Validator:
    document = seed_page(path).document
    if newer_model:
        document = copy.deepcopy(document)
        schemas = document["components"]["schemas"]
        for name, extra in CURRENT_MODEL_ENUM_ADDITIONS.items():
            if name in schemas:
                schemas[name]["enum"] = [*schemas[name]["enum"], *extra]
    uri = f"urn:diga-openapi:{path.strip('/').replace('/', ':')}"
    resource = Resource.from_contents(document, default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(uri, resource)
    return Draft202012Validator(
        {"$ref": uri + ref},
        registry=registry,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def validate_response(path: str, status: int, body: Any, *, newer_model: bool = False) -> None:
    """Raise ContractViolation unless ``body`` matches what the spec promises for ``status``.

    200 is checked against the endpoint's PaginatedResponse schema, 4xx/5xx against
    ErrorResponseSchema (paths outside the API use the calls page's, which is identical).
    ``newer_model`` admits the enum values Diga's newer API added (``in_queue``,
    ``pending_verification``), which the published pages do not list yet.
    """
    spec_path = path if path in API_PATHS else CALLS_PATH
    if path not in API_PATHS and status < 400:
        raise ContractViolation(f"{path} is not a Diga API path; no contract for status {status}")
    validator = _validator(spec_path, _schema_ref(spec_path, status), newer_model)
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    if errors:
        raise ContractViolation(_describe(path, status, errors))


def _describe(path: str, status: int, errors: list[ValidationError]) -> str:
    lines = [f"GET {path} -> {status}: {len(errors)} contract violation(s)"]
    for error in errors[:10]:
        where = "/".join(str(p) for p in error.absolute_path) or "<body>"
        lines.append(f"  at {where}: {error.message}")
    return "\n".join(lines)


def validate_served_bodies(sim: DigaSimulator) -> None:
    """Validate every JSON body the simulator served (its status model picks the enum set)."""
    newer = sim.world.status_model == "current"
    problems = []
    for path, status, body in sim.served_bodies:
        if path.startswith(ADMIN_PREFIX):
            continue
        try:
            validate_response(path, status, body, newer_model=newer)
        except ContractViolation as violation:
            problems.append(str(violation))
    if problems:
        raise ContractViolation("\n".join(problems[:5]))


StartSimulator = Callable[..., DigaSimulator]


@contextmanager
def served_simulators() -> Iterator[StartSimulator]:
    """Yield ``start(world, *, validate=True, **simulator_kwargs)``, which starts a simulator.

    On exit every simulator started is stopped, then each body it served is validated against
    the published schemas, unless it was started with ``validate=False`` (tests that plant
    spec-breaking records on purpose).
    """
    started: list[tuple[DigaSimulator, bool]] = []

    def start(world: World, *, validate: bool = True, **simulator_kwargs: Any) -> DigaSimulator:
        sim = DigaSimulator(world, **simulator_kwargs)
        sim.start()
        started.append((sim, validate))
        return sim

    try:
        yield start
    finally:
        for sim, _ in started:
            sim.stop()
    for sim, validate in started:
        if validate:
            validate_served_bodies(sim)


def simulator_factory_fixture(**world_defaults: Any) -> Any:
    """Build a pytest fixture over :func:`served_simulators` whose world defaults to ``world_defaults``.

    The fixture yields ``start(world=None, *, validate=True, **simulator_kwargs)``.
    """

    @pytest.fixture
    def factory() -> Iterator[StartSimulator]:
        with served_simulators() as start:

            def start_with_defaults(world: World | None = None, **kwargs: Any) -> DigaSimulator:
                return start(world if world is not None else World(**world_defaults), **kwargs)

            yield start_with_defaults

    return factory
