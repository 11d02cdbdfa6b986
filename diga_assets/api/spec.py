"""The published Diga OpenAPI pages, kept in the package as data.

The YAML files next to this module are verbatim copies of the OpenAPI blocks of Diga's
documentation pages for ``GET /v1/call/`` and ``GET /v1/phone/``. Everything that needs to know
what the API promises (enum values, required fields, limits) reads it from here, so the contract
is written down once.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

CALLS_PATH = "/v1/call/"
PHONES_PATH = "/v1/phone/"

_SPEC_FILES = {CALLS_PATH: "list-calls.yaml", PHONES_PATH: "list-phones.yaml"}
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@cache
def load_openapi(path: str) -> dict[str, Any]:
    """Return the parsed OpenAPI document for one endpoint path (``/v1/call/`` or ``/v1/phone/``)."""
    try:
        file_name = _SPEC_FILES[path]
    except KeyError:
        raise ValueError(f"no OpenAPI page is kept for {path!r}; known: {sorted(_SPEC_FILES)}") from None
    text = resources.files(__package__).joinpath("openapi").joinpath(file_name).read_text(encoding="utf-8")
    # libyaml's safe loader when PyYAML was built with it: an order of magnitude faster, and paid
    # by every process that loads the code location (the UI, each run, each CLI command).
    return yaml.load(text, Loader=_SAFE_LOADER)  # noqa: S506 - a safe loader either way


def component_schema(path: str, name: str) -> dict[str, Any]:
    """Return one schema from an endpoint's ``components.schemas``."""
    return load_openapi(path)["components"]["schemas"][name]


def enum_values(path: str, name: str) -> frozenset[str]:
    """Return the values an enum schema (e.g. ``CallStatus``) lists."""
    return frozenset(component_schema(path, name)["enum"])


@dataclass(frozen=True)
class QueryParameter:
    """One query parameter of an endpoint, as the spec declares it."""

    name: str
    kind: str  # "uuid", "date-time", "integer", "enum"
    minimum: int | None = None
    maximum: int | None = None
    default: Any = None
    choices: frozenset[str] | None = None


def _resolve_enum(doc: dict[str, Any], schema: dict[str, Any]) -> frozenset[str] | None:
    if "enum" in schema:
        return frozenset(schema["enum"])
    ref = schema.get("$ref")
    if ref:
        name = ref.rsplit("/", 1)[-1]
        return frozenset(doc["components"]["schemas"][name]["enum"])
    return None


@cache
def query_parameters(path: str) -> dict[str, QueryParameter]:
    """Return the endpoint's query parameters, keyed by name, read from the spec."""
    doc = load_openapi(path)
    operation = doc["paths"][path]["get"]
    params: dict[str, QueryParameter] = {}
    for raw in operation["parameters"]:
        schema = raw["schema"]
        # Nullable parameters are spelled anyOf: [<schema>, {type: null}].
        options = [s for s in schema.get("anyOf", [schema]) if s.get("type") != "null"]
        inner = options[0]
        choices = _resolve_enum(doc, inner)
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
