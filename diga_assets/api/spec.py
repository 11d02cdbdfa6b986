"""Diga's API contract, kept in the package as data: the live OpenAPI document and the pages the
project was started from.

- ``live()``: ``openapi/live-openapi-2026-07.json``, Diga's OpenAPI document as the API is now
  (cut down to the endpoints a call-analytics pipeline reads, otherwise unchanged). It is the
  client's contract: what the client may ask, and what a record must hold.
- ``seed_page(path)``: ``openapi/list-calls.yaml`` and ``list-phones.yaml``, verbatim copies of the
  OpenAPI blocks of the published documentation pages for ``GET /v1/call/`` and
  ``GET /v1/phone/``. Only the simulator's ``seed`` status model follows them now.

Everything that needs to know what the API promises (enum values, required fields, limits)
reads it from here, so the contract is written down once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

CALLS_PATH = "/v1/call/"
PHONES_PATH = "/v1/phone/"
AGENTS_PATH = "/v1/agent/versions-dropdown/dashboard"
MESSAGES_PATH = "/v1/call/{id}/message"

# The live statuses of a call that is not over yet (LIVE-API.md): its transcript is still growing.
UNFINISHED_CALL_STATUSES = frozenset({"dialing", "in_queue", "in_progress"})

LIVE_DOCUMENT = "live-openapi-2026-07.json"
_SEED_PAGES = {CALLS_PATH: "list-calls.yaml", PHONES_PATH: "list-phones.yaml"}
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class QueryParameter:
    """One query parameter of an endpoint, as the spec declares it."""

    name: str
    kind: str  # "uuid", "date-time", "integer", "enum"
    minimum: int | None = None
    maximum: int | None = None
    default: Any = None
    choices: frozenset[str] | None = None


class OpenApiDocument:
    """One parsed OpenAPI document, with the lookups the project makes in it."""

    def __init__(self, name: str, document: dict[str, Any]) -> None:
        self.name = name
        self.document = document
        self._parameters: dict[str, dict[str, QueryParameter]] = {}

    def __repr__(self) -> str:
        return f"OpenApiDocument({self.name!r})"

    @property
    def paths(self) -> frozenset[str]:
        """The endpoint paths the document describes."""
        return frozenset(self.document["paths"])

    def schema(self, name: str) -> dict[str, Any]:
        """One schema from ``components.schemas``."""
        return self.document["components"]["schemas"][name]

    def enum_values(self, name: str) -> frozenset[str]:
        """The values an enum schema (e.g. ``CallStatus``) lists."""
        return frozenset(self.schema(name)["enum"])

    def operation(self, path: str) -> dict[str, Any]:
        """The ``GET`` operation of an endpoint path."""
        try:
            return self.document["paths"][path]["get"]
        except KeyError:
            raise ValueError(f"{self.name} has no GET {path}; known: {sorted(self.paths)}") from None

    def query_parameters(self, path: str) -> dict[str, QueryParameter]:
        """The endpoint's query parameters (not its path parameters), keyed by name."""
        if path not in self._parameters:
            self._parameters[path] = self._read_parameters(path)
        return self._parameters[path]

    def _read_parameters(self, path: str) -> dict[str, QueryParameter]:
        params: dict[str, QueryParameter] = {}
        for raw in self.operation(path).get("parameters", []):
            if raw.get("in", "query") != "query":
                continue
            schema = raw["schema"]
            # Nullable parameters are spelled anyOf: [<schema>, {type: null}].
            options = [s for s in schema.get("anyOf", [schema]) if s.get("type") != "null"]
            inner = options[0]
            choices = self._resolve_enum(inner)
            if choices is not None:
                kind = "enum"
            elif inner.get("format") in ("uuid", "date-time"):
                kind = inner["format"]
            elif inner.get("type") == "integer":
                kind = "integer"
            else:
                kind = inner.get("type", "string")
            params[raw["name"]] = QueryParameter(
                name=raw["name"],
                kind=kind,
                minimum=inner.get("minimum"),
                maximum=inner.get("maximum"),
                default=schema.get("default", inner.get("default")),
                choices=choices,
            )
        return params

    def _resolve_enum(self, schema: dict[str, Any]) -> frozenset[str] | None:
        if "enum" in schema:
            return frozenset(schema["enum"])
        ref = schema.get("$ref")
        if ref:
            return frozenset(self.schema(ref.rsplit("/", 1)[-1])["enum"])
        return None


def _read(file_name: str) -> str:
    return resources.files(__package__).joinpath("openapi").joinpath(file_name).read_text(encoding="utf-8")


@cache
def live() -> OpenApiDocument:
    """Diga's API as it is now: the client's contract."""
    return OpenApiDocument(LIVE_DOCUMENT, json.loads(_read(LIVE_DOCUMENT)))


@cache
def seed_page(path: str) -> OpenApiDocument:
    """The published documentation page of ``/v1/call/`` or ``/v1/phone/`` (the simulator's seed model)."""
    try:
        file_name = _SEED_PAGES[path]
    except KeyError:
        raise ValueError(f"no published page is kept for {path!r}; known: {sorted(_SEED_PAGES)}") from None
    # libyaml's safe loader when PyYAML was built with it: an order of magnitude faster, and paid
    # by every process that loads the simulator.
    return OpenApiDocument(file_name, yaml.load(_read(file_name), Loader=_SAFE_LOADER))  # noqa: S506 - a safe loader
