"""API records to Arrow: one explicit schema per endpoint, declared once.

The column list (name, where it comes from in the JSON, Arrow type) is declared here; whether a
field is required, nullable, and what it means is read from Diga's live OpenAPI document
(``spec.live()``), so the Parquet files, the column docs in the Dagster UI and the checks all
agree with the contract.

A page that keeps the contract converts in bulk: Arrow turns the whole page into a struct array
in one call and parses the RFC 3339 date-times (any offset), and the spec's rules are checked on
key sets and null counts. A page it refuses is converted again column by column, which names the
record id, the field and the value at fault.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any, Literal

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from diga_assets.api import spec

UTC_MICROS = pa.timestamp("us", tz="UTC")

ColumnKind = Literal["string", "timestamp", "int64", "json"]
_ARROW_TYPES: dict[ColumnKind, pa.DataType] = {
    "string": pa.string(),
    "timestamp": UTC_MICROS,
    "int64": pa.int64(),
    "json": pa.string(),
}


# The value of a field that is not there at all (as opposed to a JSON null).
MISSING = object()

# Fields (column names and JSON paths) holding a caller's phone number, a recording link that
# carries its own access signature, the agent's dynamic variables (customer names and ids in
# practice), a payment link, a SIP trunk's login, what was said in a call or passed to a tool
# during it (a transcript's content and tool calls: names, dates, order numbers), plus "<record>"
# (a whole record holds them all). Their values are personal data or credentials: an error about
# them names the record and the field, never the value, since error messages end up in run logs
# and in the Dagster UI.
SENSITIVE_FIELDS = frozenset(
    {
        "contact_identifier",
        "contact.identifier",
        "recording_url",
        "dynamic_variables",
        "checkout_url",
        "sip_config",
        "content",
        "tool_call",
        "<record>",
    }
)


class RecordError(ValueError):
    """A record does not follow the contract: names the record, the field and the value.

    The value is withheld (only its type is named) for ``SENSITIVE_FIELDS``.
    """

    def __init__(self, endpoint: str, record_id: Any, field: str, value: Any, problem: str) -> None:
        message = f"{endpoint} record id={record_id!r}: field {field!r} {problem}"
        if value is not MISSING and value is not None and field in SENSITIVE_FIELDS:
            message += f" (value withheld, personal data; type {type(value).__name__})"
        elif value is not MISSING:
            shown = repr(value)
            message += f" (value: {shown[:117] + '...' if len(shown) > 120 else shown})"
        super().__init__(message)
        self.endpoint = endpoint
        self.record_id = record_id
        self.field = field
        self.value = value
        self.problem = problem


@dataclass(frozen=True)
class Column:
    """One output column and the JSON path it is read from (``("contact", "id")``)."""

    name: str
    source: tuple[str, ...]
    kind: ColumnKind


@dataclass(frozen=True)
class FieldRule:
    """What the spec says of one source field."""

    required: bool
    nullable: bool
    description: str
    enum: frozenset[str] | None
    # The JSON container the field holds ("object" or "array"), for fields kept as JSON text.
    container: str | None = None


class RecordTable:
    """The Arrow table for one endpoint's records, plus the stamp column added on fetch."""

    def __init__(
        self,
        *,
        endpoint: str,
        record_schema: str,
        columns: Sequence[Column],
        stamp_column: str,
        stamp_description: str,
    ) -> None:
        self.endpoint = endpoint
        self.record_schema = record_schema
        self.columns = tuple(columns)
        self.stamp_column = stamp_column
        self.stamp_description = stamp_description

    # ------------------------------------------------------------- contract

    @cached_property
    def rules(self) -> dict[tuple[str, ...], FieldRule]:
        """Spec rules for every source path, read from the OpenAPI components."""
        doc = spec.live()
        rules: dict[tuple[str, ...], FieldRule] = {}
        # Objects whose fields are columns of their own (contact.id, ...); any other object is
        # kept whole, as JSON text, and its inside is not the table's business.
        nested_parents = {col.source[:-1] for col in self.columns if len(col.source) > 1}

        def walk(schema_name: str, prefix: tuple[str, ...]) -> None:
            schema = doc.schema(schema_name)
            required = set(schema.get("required", []))
            for name, prop in schema["properties"].items():
                options = prop.get("anyOf", [prop])
                nullable = any(o.get("type") == "null" for o in options)
                ref = next((o["$ref"] for o in options if "$ref" in o), None)
                target = doc.schema(ref.rsplit("/", 1)[-1]) if ref else {}
                kinds = {o.get("type") for o in (*options, target)}
                rules[(*prefix, name)] = FieldRule(
                    required=name in required,
                    nullable=nullable,
                    description=" ".join(prop.get("description", prop.get("title", "")).split()),
                    enum=frozenset(target["enum"]) if "enum" in target else None,
                    container="object" if "object" in kinds else "array" if "array" in kinds else None,
                )
                # Parents before children, so a missing object is named rather than its first field.
                if "properties" in target and (*prefix, name) in nested_parents:
                    walk(ref.rsplit("/", 1)[-1], (*prefix, name))

        walk(self.record_schema, ())
        return rules

    @cached_property
    def known_top_level_fields(self) -> frozenset[str]:
        """Top-level fields the spec names; anything else goes to ``extra_fields``."""
        return frozenset(path[0] for path in self.rules)

    @cached_property
    def required_paths(self) -> tuple[tuple[str, ...], ...]:
        """Source paths whose key must be present (parents of nested paths are required too)."""
        return tuple(path for path, rule in self.rules.items() if rule.required)

    @cached_property
    def _required_top_level(self) -> frozenset[str]:
        return frozenset(path[0] for path in self.required_paths if len(path) == 1)

    @cached_property
    def _deep_required_paths(self) -> tuple[tuple[str, ...], ...]:
        """Required paths three or more levels deep (none in today's spec), beyond the key sets."""
        return tuple(path for path in self.required_paths if len(path) > 2)

    @cached_property
    def _nested_required(self) -> tuple[tuple[str, frozenset[str]], ...]:
        """(parent, required children) for the spec's two-level paths (``contact``: id, ...)."""
        parents = sorted({path[0] for path in self.required_paths if len(path) == 2})
        return tuple(
            (parent, frozenset(p[1] for p in self.required_paths if len(p) == 2 and p[0] == parent))
            for parent in parents
        )

    @cached_property
    def _known_nested_fields(self) -> dict[str, frozenset[str]]:
        """Parent object name to the child fields the spec names (``contact`` -> id, ...)."""
        parents = {path[0] for path in self.rules if len(path) > 1}
        return {
            parent: frozenset(path[1] for path in self.rules if len(path) == 2 and path[0] == parent)
            for parent in parents
        }

    def enum_values(self, column: str) -> frozenset[str] | None:
        """The values the spec lists for a column, or ``None`` when it is free text."""
        for col in self.columns:
            if col.name == column:
                rule = self.rules.get(col.source)
                return rule.enum if rule else None
        raise KeyError(column)

    @cached_property
    def enum_columns(self) -> tuple[str, ...]:
        """Columns whose values the spec enumerates (status, type, ...)."""
        return tuple(c.name for c in self.columns if (r := self.rules.get(c.source)) and r.enum)

    @cached_property
    def arrow_schema(self) -> pa.Schema:
        """The explicit schema of every file this table writes, an empty day's included."""
        fields = []
        for col in self.columns:
            rule = self.rules.get(col.source)
            if col.name == "extra_fields":
                doc = "Fields the API sent that the published spec does not name, as JSON text (NULL if none)."
                nullable = True
            else:
                assert rule is not None, f"{col.source} is not in the spec"
                doc = rule.description
                nullable = rule.nullable or not rule.required
                if col.kind == "json":
                    doc += " (JSON text)"
            fields.append(pa.field(col.name, _ARROW_TYPES[col.kind], nullable=nullable, metadata={"doc": doc}))
        fields.append(pa.field(self.stamp_column, UTC_MICROS, nullable=False, metadata={"doc": self.stamp_description}))
        return pa.schema(fields)

    def column_docs(self) -> dict[str, str]:
        """Column name to description, for the Dagster column schema."""
        return {f.name: f.metadata[b"doc"].decode() for f in self.arrow_schema}

    def empty_table(self) -> pa.Table:
        """A table with no rows and the full schema."""
        return self.arrow_schema.empty_table()

    # ------------------------------------------------------------- conversion

    def to_record_batch(self, records: Sequence[dict[str, Any]], stamp: datetime) -> pa.RecordBatch:
        """Convert one page of records. Raises ``RecordError`` for a record that breaks the spec.

        A page whose records all keep the contract takes the bulk path: Arrow converts the whole
        page in one call, and the spec's rules are checked on sets of keys and on null counts
        rather than record by record. Anything the bulk path does not accept is converted again
        column by column, which either succeeds or names the record, field and value at fault;
        both paths give the same batch for the same records.
        """
        batch = self._bulk_record_batch(records, stamp)
        return batch if batch is not None else self._checked_record_batch(records, stamp)

    @staticmethod
    def _stamps(stamp: datetime, count: int) -> pa.Array:
        # One scalar repeated in Arrow: a list of ``count`` datetimes converted one by one holds
        # the interpreter lock on the ingest's critical path.
        return pa.repeat(pa.scalar(stamp, type=UTC_MICROS), count)

    def _checked_record_batch(self, records: Sequence[dict[str, Any]], stamp: datetime) -> pa.RecordBatch:
        self._check_shape(records)
        arrays = [self._column_array(col, records) for col in self.columns]
        arrays.append(self._stamps(stamp, len(records)))
        return pa.RecordBatch.from_arrays(arrays, schema=self.arrow_schema)

    @cached_property
    def _bulk_plan(self) -> tuple[pa.StructType, dict[str, list[int]]] | None:
        """The struct type Arrow converts a page into, and each column's index path within it.

        Text and date-time columns one or two levels deep go through the struct (date-times as
        text, cast afterwards). Integers stay out: Arrow would silently truncate 1.5 to 1.
        ``None`` when the spec requires fields deeper than the key-set checks look.
        """
        if self._deep_required_paths:
            return None
        top: dict[str, pa.DataType | dict[str, pa.DataType]] = {}
        for col in self.columns:
            if col.kind in ("string", "timestamp") and len(col.source) == 1:
                top[col.source[0]] = pa.string()
            elif col.kind in ("string", "timestamp") and len(col.source) == 2:
                children = top.setdefault(col.source[0], {})
                assert isinstance(children, dict), f"{col.source[0]} is both a column and an object"
                children[col.source[1]] = pa.string()
        fields = [
            pa.field(name, pa.struct(list(kind.items())) if isinstance(kind, dict) else kind)
            for name, kind in top.items()
        ]
        names = list(top)
        paths: dict[str, list[int]] = {}
        for col in self.columns:
            if col.kind not in ("string", "timestamp") or len(col.source) not in (1, 2):
                continue
            parent = names.index(col.source[0])
            if len(col.source) == 1:
                paths[col.name] = [parent]
            else:
                children = top[col.source[0]]
                assert isinstance(children, dict)
                paths[col.name] = [parent, list(children).index(col.source[1])]
        return pa.struct(fields), paths

    @cached_property
    def _non_null_columns(self) -> frozenset[str]:
        """Columns whose source field the spec requires and does not allow to be null."""
        return frozenset(
            col.name
            for col in self.columns
            if (rule := self.rules.get(col.source)) is not None and rule.required and not rule.nullable
        )

    def _bulk_record_batch(self, records: Sequence[dict[str, Any]], stamp: datetime) -> pa.RecordBatch | None:
        """The page as a batch when every record keeps the contract, else ``None``."""
        if self._bulk_plan is None:
            return None
        struct_type, paths = self._bulk_plan
        has_unknown_fields = self._keys_keep_contract(records)
        if has_unknown_fields is None:
            return None
        try:
            struct = pa.array(records, type=struct_type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            return None
        texts = {name: pc.struct_field(struct, path) for name, path in paths.items()}
        if any(texts[name].null_count for name in self._non_null_columns & texts.keys()):
            return None
        arrays = []
        for col in self.columns:
            if col.name in texts:
                text = texts[col.name]
                arrays.append(self._timestamps(col, records, text) if col.kind == "timestamp" else text)
            elif col.name == "extra_fields" and not has_unknown_fields:
                arrays.append(pa.nulls(len(records), pa.string()))
            else:
                arrays.append(self._column_array(col, records))
        arrays.append(self._stamps(stamp, len(records)))
        return pa.RecordBatch.from_arrays(arrays, schema=self.arrow_schema)

    def _keys_keep_contract(self, records: Sequence[dict[str, Any]]) -> bool | None:
        """Whether any record has fields the spec does not name; ``None`` when a record is not an
        object, lacks a required key, or holds a nested object that is not one.

        Checked once per distinct set of keys (a page has one or a few), not once per record.
        """
        if not all(type(record) is dict for record in records):
            return None
        unknown = False
        for keys in set(map(frozenset, records)):
            if not self._required_top_level <= keys:
                return None
            unknown = unknown or not keys <= self.known_top_level_fields
        required_children = dict(self._nested_required)
        for parent, known in self._known_nested_fields.items():
            nested = [record.get(parent) for record in records]
            if not all(type(value) is dict for value in nested):
                return None
            for keys in set(map(frozenset, nested)):
                if not required_children.get(parent, frozenset()) <= keys:
                    return None
                unknown = unknown or not keys <= known
        return unknown

    def _check_shape(self, records: Sequence[dict[str, Any]]) -> None:
        # Only pages the bulk path refused come here, so every record is walked field by field:
        # the walk is what names the first record, and the field, that breaks the contract.
        for record in records:
            if not isinstance(record, dict):
                raise RecordError(self.endpoint, None, "<record>", record, "is not a JSON object")
            self._name_the_broken_field(record)

    def _name_the_broken_field(self, record: dict[str, Any]) -> None:
        # Parents come before their children in required_paths, so a missing or null parent
        # that the spec requires has been named at its own path before its children are reached.
        for path in self.required_paths:
            parent = _lookup(record, path[:-1])
            if parent is MISSING or parent is None:
                continue
            if not isinstance(parent, dict):
                raise RecordError(self.endpoint, record.get("id"), ".".join(path[:-1]), parent, "is not a JSON object")
            field = ".".join(path)
            if path[-1] not in parent:
                raise RecordError(self.endpoint, record.get("id"), field, MISSING, "is required but missing")
            if parent[path[-1]] is None and not self.rules[path].nullable:
                raise RecordError(self.endpoint, record.get("id"), field, None, "must not be null")

    def _column_array(self, col: Column, records: Sequence[dict[str, Any]]) -> pa.Array:
        if col.name == "extra_fields":
            return pa.array([self._extra_fields(r) for r in records], type=pa.string())
        if len(col.source) == 1:
            key = col.source[0]
            values = [r.get(key) for r in records]
        elif len(col.source) == 2:
            parent, key = col.source
            values = [c.get(key) if isinstance(c := r.get(parent), dict) else None for r in records]
        else:
            values = [_lookup_or_none(r, col.source) for r in records]
        if col.kind == "json":
            return self._json_array(col, records, values)
        if col.kind == "int64":
            for record, value in zip(records, values, strict=True):
                if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                    raise RecordError(self.endpoint, record.get("id"), col.name, value, "is not an integer")
            try:
                return pa.array(values, type=pa.int64())
            except OverflowError:
                bad = next(
                    (r, v)
                    for r, v in zip(records, values, strict=True)
                    if v is not None and not _INT64_MIN <= v <= _INT64_MAX
                )
                raise RecordError(
                    self.endpoint, bad[0].get("id"), col.name, bad[1], "does not fit in 64 bits"
                ) from None
        try:
            strings = pa.array(values, type=pa.string())
        except (pa.ArrowTypeError, pa.ArrowInvalid):
            bad = next((r, v) for r, v in zip(records, values, strict=True) if v is not None and not isinstance(v, str))
            raise RecordError(self.endpoint, bad[0].get("id"), col.name, bad[1], "is not a string") from None
        if col.kind == "string":
            return strings
        return self._timestamps(col, records, strings)

    def _timestamps(self, col: Column, records: Sequence[dict[str, Any]], strings: pa.Array) -> pa.Array:
        """RFC 3339 text to UTC instants: Arrow parses in bulk; what it cannot, Python parses.

        Both parsers see only values that match the RFC 3339 grammar: Arrow's alone would also
        take ``T10Z`` or ``+0530``, and a value must not convert or fail depending on its page.
        """
        spelled_right = pc.match_substring_regex(strings, f"^(?:{_RFC3339_GRAMMAR})$")
        if spelled_right.null_count == len(strings) or pc.all(spelled_right).as_py():
            try:
                return strings.cast(UTC_MICROS)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                pass
        # A value off the grammar, or one Arrow's parser does not know (a lowercase t or z, more
        # than six fractional digits): parse one by one, naming the first that is not an instant.
        instants = []
        for record, value in zip(records, strings.to_pylist(), strict=True):
            instant = None if value is None else parse_instant(value)
            if value is not None and instant is None:
                raise RecordError(
                    self.endpoint, record.get("id"), col.name, value, "is not an RFC 3339 date-time with a UTC offset"
                )
            instants.append(instant)
        return pa.array(instants, type=UTC_MICROS)

    def _json_array(self, col: Column, records: Sequence[dict[str, Any]], values: list[Any]) -> pa.Array:
        container = self.rules[col.source].container
        expected, noun = (list, "a JSON array") if container == "array" else (dict, "a JSON object")
        texts: list[str | None] = []
        for record, value in zip(records, values, strict=True):
            if value is None:
                texts.append(None)
            elif isinstance(value, expected):
                texts.append(orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode())
            else:
                raise RecordError(self.endpoint, record.get("id"), col.name, value, f"is not {noun}")
        return pa.array(texts, type=pa.string())

    def _extra_fields(self, record: dict[str, Any]) -> str | None:
        extra = {k: record[k] for k in record.keys() - self.known_top_level_fields}
        for parent, known in self._known_nested_fields.items():
            nested = record.get(parent)
            if isinstance(nested, dict) and (unknown_keys := nested.keys() - known):
                extra[parent] = {k: nested[k] for k in unknown_keys}
        if not extra:
            return None
        return orjson.dumps(extra, option=orjson.OPT_SORT_KEYS).decode()


def _lookup(record: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = record
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return MISSING
        value = value[key]
    return value


def _lookup_or_none(record: dict[str, Any], path: tuple[str, ...]) -> Any:
    value = _lookup(record, path)
    return None if value is MISSING else value


# RFC 3339's date-time (a space for the T, as its section 5.6 allows), in years 0001-9999 (what
# Python's datetime holds), ASCII digits only, an offset's hour 00-23 and minute 00-59 (both Arrow
# and Python would read +05:60 as +06:00). Python matches it whole with fullmatch; Arrow's RE2
# with ^...$ (there $ is the end of the text; in Python it would also match before a newline).
_RFC3339_GRAMMAR = (
    r"(000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})-[0-9]{2}-[0-9]{2}[Tt ]"
    r"[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
)
_RFC3339_DATE_TIME = re.compile(_RFC3339_GRAMMAR)
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def parse_instant(value: str) -> datetime | None:
    """An RFC 3339 date-time (any offset; ``t``/``z`` in either case; fractions past microseconds
    truncated) as an aware datetime, or ``None`` when it is not one."""
    if not _RFC3339_DATE_TIME.fullmatch(value):
        return None
    try:
        return datetime.fromisoformat(value.upper())
    except ValueError:
        return None


CALLS = RecordTable(
    endpoint=spec.CALLS_PATH,
    record_schema="CallResponse",
    columns=[
        Column("id", ("id",), "string"),
        Column("agent_id", ("agent_id",), "string"),
        Column("agent_version_id", ("agent_version_id",), "string"),
        Column("status", ("status",), "string"),
        Column("recording_url", ("recording_url",), "string"),
        Column("start_time", ("start_time",), "timestamp"),
        Column("end_time", ("end_time",), "timestamp"),
        Column("duration", ("duration",), "int64"),
        Column("type", ("type",), "string"),
        Column("end_reason", ("end_reason",), "string"),
        Column("contact_id", ("contact", "id"), "string"),
        Column("contact_identifier", ("contact", "identifier"), "string"),
        Column("contact_type", ("contact", "contact_type"), "string"),
        Column("contact_created_date", ("contact", "created_date"), "timestamp"),
        Column("phone_register_id", ("phone_register_id",), "string"),
        Column("dynamic_variables", ("dynamic_variables",), "json"),
        Column("created_date", ("created_date",), "timestamp"),
        Column("extra_fields", (), "json"),
    ],
    stamp_column="fetched_at",
    stamp_description="When this record was fetched from the API (UTC).",
)

PHONES = RecordTable(
    endpoint=spec.PHONES_PATH,
    record_schema="PhoneRegisterResponseSchema",
    columns=[
        Column("id", ("id",), "string"),
        Column("nickname", ("nickname",), "string"),
        Column("number", ("number",), "string"),
        Column("telephony_provider", ("telephony_provider",), "string"),
        Column("status", ("status",), "string"),
        Column("released_at", ("released_at",), "timestamp"),
        Column("scheduled_release_at", ("scheduled_release_at",), "timestamp"),
        Column("assigned_at", ("assigned_at",), "timestamp"),
        Column("inbound_agent_id", ("inbound_agent_id",), "string"),
        Column("outbound_agent_id", ("outbound_agent_id",), "string"),
        Column("sip_config", ("sip_config",), "json"),
        Column("checkout_url", ("checkout_url",), "string"),
        Column("reservation_expires_at", ("reservation_expires_at",), "timestamp"),
        Column("region_codes", ("region_codes",), "json"),
        Column("extra_fields", (), "json"),
    ],
    stamp_column="observed_at",
    stamp_description="When the phone register was observed in this state: the real fetch time (UTC).",
)

MESSAGES = RecordTable(
    endpoint=spec.MESSAGES_PATH,
    record_schema="MessageResponse",
    columns=[
        Column("id", ("id",), "string"),
        Column("created_date", ("created_date",), "timestamp"),
        Column("role", ("role",), "string"),
        Column("content", ("content",), "string"),
        Column("tool_call", ("tool_call",), "json"),
        Column("extra_fields", (), "json"),
    ],
    stamp_column="fetched_at",
    stamp_description="When the call's transcript was fetched from the API (UTC).",
)


class TranscriptTable:
    """Calls' transcripts as Arrow: one row per message, with the call it belongs to.

    Columns: ``call_id`` (not in the record: the ``{id}`` of ``GET /v1/call/{id}/message``),
    then ``MessageResponse``'s fields under their own names (``id``, ``created_date`` as a UTC
    timestamp, ``role``, ``content``, ``tool_call`` as JSON text, whichever of
    ``FunctionSchema`` or ``CallToolSchema`` it is), ``extra_fields`` and ``fetched_at``, as
    :data:`MESSAGES` declares them. A call with no transcript has no rows.
    """

    call_id_column = "call_id"

    def __init__(self, messages: RecordTable) -> None:
        self.messages = messages

    @cached_property
    def arrow_schema(self) -> pa.Schema:
        """``call_id`` followed by the schema of :data:`MESSAGES`."""
        doc = "The call the message belongs to: the {id} of GET /v1/call/{id}/message."
        call_id = pa.field(self.call_id_column, pa.string(), nullable=False, metadata={"doc": doc})
        return pa.schema([call_id, *self.messages.arrow_schema])

    def column_docs(self) -> dict[str, str]:
        """Column name to description, for the Dagster column schema."""
        return {f.name: f.metadata[b"doc"].decode() for f in self.arrow_schema}

    def empty_table(self) -> pa.Table:
        """A table with no rows and the full schema."""
        return self.arrow_schema.empty_table()

    def to_record_batch(self, call_id: str, records: Sequence[dict[str, Any]], stamp: datetime) -> pa.RecordBatch:
        """Convert one call's messages (a page, or the whole transcript).

        Raises ``RecordError`` naming the call's endpoint, the message id and the field for a
        record that breaks the contract; what was said is withheld from the message.
        """
        try:
            batch = self.messages.to_record_batch(records, stamp)
        except RecordError as error:
            # Name the call: a message id alone does not say which of thousands of transcripts.
            endpoint = spec.MESSAGES_PATH.replace("{id}", call_id)
            raise RecordError(endpoint, error.record_id, error.field, error.value, error.problem) from None
        call_ids = pa.repeat(pa.scalar(call_id, type=pa.string()), batch.num_rows)
        return pa.RecordBatch.from_arrays([call_ids, *batch.columns], schema=self.arrow_schema)


TRANSCRIPTS = TranscriptTable(MESSAGES)
