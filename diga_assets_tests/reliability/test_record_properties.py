"""Property-based specification of the record-to-Arrow conversion: bad input.

The example tests in ``diga_assets_tests/api/test_records.py`` pin a handful of hand-picked records;
these properties generate thousands, from the published OpenAPI schema itself:

* every record the spec allows converts, and every column holds exactly what the record said
  (timestamps as the same instant in UTC, JSON objects as JSON text that decodes back, unknown
  fields in ``extra_fields``, missing optional fields as NULL, the stamp column as the stamp);
* every record the spec forbids raises ``RecordError`` -- never a raw Arrow, Python or orjson
  exception -- naming the record id and the offending field, wherever it sits in the page.

Generated records are passed through ``orjson`` first, so they are exactly what the client's decoder
(``orjson.loads``) can hand over: integers up to 2**64 - 1 (larger ones arrive as floats), no NaN
or Infinity, no lone surrogates.

Only the public API is used (``to_record_batch``, ``RecordError``, ``arrow_schema``, ``rules``): the
internals of ``records.py`` (a bulk path with a column-by-column fallback) may change freely, and
these properties are the bar every version meets -- including that a record is converted the same
whichever page it arrives in, since page boundaries depend on the page size asked for.

Field names in errors: the current code names a missing or null field by its dotted source path
(``contact.identifier``) and a wrongly typed one by its column name (``contact_identifier``); the
properties accept either spelling, as both point at exactly one field.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from typing import Any

import orjson
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from diga_assets.api import spec
from diga_assets.api.records import CALLS, PHONES, RecordError, RecordTable

# Deterministic and bounded: CI sees the same examples on every run, and no example database
# makes a local run differ from CI. Conversion of a page is a few milliseconds, so no deadline.
# The example counts keep the file under 30 s on a busy 2-core runner; DIGA_PROPERTY_SCALE=10
# (say) runs ten times as many for a deeper search before a release.
SCALE = float(os.environ.get("DIGA_PROPERTY_SCALE", "1"))


def examples(count: int) -> int:
    return max(1, round(count * SCALE))


# No "explain" phase: on a failure it reruns the test many times over to annotate the report,
# which costs more than the whole passing run; the shrunk example is what a reader needs.
CI = settings(
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    max_examples=examples(60),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
UINT64_MAX = 2**64 - 1
# Neighbours of a bad record get ids of their own, so an error naming the wrong record is caught.
BAD_RECORD_ID = "0badc0de-0000-4000-8000-000000000000"


# --------------------------------------------------------------------------------------------------
# The contract, read from the OpenAPI files


@dataclass(frozen=True)
class SpecField:
    """One property of a record schema, as the OpenAPI file declares it."""

    path: tuple[str, ...]
    required: bool
    nullable: bool
    kind: str  # "string", "uuid", "date-time", "integer", "enum", "json-object", "json-array" or "object"
    enum: tuple[str, ...] = ()
    children: tuple[SpecField, ...] = ()

    @property
    def column(self) -> str:
        """The column name: the path joined by "_", a parent's name not repeated (contact_type, not
        contact_contact_type). The contract test checks this against ``arrow_schema``."""
        *parents, name = self.path
        return "_".join([*parents, name]) if not parents or not name.startswith(f"{parents[-1]}_") else name

    @property
    def names(self) -> frozenset[str]:
        """Both spellings an error may use for this field: dotted source path and column name."""
        return frozenset({".".join(self.path), self.column})


# Objects whose fields the tables store as columns of their own; any other object (a phone's
# sip_config) is stored whole, as JSON text, like the free-form dynamic_variables.
FLATTENED_OBJECTS = frozenset({("contact",)})


def read_spec_fields(endpoint: str, schema_name: str, prefix: tuple[str, ...] = ()) -> tuple[SpecField, ...]:
    """Walk one component schema; a spec change the strategies cannot express fails loudly here."""
    schemas = spec.live().document["components"]["schemas"]
    schema = schemas[schema_name]
    required = set(schema.get("required", []))
    fields = []
    for name, prop in schema["properties"].items():
        options = prop.get("anyOf", [prop])
        nullable = any(option.get("type") == "null" for option in options)
        (inner,) = [option for option in options if option.get("type") != "null"]
        path = (*prefix, name)
        enum: tuple[str, ...] = ()
        children: tuple[SpecField, ...] = ()
        if "$ref" in inner:
            target_name = inner["$ref"].rsplit("/", 1)[-1]
            target = schemas[target_name]
            if "enum" in target:
                kind, enum = "enum", tuple(target["enum"])
            elif path in FLATTENED_OBJECTS:
                kind, children = "object", read_spec_fields(endpoint, target_name, path)
            else:
                kind = "json-object"
        elif inner.get("type") == "object":
            kind = "json-object"
        elif inner.get("type") == "array" and inner.get("items", {}).get("type") == "string":
            kind = "json-array"
        elif inner.get("type") == "integer":
            kind = "integer"
        elif inner.get("type") == "string":
            kind = {"date-time": "date-time", "uuid": "uuid"}.get(inner.get("format", ""), "string")
        else:
            raise AssertionError(f"{path}: no strategy for schema {inner}; extend the property tests")
        fields.append(SpecField(path, name in required, nullable, kind, enum, children))
    return tuple(fields)


def flatten(fields: tuple[SpecField, ...]) -> Iterator[SpecField]:
    """Every field, parents before their children."""
    for field in fields:
        yield field
        yield from flatten(field.children)


@dataclass(frozen=True)
class Endpoint:
    """One record table and the contract its records follow."""

    table: RecordTable
    fields: tuple[SpecField, ...]
    stamp_column: str

    @property
    def leaves(self) -> tuple[SpecField, ...]:
        """The fields that become columns (nested objects are flattened into their children)."""
        return tuple(f for f in flatten(self.fields) if f.kind != "object")

    def fields_where(self, predicate: Callable[[SpecField], bool]) -> tuple[SpecField, ...]:
        return tuple(f for f in flatten(self.fields) if predicate(f))

    def always_present(self, field: SpecField) -> bool:
        """Whether the spec requires the key and every parent object it sits in."""
        by_path = {f.path: f for f in flatten(self.fields)}
        return all(by_path[field.path[:depth]].required for depth in range(1, len(field.path) + 1))


ENDPOINTS = {
    "calls": Endpoint(CALLS, read_spec_fields(spec.CALLS_PATH, "CallResponse"), "fetched_at"),
    "phones": Endpoint(PHONES, read_spec_fields(spec.PHONES_PATH, "PhoneRegisterResponseSchema"), "observed_at"),
}


def endpoints_with(predicate: Callable[[SpecField], bool]) -> list[str]:
    """Endpoints that have at least one such field (the phone schema has no nested object, say)."""
    return [key for key, endpoint in ENDPOINTS.items() if endpoint.fields_where(predicate)]


# --------------------------------------------------------------------------------------------------
# RFC 3339 date-times: generated from parts, and an independent oracle for the instant they denote


def days_in_month(year: int, month: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 in the proleptic Gregorian calendar, year 0000 included (H. Hinnant)."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))",
    re.ASCII,
)


def rfc3339_nanos(text: str) -> int:
    """Nanoseconds since the epoch for an RFC 3339 date-time; deliberately not Arrow's parser."""
    match = _RFC3339.fullmatch(text)
    assert match, f"not an RFC 3339 date-time: {text!r}"
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction, zulu, sign, offset_hours, offset_minutes = match.groups()[6:]
    seconds = ((days_from_civil(year, month, day) * 24 + hour) * 60 + minute) * 60 + second
    if not zulu:
        offset = (int(offset_hours) * 60 + int(offset_minutes)) * 60
        seconds -= offset if sign == "+" else -offset
    return seconds * 10**9 + int((fraction or "0")[:9].ljust(9, "0"))


def rfc3339_micros(text: str) -> int:
    return rfc3339_nanos(text) // 1000


@dataclass(frozen=True)
class DateTimeParts:
    year: int
    month: int
    day: int
    hour: int
    minute: int
    second: int
    fraction: str  # digits after the decimal point, possibly none
    offset: str  # "Z", "+05:30", ...

    def render(self, *, separator: str = "T", with_offset: bool = True) -> str:
        text = f"{self.year:04d}-{self.month:02d}-{self.day:02d}{separator}{self.hour:02d}:{self.minute:02d}"
        text += f":{self.second:02d}" + (f".{self.fraction}" if self.fraction else "")
        return text + (self.offset if with_offset else "")


def format_offset(minutes: int) -> str:
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


# The offsets people trip over are sampled explicitly; the rest of the -23:59..+23:59 range at random.
OFFSETS = st.one_of(
    st.sampled_from(["Z", "+00:00", "-00:00", "+05:30", "-08:00", "+05:45", "-03:30", "+14:00", "-12:00"]),
    st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(format_offset),
)


@st.composite
def date_time_parts(
    draw: st.DrawFn,
    *,
    years: tuple[int, int] = (1, 9999),
    max_fraction_digits: int = 6,
    offsets: st.SearchStrategy[str] = OFFSETS,
) -> DateTimeParts:
    # RFC 3339 allows year 0000, which Python's datetime cannot hold; it gets a property of its own.
    year = draw(st.integers(*years))
    month = draw(st.integers(1, 12))
    day = draw(st.integers(1, days_in_month(year, month)))
    # Second 60 (a leap second) is RFC 3339 too, but no timestamp type holds it: left out on purpose.
    hour, minute, second = draw(st.integers(0, 23)), draw(st.integers(0, 59)), draw(st.integers(0, 59))
    fraction = draw(st.text("0123456789", max_size=max_fraction_digits))
    return DateTimeParts(year, month, day, hour, minute, second, fraction, draw(offsets))


RFC3339_DATE_TIMES = date_time_parts().map(DateTimeParts.render)


@st.composite
def rare_rfc3339_spellings(draw: st.DrawFn) -> str:
    """RFC 3339 spellings Python's isoformat() never writes: lower-case ``t``/``z``, fractions past microseconds."""
    text = draw(date_time_parts(max_fraction_digits=9)).render(separator=draw(st.sampled_from("Tt")))
    return text.replace("Z", "z") if draw(st.booleans()) else text


# --------------------------------------------------------------------------------------------------
# Records the spec allows

# Sizes are small on purpose: generating records is most of the time budget, and the bugs that
# matter (types, nulls, offsets, unicode) show up in small values as well as in large ones.
TEXT = st.text(st.characters(codec="utf-8"), max_size=12)
SHORT_TEXT = st.text(st.characters(codec="utf-8"), max_size=3)
# The int64 edges are drawn often: an off-by-one at 2**63 is the likeliest integer bug.
INT64 = st.one_of(st.sampled_from([INT64_MIN, INT64_MIN + 1, -1, 0, 1, INT64_MAX]), st.integers(INT64_MIN, INT64_MAX))
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(INT64_MIN, UINT64_MAX),
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)
JSON_OBJECTS = st.dictionaries(TEXT, JSON_VALUES, max_size=4)
UUIDS = st.uuids().map(str)


@dataclass(frozen=True)
class Palette:
    """The values free-form fields are drawn from: rich for round trips, plain where a record is only a carrier."""

    text: st.SearchStrategy[str]
    json_values: st.SearchStrategy[Any]
    json_objects: st.SearchStrategy[dict[str, Any]]
    max_unknown_fields: int


RICH = Palette(TEXT, JSON_VALUES, JSON_OBJECTS, 3)
PLAIN = Palette(SHORT_TEXT, JSON_SCALARS, st.dictionaries(SHORT_TEXT, JSON_SCALARS, max_size=2), 1)


def as_decoded(value: Any) -> Any:
    """The value exactly as the client's decoder would hand it over."""
    return orjson.loads(orjson.dumps(value))


def value_strategy(field: SpecField, palette: Palette, *, optional_keys: bool, unknown: bool) -> st.SearchStrategy[Any]:
    values: st.SearchStrategy[Any]
    if field.kind == "object":
        values = record_strategy(field.children, palette, optional_keys=optional_keys, unknown=unknown)
    else:
        values = {
            "string": palette.text,
            "uuid": UUIDS,
            "date-time": RFC3339_DATE_TIMES,
            "integer": INT64,
            "enum": st.sampled_from(field.enum),
            "json-object": palette.json_objects,
            "json-array": st.lists(palette.text, max_size=3),
        }[field.kind]
    return st.none() | values if field.nullable else values


def merge(known_and_unknown: tuple[dict[str, Any], dict[str, Any]]) -> dict[str, Any]:
    known, unknown = known_and_unknown
    return unknown | known


def record_strategy(
    fields: tuple[SpecField, ...], palette: Palette, *, optional_keys: bool, unknown: bool
) -> st.SearchStrategy[dict[str, Any]]:
    """A JSON object the schema allows: required keys always, optional keys sometimes, plus unknown keys."""
    values = {f.path[-1]: value_strategy(f, palette, optional_keys=optional_keys, unknown=unknown) for f in fields}
    required = {f.path[-1]: values[f.path[-1]] for f in fields if f.required}
    optional = {f.path[-1]: values[f.path[-1]] for f in fields if not f.required and optional_keys}
    known = st.fixed_dictionaries(required, optional=optional)
    if not unknown:
        return known
    unknown_keys = palette.text.filter(lambda key: key not in values)
    extra = st.dictionaries(unknown_keys, palette.json_values, max_size=palette.max_unknown_fields)
    return st.tuples(known, extra).map(merge)


@cache
def allowed_records(
    key: str, *, palette: Palette = RICH, optional_keys: bool = True, unknown: bool = True
) -> st.SearchStrategy[Any]:
    """Built once per endpoint: building strategies on every draw would cost most of the time budget."""
    strategy = record_strategy(ENDPOINTS[key].fields, palette, optional_keys=optional_keys, unknown=unknown)
    return strategy.map(as_decoded)


# Any fixed offset, so a stamp in local time must come out as the same instant in UTC.
STAMPS = st.datetimes(
    min_value=datetime(1970, 1, 1),
    max_value=datetime(2200, 1, 1),
    timezones=st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m))),
)
FIXED_STAMP = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


# --------------------------------------------------------------------------------------------------
# What a converted row must hold


def micros(instant: datetime) -> int:
    return (instant - EPOCH) // timedelta(microseconds=1)


def lookup(record: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = record
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def unknown_fields(record: dict[str, Any], fields: tuple[SpecField, ...]) -> dict[str, Any]:
    """Keys the spec does not name, kept where they were found (nested ones under their parent)."""
    known = {field.path[-1]: field for field in fields}
    unknown = {key: value for key, value in record.items() if key not in known}
    for name, field in known.items():
        nested = unknown_fields(record[name], field.children) if isinstance(record.get(name), dict) else {}
        if field.kind == "object" and nested:
            unknown[name] = nested
    return unknown


def expected_row(key: str, record: dict[str, Any], stamp: datetime) -> dict[str, Any]:
    """The row the contract promises, computed from the record without the code under test."""
    endpoint = ENDPOINTS[key]
    row: dict[str, Any] = {}
    for field in endpoint.leaves:
        value = lookup(record, field.path)
        row[field.column] = rfc3339_micros(value) if field.kind == "date-time" and value is not None else value
    row["extra_fields"] = unknown_fields(record, endpoint.fields) or None
    row[endpoint.stamp_column] = micros(stamp)
    return row


def actual_rows(key: str, batch: pa.RecordBatch) -> list[dict[str, Any]]:
    """Rows with timestamps as UTC microseconds (year 0000 has no Python datetime) and JSON decoded."""
    json_columns = {"extra_fields"} | {f.column for f in ENDPOINTS[key].leaves if f.kind.startswith("json-")}
    columns: dict[str, list[Any]] = {}
    for field, column in zip(batch.schema, batch.columns, strict=True):
        if pa.types.is_timestamp(field.type):
            columns[field.name] = column.cast(pa.int64()).to_pylist()
        elif field.name in json_columns:
            columns[field.name] = [None if text is None else json.loads(text) for text in column.to_pylist()]
        else:
            columns[field.name] = column.to_pylist()
    return [dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)]


def convert(key: str, page: list[Any], stamp: datetime = FIXED_STAMP) -> list[dict[str, Any]]:
    batch = ENDPOINTS[key].table.to_record_batch(page, stamp)
    assert batch.schema == ENDPOINTS[key].table.arrow_schema
    assert batch.num_rows == len(page)
    return actual_rows(key, batch)


# --------------------------------------------------------------------------------------------------
# Records the spec forbids: a valid record with one thing broken, in a page of valid neighbours


@dataclass(frozen=True)
class Broken:
    """A record that breaks the contract, the field it breaks, and the names an error may use for it."""

    record: Any
    field_names: frozenset[str]
    field: SpecField | None = None

    @property
    def record_id(self) -> Any:
        return self.record.get("id") if isinstance(self.record, dict) else None


def set_path(record: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        record = record[key]
    record[path[-1]] = value


def delete_path(record: dict[str, Any], path: tuple[str, ...]) -> None:
    for key in path[:-1]:
        record = record[key]
    del record[path[-1]]


@st.composite
def broken_records(
    draw: st.DrawFn,
    key: str,
    which: Callable[[SpecField], bool],
    bad_values: st.SearchStrategy[Any] | None,
) -> Broken:
    """An allowed record with one field chosen by ``which`` set to a bad value (deleted if ``None``)."""
    record = draw(allowed_records(key, palette=PLAIN))
    record["id"] = BAD_RECORD_ID
    field = draw(st.sampled_from(ENDPOINTS[key].fields_where(which)))
    if bad_values is None:
        delete_path(record, field.path)
    else:
        set_path(record, field.path, draw(bad_values))
    # A fresh copy, so a failure report prints the record as broken, not as first drawn.
    return Broken(as_decoded(record), field.names, field)


def edge_values(field: SpecField) -> st.SearchStrategy[Any]:
    """Valid values of a field, its extremes drawn often: int64's ends are one step from overflow."""
    valid = value_strategy(field, PLAIN, optional_keys=True, unknown=False)
    return st.sampled_from([INT64_MIN, INT64_MAX]) | valid if field.kind == "integer" else valid


@st.composite
def pages_around(draw: st.DrawFn, key: str, broken: st.SearchStrategy[Broken]) -> tuple[list[Any], Broken]:
    """The broken record at the start, middle or end of a page of valid records with other ids.

    The neighbours are copies of one allowed record (the page-of-allowed-records property covers
    variety between rows), each with a valid value of its own -- edge values included -- in the
    broken field: code that scans a column for the culprit must not blame a neighbour.
    """
    bad = draw(broken)
    neighbour = draw(allowed_records(key, palette=PLAIN))
    before, after = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    neighbours = []
    for index in range(before + after):
        record = as_decoded(neighbour | {"id": f"00000000-0000-4000-8000-{index:012x}"})
        if bad.field is not None:
            set_path(record, bad.field.path, as_decoded(draw(edge_values(bad.field))))
        neighbours.append(record)
    return [*neighbours[:before], bad.record, *neighbours[before:]], bad


def assert_names_the_record_and_field(error: RecordError, bad: Broken) -> None:
    assert error.field in bad.field_names, f"error names {error.field!r}, expected one of {sorted(bad.field_names)}"
    assert error.record_id == bad.record_id, f"error names record {error.record_id!r}, not {bad.record_id!r}"
    message = str(error)
    assert repr(bad.record_id) in message, message
    assert repr(error.field) in message, message


def raises_record_error(key: str, page: list[Any]) -> RecordError:
    # pytest.raises lets any other exception through, so a raw ArrowInvalid or OverflowError fails the property.
    with pytest.raises(RecordError) as info:
        ENDPOINTS[key].table.to_record_batch(page, FIXED_STAMP)
    return info.value


def assert_a_page_around_it_is_refused_naming_it(
    key: str, data: st.DataObject, broken: st.SearchStrategy[Broken]
) -> None:
    """A page holding the ``broken`` record among valid ones raises a RecordError naming its record and field."""
    page, bad = data.draw(pages_around(key, broken), label="page")
    assert_names_the_record_and_field(raises_record_error(key, page), bad)


SMALL_LISTS = st.lists(JSON_SCALARS, max_size=2)
SMALL_OBJECTS = st.dictionaries(SHORT_TEXT, JSON_SCALARS, max_size=2)
NOT_A_STRING = st.one_of(
    INT64, st.floats(allow_nan=False, allow_infinity=False), st.booleans(), SMALL_LISTS, SMALL_OBJECTS
)
# Floats are drawn on purpose, integral ones included: Arrow would silently truncate 1.5 to 1 in an int64 column.
NOT_AN_INTEGER = st.one_of(
    st.sampled_from([1.5, 1.0, 0.0, -0.0, 125.0, -2.5, 1e20]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    SHORT_TEXT,
    INT64.map(str),
    SMALL_LISTS,
    SMALL_OBJECTS,
)
NOT_AN_OBJECT = st.one_of(
    SHORT_TEXT, INT64, st.floats(allow_nan=False, allow_infinity=False), st.booleans(), SMALL_LISTS
)
NOT_AN_ARRAY = st.one_of(
    SHORT_TEXT,
    INT64,
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.dictionaries(SHORT_TEXT, INT64, max_size=2),
)


@st.composite
def impossible_date_times(draw: st.DrawFn) -> str:
    """RFC 3339 in shape, but a component is out of range (month 13, 30 February, hour 24, offset 24:00)."""
    p = draw(date_time_parts())
    year, month, day, hour, minute, second, offset = p.year, p.month, p.day, p.hour, p.minute, p.second, p.offset
    broken = draw(st.sampled_from(["month", "day", "hour", "minute", "second", "offset"]))
    if broken == "month":
        month = draw(st.sampled_from([0, 13, 99]))
    elif broken == "day":
        day = draw(st.sampled_from([0, days_in_month(year, month) + 1, 32, 99]))
    elif broken == "hour":
        hour = draw(st.sampled_from([24, 25, 99]))
    elif broken == "minute":
        minute = draw(st.sampled_from([60, 99]))
    elif broken == "second":
        second = draw(st.sampled_from([61, 99]))
    else:
        offset = draw(st.sampled_from(["+24:00", "-24:00", "+99:00", "+05:60"]))
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}" + offset


@st.composite
def look_alike_date_times(draw: st.DrawFn) -> str:
    """RFC 3339 with one character swapped for a look-alike: fullwidth, Arabic-Indic or Devanagari digits..."""
    text = draw(RFC3339_DATE_TIMES)
    index = draw(st.integers(0, len(text) - 1))
    char = text[index]
    look_alikes = [chr(ord(char) + 0xFEE0)]  # the fullwidth form of any printable ASCII character
    if char.isdigit():
        look_alikes += [chr(0x0660 + int(char)), chr(0x0966 + int(char))]
    return text[:index] + draw(st.sampled_from(look_alikes)) + text[index + 1 :]


# Strings that do not say which instant they mean: no offset, no time, no date, or not a date at all.
NOT_AN_INSTANT = st.one_of(
    st.builds(lambda p, sep: p.render(separator=sep, with_offset=False), date_time_parts(), st.sampled_from("Tt ")),
    date_time_parts().map(lambda p: f"{p.year:04d}-{p.month:02d}-{p.day:02d}"),
    date_time_parts().map(lambda p: f"{p.hour:02d}:{p.minute:02d}:{p.second:02d}{p.offset}"),
    impossible_date_times(),
    look_alike_date_times(),
    st.sampled_from(["", " ", "yesterday", "now", "null", "2026", "1730455200", "2026-11-01T", "T10:00:00Z"]),
    SHORT_TEXT.filter(lambda s: not re.match(r"\s*[+-]?\d", s)),
)


@st.composite
def iso8601_but_not_rfc3339(draw: st.DrawFn) -> str:
    """ISO 8601 spellings outside RFC 3339 that Arrow's and Python's parsers do not agree on."""
    p = draw(date_time_parts(offsets=st.sampled_from(["Z", "+05:30", "-08:00"])))
    date, time = f"{p.year:04d}-{p.month:02d}-{p.day:02d}", f"{p.hour:02d}:{p.minute:02d}:{p.second:02d}"
    return draw(
        st.sampled_from(
            [
                f"{date}T{time},{p.fraction or '5'}{p.offset}",  # decimal comma
                f"{date.replace('-', '')}T{time.replace(':', '')}{p.offset.replace(':', '')}",  # basic format
                f"{date}T{time}{p.offset if p.offset != 'Z' else '+00:00'}:00",  # offset with seconds
                f"{date}T{time}.{p.offset}",  # a decimal point without digits
                f"{date}T{time} {p.offset}",  # a space before the offset
                f"{p.year:04d}-W01-1T{time}{p.offset}",  # ISO week date
            ]
        )
    )


@st.composite
def lenient_iso8601(draw: st.DrawFn) -> str:
    """ISO 8601 spellings outside RFC 3339 that still name one instant, and that Arrow's parser reads."""
    p = draw(date_time_parts(max_fraction_digits=0))
    date, offset = f"{p.year:04d}-{p.month:02d}-{p.day:02d}", p.offset
    return draw(
        st.sampled_from(
            [
                f"{date}T{p.hour:02d}{offset}",  # hours only
                f"{date}T{p.hour:02d}:{p.minute:02d}{offset}",  # no seconds
                f"{date}T{p.hour:02d}:{p.minute:02d}:{p.second:02d}{offset.replace(':', '')}",  # +hhmm
                f"{date}T{p.hour:02d}:{p.minute:02d}:{p.second:02d}{offset[:3]}",  # +hh
            ]
        )
    )


@st.composite
def record_among_neighbours(draw: st.DrawFn, key: str) -> tuple[list[dict[str, Any]], int]:
    """A record with a date-time spelled any way, in a page of records spelled the ways RFC 3339 allows."""
    field = draw(st.sampled_from(ENDPOINTS[key].fields_where(lambda f: f.kind == "date-time")))
    record = draw(allowed_records(key, palette=PLAIN))
    set_path(record, field.path, draw(ANY_DATE_TIME_SPELLING))
    neighbours = draw(st.lists(allowed_records(key, palette=PLAIN), min_size=1, max_size=3))
    for neighbour in neighbours:
        set_path(neighbour, field.path, draw(RFC3339_DATE_TIMES | rare_rfc3339_spellings()))
    position = draw(st.integers(0, len(neighbours)))
    # Fresh copies, so a failure report prints the records as sent, not as first drawn.
    return as_decoded([*neighbours[:position], record, *neighbours[position:]]), position


@st.composite
def pages_spelling_one_date_time_field(
    draw: st.DrawFn, key: str, spellings: st.SearchStrategy[str], *, min_size: int, max_size: int
) -> tuple[SpecField, list[dict[str, Any]]]:
    """A page of allowed records, one date-time field of each record set to a drawn spelling."""
    field = draw(st.sampled_from(ENDPOINTS[key].fields_where(lambda f: f.kind == "date-time")))
    page = draw(st.lists(allowed_records(key, palette=PLAIN), min_size=min_size, max_size=max_size))
    for record in page:
        set_path(record, field.path, draw(spellings))
    # Fresh copies, so a failure report prints the records as sent, not as first drawn.
    return field, as_decoded(page)


# The spellings a date-time field may arrive in, for the page-independence property: the common
# one, the rare RFC 3339 ones Arrow cannot read, year 0000 (which Python cannot hold), lenient
# ISO 8601 that Arrow reads, and some that are not instants. Weighted towards the spellings one
# parser takes and another refuses, which is where bulk and one-by-one conversion can differ.
ANY_DATE_TIME_SPELLING = st.one_of(
    RFC3339_DATE_TIMES,
    rare_rfc3339_spellings(),
    date_time_parts(years=(0, 0)).map(DateTimeParts.render),
    lenient_iso8601(),
    NOT_AN_INSTANT | iso8601_but_not_rfc3339(),
)


# --------------------------------------------------------------------------------------------------
# The contract the strategies read is the one the code reads


@pytest.mark.parametrize("key", ENDPOINTS)
def test_the_strategies_and_the_code_read_the_same_contract(key: str) -> None:
    """The generated records follow the OpenAPI files; so must ``rules``, or the properties prove nothing."""
    endpoint = ENDPOINTS[key]
    rules = endpoint.table.rules
    assert set(rules) == {field.path for field in flatten(endpoint.fields)}
    for field in flatten(endpoint.fields):
        rule = rules[field.path]
        assert (rule.required, rule.nullable) == (field.required, field.nullable), field.path
        assert rule.enum == (frozenset(field.enum) if field.enum else None), field.path
    columns = {f.column for f in endpoint.leaves} | {"extra_fields", endpoint.stamp_column}
    assert set(endpoint.table.arrow_schema.names) == columns


@CI
@given(parts=date_time_parts(max_fraction_digits=9))
def test_the_test_oracle_for_rfc3339_agrees_with_the_standard_library(parts: DateTimeParts) -> None:
    """The round-trip properties trust ``rfc3339_micros``; it must read offsets the way Python does."""
    text = parts.render()
    try:
        expected = micros(datetime.fromisoformat(text))
    except OverflowError:
        return  # the UTC instant falls outside years 1..9999: Python cannot say
    assert rfc3339_micros(text) == expected


# --------------------------------------------------------------------------------------------------
# Allowed records convert and round-trip


@pytest.mark.parametrize("key", ENDPOINTS)
@settings(CI, max_examples=examples(150))
@given(data=st.data(), stamp=STAMPS)
def test_any_allowed_record_converts_and_every_column_holds_what_the_record_said(
    key: str, data: st.DataObject, stamp: datetime
) -> None:
    """Required and optional keys, nulls, any offset, int64 extremes, unicode, arbitrary JSON, unknown fields."""
    record = data.draw(allowed_records(key), label="record")
    assert convert(key, [record], stamp) == [expected_row(key, record, stamp)]


@pytest.mark.parametrize("key", ENDPOINTS)
@settings(CI, max_examples=examples(30))
@given(data=st.data(), stamp=STAMPS)
def test_a_page_of_allowed_records_converts_row_by_row_in_order(key: str, data: st.DataObject, stamp: datetime) -> None:
    """Conversion is columnar; no record's values may leak into, or shift, another record's row."""
    page = data.draw(st.lists(allowed_records(key), max_size=6), label="page")
    assert convert(key, page, stamp) == [expected_row(key, record, stamp) for record in page]


@pytest.mark.parametrize("key", ENDPOINTS)
@settings(CI, max_examples=examples(30))
@given(data=st.data())
def test_a_record_with_only_the_required_keys_has_null_optional_columns(key: str, data: st.DataObject) -> None:
    """A missing optional key is NULL, not an error, and a record without unknown keys has NULL extra_fields."""
    record = data.draw(allowed_records(key, optional_keys=False, unknown=False), label="record")
    (row,) = convert(key, [record])
    for field in ENDPOINTS[key].leaves:
        if not ENDPOINTS[key].always_present(field):
            assert row[field.column] is None, field.path
    assert row["extra_fields"] is None
    assert row == expected_row(key, record, FIXED_STAMP)


@pytest.mark.parametrize("key", endpoints_with(lambda f: f.kind == "date-time"))
@CI
@given(data=st.data())
def test_every_rfc3339_spelling_converts_to_the_instant_to_the_microsecond(key: str, data: st.DataObject) -> None:
    """Lower-case ``t``/``z`` and nanosecond fractions are RFC 3339 too; the column keeps microseconds.

    Before commit f864dc9 lower case was refused and seven or more fraction digits escaped as a raw
    ``pyarrow.ArrowInvalid``.
    """
    pages = pages_spelling_one_date_time_field(key, rare_rfc3339_spellings(), min_size=1, max_size=3)
    field, page = data.draw(pages, label="field, page")
    for row, record in zip(convert(key, page), page, strict=True):
        text = lookup(record, field.path)
        # Truncated or rounded to the microsecond: either is faithful.
        assert row[field.column] in {rfc3339_nanos(text) // 1000, -(-rfc3339_nanos(text) // 1000)}, text


# Found by this property: Arrow's bulk parser took spellings off the RFC 3339 grammar ("T10Z",
# "+0530") that the record-by-record path refused, so a record's fate depended on its page.
@pytest.mark.parametrize("key", endpoints_with(lambda f: f.kind == "date-time"))
@CI
@given(data=st.data())
def test_a_record_is_converted_the_same_alone_as_in_any_page(key: str, data: st.DataObject) -> None:
    """Page boundaries move with the page size asked for; a record's fate must not move with them."""
    page, position = data.draw(record_among_neighbours(key), label="page, position of the record")
    try:
        (alone,) = convert(key, [page[position]])
    except RecordError:
        raises_record_error(key, page)
    else:
        assert convert(key, page)[position] == alone


# --------------------------------------------------------------------------------------------------
# Forbidden records raise RecordError naming the record and the field


@pytest.mark.parametrize("key", ENDPOINTS)
@CI
@given(data=st.data())
def test_a_missing_required_field_is_a_record_error_naming_it(key: str, data: st.DataObject) -> None:
    """Top-level or nested (``contact.identifier``): a required key that is absent is never a silent NULL."""
    assert_a_page_around_it_is_refused_naming_it(key, data, broken_records(key, lambda f: f.required, None))


def non_nullable(field: SpecField) -> bool:
    return field.required and not field.nullable


@pytest.mark.parametrize("key", endpoints_with(lambda f: non_nullable(f) and len(f.path) == 1))
@CI
@given(data=st.data())
def test_null_in_a_non_nullable_top_level_field_is_a_record_error_naming_it(key: str, data: st.DataObject) -> None:
    """``id``, ``status``, ``created_date``, ``contact``...: the spec has no null for them, so neither may the file."""
    assert_a_page_around_it_is_refused_naming_it(
        key, data, broken_records(key, lambda f: non_nullable(f) and len(f.path) == 1, st.none())
    )


# Found by this property: a null in a non-nullable field of the nested contact object was stored
# as NULL (the shape check tested only that the nested keys were present).
@pytest.mark.parametrize("key", endpoints_with(lambda f: non_nullable(f) and len(f.path) > 1))
@CI
@given(data=st.data())
def test_null_in_a_non_nullable_nested_field_is_a_record_error_naming_it(key: str, data: st.DataObject) -> None:
    """``contact.identifier: null`` breaks the contract exactly as a top-level null does."""
    assert_a_page_around_it_is_refused_naming_it(
        key, data, broken_records(key, lambda f: non_nullable(f) and len(f.path) > 1, st.none())
    )


STRING_KINDS = {"string", "uuid", "date-time", "enum"}


@pytest.mark.parametrize("key", ENDPOINTS)
@CI
@given(data=st.data())
def test_a_number_bool_list_or_object_where_a_string_is_due_is_a_record_error(key: str, data: st.DataObject) -> None:
    """Arrow must not stringify ``7`` or ``true`` into a string column: the record is refused instead."""
    assert_a_page_around_it_is_refused_naming_it(
        key, data, broken_records(key, lambda f: f.kind in STRING_KINDS, NOT_A_STRING)
    )


@pytest.mark.parametrize("key", endpoints_with(lambda f: f.kind == "integer"))
@CI
@given(data=st.data())
def test_a_float_bool_or_string_where_an_integer_is_due_is_a_record_error(key: str, data: st.DataObject) -> None:
    """``duration: 1.5`` must not become 1, ``true`` must not become 1, ``"125"`` must not be parsed."""
    assert_a_page_around_it_is_refused_naming_it(
        key, data, broken_records(key, lambda f: f.kind == "integer", NOT_AN_INTEGER)
    )


# Found by this property: the culprit of an int64 overflow was looked up with abs(v) >= 2**63,
# which also matched a valid -2**63 earlier in the page.
@pytest.mark.parametrize("key", endpoints_with(lambda f: f.kind == "integer"))
@CI
@given(data=st.data())
def test_an_integer_outside_int64_is_a_record_error_naming_it(key: str, data: st.DataObject) -> None:
    """orjson hands over integers up to 2**64 - 1 as int; the int64 column cannot hold the top half."""
    assert_a_page_around_it_is_refused_naming_it(
        key, data, broken_records(key, lambda f: f.kind == "integer", st.integers(INT64_MAX + 1, UINT64_MAX))
    )


@pytest.mark.parametrize("key", endpoints_with(lambda f: f.kind == "date-time"))
@CI
@given(data=st.data())
def test_a_date_time_without_an_offset_or_not_a_date_time_at_all_is_a_record_error(
    key: str, data: st.DataObject
) -> None:
    """No offset means no instant: guessing UTC would shift the day of every call by hours."""
    assert_a_page_around_it_is_refused_naming_it(
        key, data, broken_records(key, lambda f: f.kind == "date-time", NOT_AN_INSTANT)
    )


@pytest.mark.parametrize("key", endpoints_with(lambda f: f.kind == "date-time"))
@CI
@given(data=st.data())
def test_an_iso8601_date_time_outside_rfc3339_is_a_record_error(key: str, data: st.DataObject) -> None:
    """Decimal commas, basic format, offsets with seconds, week dates: not the published format.

    Before commit f864dc9 these escaped as a raw ``pyarrow.ArrowInvalid``: Arrow refused them, the
    fallback check (``datetime.fromisoformat``) accepted them, and Arrow's error was re-raised.
    """
    assert_a_page_around_it_is_refused_naming_it(
        key, data, broken_records(key, lambda f: f.kind == "date-time", iso8601_but_not_rfc3339())
    )


@pytest.mark.parametrize("key", endpoints_with(lambda f: f.kind == "json-object"))
@CI
@given(data=st.data())
def test_dynamic_variables_that_are_not_a_json_object_are_a_record_error(key: str, data: st.DataObject) -> None:
    """A list or scalar would still serialize to JSON text; the contract says object, so it is refused."""
    assert_a_page_around_it_is_refused_naming_it(
        key, data, broken_records(key, lambda f: f.kind == "json-object", NOT_AN_OBJECT)
    )


@pytest.mark.parametrize("key", endpoints_with(lambda f: f.kind == "json-array"))
@CI
@given(data=st.data())
def test_a_list_field_that_is_not_a_json_array_is_a_record_error(key: str, data: st.DataObject) -> None:
    """region_codes is a list of codes; an object or a scalar in its place breaks the contract."""
    assert_a_page_around_it_is_refused_naming_it(
        key, data, broken_records(key, lambda f: f.kind == "json-array", NOT_AN_ARRAY)
    )


# Found by this property: ``contact: "abc"`` was reported as 'contact.id' missing, pointing at a
# child instead of the value that is wrong.
@pytest.mark.parametrize("key", endpoints_with(lambda f: f.kind == "object"))
@CI
@given(data=st.data())
def test_a_nested_object_that_is_not_an_object_is_a_record_error_naming_it(key: str, data: st.DataObject) -> None:
    """``contact`` as a string or a list: the error points at ``contact`` itself."""
    assert_a_page_around_it_is_refused_naming_it(
        key, data, broken_records(key, lambda f: f.kind == "object", NOT_AN_OBJECT)
    )


@pytest.mark.parametrize("key", ENDPOINTS)
@CI
@given(data=st.data())
def test_a_page_entry_that_is_not_a_json_object_is_a_record_error(key: str, data: st.DataObject) -> None:
    """``null``, a string, a number or a list in ``data``: refused, with no id to name."""
    not_a_record = st.one_of(st.none(), NOT_AN_OBJECT).map(
        lambda value: Broken(as_decoded(value), frozenset({"<record>"}))
    )
    assert_a_page_around_it_is_refused_naming_it(key, data, not_a_record)
