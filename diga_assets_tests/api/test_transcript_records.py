"""Transcripts to Arrow: one row per message with the call it belongs to, the record's own field
names, instants in UTC whatever their offset, tool calls as JSON text, and contract breaks named
by call, message and field, with what was said withheld."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pyarrow as pa
import pytest

from diga_assets.api.records import TRANSCRIPTS, RecordError
from diga_assets.api.spec import live
from diga_assets.simulator import World

FETCHED = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
CALL_ID = "5d1c1f2e-0000-4000-8000-000000000001"


def message(**overrides):
    record = {
        "id": "e0000000-0000-4000-8000-000000000001",
        "created_date": "2026-11-01T11:00:01.250000+01:00",
        "role": "assistant",
        "content": "Hola, ¿en qué puedo ayudarle?",
        "tool_call": None,
    }
    record.update(overrides)
    return record


def test_the_columns_are_the_call_then_the_records_own_fields():
    schema = TRANSCRIPTS.arrow_schema
    assert schema.names == [
        "call_id",
        "id",
        "created_date",
        "role",
        "content",
        "tool_call",
        "extra_fields",
        "fetched_at",
    ]
    assert set(live().schema("MessageResponse")["properties"]) <= set(schema.names), "no field renamed"
    assert schema.field("created_date").type == pa.timestamp("us", tz="UTC")
    assert [schema.field(n).nullable for n in ("call_id", "id", "created_date", "role")] == [False] * 4
    assert schema.field("content").nullable and schema.field("tool_call").nullable
    assert "role associated with the message" in TRANSCRIPTS.column_docs()["role"]
    assert TRANSCRIPTS.messages.enum_values("role") == {"user", "assistant", "tool"}
    assert TRANSCRIPTS.empty_table().schema == schema


def test_a_served_transcript_converts_whole():
    world = World(seed=11, now=FETCHED, days=1, calls_per_day=200, status_model="current")
    call = max(world.calls_visible(), key=lambda c: len(world.call_messages(c["id"])))
    messages = world.call_messages(call["id"])

    rows = TRANSCRIPTS.to_record_batch(call["id"], messages, FETCHED).to_pylist()

    assert len(rows) == len(messages)
    assert {row["call_id"] for row in rows} == {call["id"]}
    assert [row["id"] for row in rows] == [m["id"] for m in messages]
    assert [row["created_date"] for row in rows] == [datetime.fromisoformat(m["created_date"]) for m in messages]
    assert [row["role"] for row in rows] == [m["role"] for m in messages]
    assert [row["content"] for row in rows] == [m["content"] for m in messages]
    tools = [
        (json.loads(row["tool_call"]), m["tool_call"]) for row, m in zip(rows, messages, strict=True) if m["tool_call"]
    ]
    assert tools and all(parsed == sent for parsed, sent in tools)
    assert all(row["fetched_at"] == FETCHED and row["extra_fields"] is None for row in rows)


def test_an_empty_transcript_has_no_rows():
    batch = TRANSCRIPTS.to_record_batch(CALL_ID, [], FETCHED)
    assert batch.num_rows == 0 and batch.schema == TRANSCRIPTS.arrow_schema


def test_offsets_are_read_as_instants_and_tool_calls_kept_as_json_text():
    tool = {"type": "call_tool", "tool_name": "transfer", "payload": {"to": "recepcion"}, "status": "success"}
    rows = TRANSCRIPTS.to_record_batch(
        CALL_ID,
        [message(), message(id="e0000000-0000-4000-8000-000000000002", role="tool", content=None, tool_call=tool)],
        FETCHED,
    ).to_pylist()
    assert rows[0]["created_date"] == datetime(2026, 11, 1, 10, 0, 1, 250000, tzinfo=UTC)
    assert rows[0]["tool_call"] is None
    assert json.loads(rows[1]["tool_call"]) == tool and rows[1]["content"] is None


def test_unknown_fields_are_kept_not_dropped():
    (row,) = TRANSCRIPTS.to_record_batch(CALL_ID, [message(sentiment="positive")], FETCHED).to_pylist()
    assert json.loads(row["extra_fields"]) == {"sentiment": "positive"}


@pytest.mark.parametrize(
    ("broken", "field", "problem"),
    [
        ({"created_date": "yesterday"}, "created_date", "RFC 3339"),
        ({"role": None}, "role", "must not be null"),
        ({"content": 42}, "content", "is not a string"),
        ({"tool_call": "transfer"}, "tool_call", "is not a JSON object"),
    ],
)
def test_a_broken_message_is_named_by_call_message_and_field(broken, field, problem):
    with pytest.raises(RecordError) as info:
        TRANSCRIPTS.to_record_batch(
            CALL_ID, [message(), message(id="e0000000-0000-4000-8000-00000000000b", **broken)], FETCHED
        )
    text = str(info.value)
    assert f"/v1/call/{CALL_ID}/message" in text and "e0000000-0000-4000-8000-00000000000b" in text
    assert info.value.field == field and problem in text


def test_what_was_said_is_withheld_from_errors():
    secret = {"content": ["Mi DNI es 12345678Z"]}
    with pytest.raises(RecordError) as info:
        TRANSCRIPTS.to_record_batch(CALL_ID, [message(**secret)], FETCHED)
    assert "12345678Z" not in str(info.value) and "withheld" in str(info.value)
    with pytest.raises(RecordError) as info:
        TRANSCRIPTS.to_record_batch(CALL_ID, [message(tool_call="DNI 12345678Z")], FETCHED)
    assert "12345678Z" not in str(info.value)


def test_a_missing_required_field_is_named():
    record = message()
    del record["role"]
    with pytest.raises(RecordError, match="'role' is required but missing"):
        TRANSCRIPTS.to_record_batch(CALL_ID, [record], FETCHED)
