"""Diga's contract as executable checks.

Every body the simulator serves can be validated against the document its status model follows:
the published pages of ``/v1/call/`` and ``/v1/phone/`` for the ``seed`` model, Diga's live OpenAPI
document for the ``current`` model, and the live document for the agents and transcript endpoints
in both (no published page covers them). The schemas are loaded from ``diga_assets.api.spec`` and resolved with
a ``referencing`` registry, never retyped here, so a simulator that drifts from its document
fails its own tests.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from diga_assets.api.spec import (
    AGENTS_PATH,
    CALLS_PATH,
    MESSAGES_PATH,
    PHONES_PATH,
    OpenApiDocument,
    live,
    seed_page,
)
from diga_assets.simulator import DigaSimulator, World

LIST_PATHS = (CALLS_PATH, PHONES_PATH)
API_PATHS = (*LIST_PATHS, AGENTS_PATH, MESSAGES_PATH)
ADMIN_PREFIX = "/_simulator/"
MODELS = ("seed", "current")
_ERROR_SCHEMA = "/components/schemas/ErrorResponseSchema"


class ContractViolation(AssertionError):
    """A served body does not match the document's schema."""


def document_for(path: str, model: str) -> OpenApiDocument:
    """The document a body served under ``model`` on ``path`` must follow."""
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")
    if model == "seed" and path in LIST_PATHS:
        return seed_page(path)
    return live()


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _schema_pointer(doc: OpenApiDocument, path: str, status: int) -> str:
    """The JSON pointer, in ``doc``, of the schema of a response; undocumented errors use ErrorResponseSchema."""
    responses = doc.operation(path)["responses"]
    documented = responses.get(str(status))
    if documented is None:
        if status < 400:
            raise ContractViolation(f"{doc.name}: GET {path} documents no {status} response")
        return _ERROR_SCHEMA
    if "schema" not in documented.get("content", {}).get("application/json", {}):
        raise ContractViolation(f"{doc.name}: GET {path} documents no JSON body for {status}")
    return "/".join(
        ("", "paths", _escape(path), "get", "responses", str(status), "content", _escape("application/json"), "schema")
    )


@cache
def _validator(path: str, model: str, pointer: str) -> Draft202012Validator:
    doc = document_for(path, model)
    uri = f"urn:diga-openapi:{doc.name}"
    resource = Resource.from_contents(doc.document, default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(uri, resource)
    return Draft202012Validator(
        {"$ref": f"{uri}#{pointer}"},
        registry=registry,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def validate_response(path: str, status: int, body: Any, *, model: str = "seed") -> None:
    """Raise ContractViolation unless ``body`` matches what ``model``'s document promises for ``status``.

    A 200 is checked against the endpoint's documented body (a page of calls, phones or a call's
    messages, the list of agents), an error against the status's documented schema, or ErrorResponseSchema when the
    document does not name the status. Paths outside the API take the calls endpoint's errors.
    """
    spec_path = path if path in API_PATHS else CALLS_PATH
    if path not in API_PATHS and status < 400:
        raise ContractViolation(f"{path} is not a Diga API path; no contract for status {status}")
    doc = document_for(spec_path, model)
    validator = _validator(spec_path, model, _schema_pointer(doc, spec_path, status))
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    if errors:
        raise ContractViolation(_describe(path, status, model, errors))


def _describe(path: str, status: int, model: str, errors: list[ValidationError]) -> str:
    lines = [f"GET {path} -> {status} ({model} model): {len(errors)} contract violation(s)"]
    for error in errors[:10]:
        where = "/".join(str(p) for p in error.absolute_path) or "<body>"
        lines.append(f"  at {where}: {error.message}")
    return "\n".join(lines)


# The bodies this process has already found valid, by endpoint, status, model and digest of their
# bytes. Most tests serve the same world on the same clock, so most pages are served again byte
# for byte; validating a page of a thousand calls takes tens of milliseconds, its digest much less.
_VALID_BODIES: set[tuple[str, int, str, bytes]] = set()


def validate_served_bodies(sim: DigaSimulator) -> None:
    """Validate every JSON body the simulator served against its world's status model."""
    model = sim.world.status_model
    problems = []
    for path, status, raw in sim.served_body_bytes:
        if path.startswith(ADMIN_PREFIX):
            continue
        seen = (path, status, model, hashlib.blake2b(raw, digest_size=16).digest())
        if seen in _VALID_BODIES:
            continue
        try:
            validate_response(path, status, orjson.loads(raw), model=model)
        except ContractViolation as violation:
            problems.append(str(violation))
        else:
            _VALID_BODIES.add(seen)
    if problems:
        raise ContractViolation("\n".join(problems[:5]))


StartSimulator = Callable[..., DigaSimulator]


@contextmanager
def served_simulators() -> Iterator[StartSimulator]:
    """Yield ``start(world, *, validate=True, **simulator_kwargs)``, which starts a simulator.

    On exit every simulator started is stopped, then each body it served is validated against
    its status model's document, unless it was started with ``validate=False`` (tests that plant
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
