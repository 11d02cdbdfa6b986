"""The contract check of served bodies, extended to ``GET /v1/call/{id}/message``.

``diga_assets_tests/contract.py`` knows the endpoints in its ``API_PATHS`` only; a transcript page
(filed by the simulator under ``MESSAGES_PATH``) would be refused there as "not a Diga API path".
This module checks transcript bodies against the live document's own operation for that path
(``PaginatedResponse_MessageResponse_`` for 200, the documented error schemas, and
``ErrorResponseSchema`` for statuses it does not name) with contract.py's validator machinery, and
hands every other body to contract.py unchanged. Once ``contract.API_PATHS`` includes
``MESSAGES_PATH`` this module can go: contract.py then does all of it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from diga_assets.api.spec import MESSAGES_PATH
from diga_assets.simulator import DigaSimulator, World
from diga_assets_tests import contract
from diga_assets_tests.contract import ContractViolation, StartSimulator


def validate_transcript_response(status: int, body: Any, *, model: str = "current") -> None:
    """Raise ContractViolation unless ``body`` is what the live document promises for a
    transcript answer with ``status`` (both models: only the live document has the endpoint)."""
    # contract.py's helpers are generic over the path; only its API_PATHS table lacks this one.
    doc = contract.document_for(MESSAGES_PATH, model)
    validator = contract._validator(MESSAGES_PATH, model, contract._schema_pointer(doc, MESSAGES_PATH, status))
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    if errors:
        raise ContractViolation(contract._describe(MESSAGES_PATH, status, model, errors))


def validate_served_bodies(sim: DigaSimulator) -> None:
    """``contract.validate_served_bodies``, transcript bodies included."""
    model = sim.world.status_model
    problems = []
    for path, status, body in sim.served_bodies:
        if path.startswith(contract.ADMIN_PREFIX):
            continue
        try:
            if path == MESSAGES_PATH:
                validate_transcript_response(status, body, model=model)
            else:
                contract.validate_response(path, status, body, model=model)
        except ContractViolation as violation:
            problems.append(str(violation))
    if problems:
        raise ContractViolation("\n".join(problems[:5]))


@contextmanager
def served_simulators() -> Iterator[StartSimulator]:
    """``contract.served_simulators`` whose check at exit covers transcript bodies too."""
    checked: list[DigaSimulator] = []
    with contract.served_simulators() as start:

        def start_checked(world: World, *, validate: bool = True, **simulator_kwargs: Any) -> DigaSimulator:
            # contract.py's own check would refuse transcript pages; this module runs the check.
            sim = start(world, validate=False, **simulator_kwargs)
            if validate:
                checked.append(sim)
            return sim

        yield start_checked
    for sim in checked:
        validate_served_bodies(sim)


def simulator_factory_fixture(**world_defaults: Any) -> Any:
    """``contract.simulator_factory_fixture`` over :func:`served_simulators`."""

    @pytest.fixture
    def factory() -> Iterator[StartSimulator]:
        with served_simulators() as start:

            def start_with_defaults(world: World | None = None, **kwargs: Any) -> DigaSimulator:
                return start(world if world is not None else World(**world_defaults), **kwargs)

            yield start_with_defaults

    return factory
