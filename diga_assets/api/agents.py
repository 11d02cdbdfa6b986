"""Agents to Arrow: ``GET /v1/agent/versions-dropdown/dashboard`` as one row per (agent, version).

The endpoint answers every agent with its name and a list of versions. Analyses join calls to
agents by ``agent_id`` and to versions by ``agent_version_id``, so the table is flat: one row per
version, carrying its agent's id and name, and one row with the version columns NULL for an agent
that has no version. What is required, nullable and what each field means is read from the live
OpenAPI document, as for the other tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cached_property
from typing import Any

import pyarrow as pa

from diga_assets.api import spec
from diga_assets.api.records import MISSING, UTC_MICROS, RecordError

_AGENT_SCHEMA = "AgentWithVersionsDropdownResponse"
_VERSION_SCHEMA = "VersionItem"

# (column, schema, field, Arrow type) in file order; the agent's fields first.
_COLUMNS: tuple[tuple[str, str, str, pa.DataType], ...] = (
    ("agent_id", _AGENT_SCHEMA, "agent_id", pa.string()),
    ("agent_name", _AGENT_SCHEMA, "name", pa.string()),
    ("version_id", _VERSION_SCHEMA, "version_id", pa.string()),
    ("version_name", _VERSION_SCHEMA, "version_name", pa.string()),
    ("version_number", _VERSION_SCHEMA, "version_number", pa.int64()),
    ("is_published", _VERSION_SCHEMA, "is_published", pa.bool_()),
    ("is_draft", _VERSION_SCHEMA, "is_draft", pa.bool_()),
)
_PYTHON_TYPES: dict[pa.DataType, tuple[type, str]] = {
    pa.string(): (str, "a string"),
    pa.int64(): (int, "an integer"),
    pa.bool_(): (bool, "true or false"),
}


class AgentVersionsTable:
    """The agents listing as a flat table of versions, plus the ``observed_at`` stamp."""

    endpoint = spec.AGENTS_PATH
    stamp_column = "observed_at"

    @cached_property
    def arrow_schema(self) -> pa.Schema:
        """The explicit schema of every agents file, an empty listing's included."""
        doc = spec.live()
        fields = []
        for column, schema_name, field, arrow_type in _COLUMNS:
            schema = doc.schema(schema_name)
            description = " ".join(schema["properties"][field].get("description", "").split())
            if schema_name == _VERSION_SCHEMA:
                description += " (NULL on the one row of an agent without versions)"
            nullable = column != "agent_id"
            fields.append(pa.field(column, arrow_type, nullable=nullable, metadata={"doc": description}))
        stamp_doc = "When the agents were observed in this state: the real fetch time (UTC)."
        fields.append(pa.field(self.stamp_column, UTC_MICROS, nullable=False, metadata={"doc": stamp_doc}))
        return pa.schema(fields)

    @cached_property
    def _rules(self) -> dict[tuple[str, str], tuple[bool, bool, Any]]:
        """(schema, field) -> (required, nullable, default), read from the live document."""
        rules = {}
        doc = spec.live()
        for schema_name in (_AGENT_SCHEMA, _VERSION_SCHEMA):
            schema = doc.schema(schema_name)
            required = set(schema.get("required", []))
            for field, prop in schema["properties"].items():
                options = prop.get("anyOf", [prop])
                nullable = any(option.get("type") == "null" for option in options)
                rules[(schema_name, field)] = (field in required, nullable, prop.get("default"))
        return rules

    def to_table(self, records: Sequence[Any], observed_at: datetime) -> pa.Table:
        """Flatten the listing; raises ``RecordError`` naming the agent and the field at fault."""
        rows: list[dict[str, Any]] = []
        for record in records:
            if not isinstance(record, dict):
                raise RecordError(self.endpoint, None, "<record>", record, "is not a JSON object")
            agent = {
                column: self._value(record, record, schema, field, column) for column, schema, field, _ in _COLUMNS[:2]
            }
            versions = record.get("versions")
            if not isinstance(versions, list):
                raise RecordError(self.endpoint, record.get("agent_id"), "versions", versions, "is not a JSON array")
            if not versions:
                rows.append({**agent, **dict.fromkeys(column for column, *_ in _COLUMNS[2:])})
            for index, version in enumerate(versions):
                if not isinstance(version, dict):
                    where = f"versions[{index}]"
                    raise RecordError(self.endpoint, record.get("agent_id"), where, version, "is not a JSON object")
                rows.append(
                    {
                        **agent,
                        **{
                            column: self._value(record, version, schema, field, f"versions[{index}].{field}")
                            for column, schema, field, _ in _COLUMNS[2:]
                        },
                    }
                )
        arrays = [pa.array([row[column] for row in rows], type=arrow_type) for column, *_, arrow_type in _COLUMNS]
        arrays.append(pa.repeat(pa.scalar(observed_at, type=UTC_MICROS), len(rows)))
        return pa.Table.from_arrays(arrays, schema=self.arrow_schema)

    def _value(self, agent: dict[str, Any], holder: dict[str, Any], schema: str, field: str, where: str) -> Any:
        required, nullable, default = self._rules[(schema, field)]
        agent_id = agent.get("agent_id")
        if field not in holder:
            if required:
                raise RecordError(self.endpoint, agent_id, where, MISSING, "is required but missing")
            return default
        value = holder[field]
        if value is None:
            if not nullable:
                raise RecordError(self.endpoint, agent_id, where, None, "must not be null")
            return None
        arrow_type = next(t for column, s, f, t in _COLUMNS if (s, f) == (schema, field))
        python_type, noun = _PYTHON_TYPES[arrow_type]
        # bool is an int in Python; neither may stand for the other here.
        if not isinstance(value, python_type) or (python_type is int and isinstance(value, bool)):
            raise RecordError(self.endpoint, agent_id, where, value, f"is not {noun}")
        return value


AGENT_VERSIONS = AgentVersionsTable()
