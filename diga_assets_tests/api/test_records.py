"""Record-to-Arrow conversion: one explicit schema per endpoint, offsets parsed exactly, unknown
values and fields kept, and contract breaks named by record id, field and value."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import orjson
import pyarrow as pa
import pytest

from diga_assets.api.records import CALLS, PHONES, RecordError
from diga_assets.simulator import World

FETCHED = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def call(**overrides):
    record = {
        "id": "5d1c1f2e-0000-4000-8000-000000000001",
        "agent_id": "a0000000-0000-4000-8000-000000000001",
        "agent_version_id": None,
        "status": "completed",
        "recording_url": "https://rec.example/1.mp3?sig=abc",
        "start_time": "2026-11-01T10:00:00Z",
        "end_time": "2026-11-01T10:02:05Z",
        "duration": 125,
        "type": "inbound",
        "end_reason": "hangup",
        "contact": {
            "id": "c0000000-0000-4000-8000-000000000001",
            "created_date": "2026-10-01T09:00:00+02:00",
            "identifier": "+34910000001",
            "contact_type": "call",
        },
        "phone_register_id": None,
        "dynamic_variables": {"name": "Ana", "attempt": 2},
        "created_date": "2026-11-01T10:00:00Z",
    }
    record.update(overrides)
    return record


def test_calls_schema_is_the_published_column_list():
    assert CALLS.arrow_schema.names == [
        "id", "agent_id", "agent_version_id", "status", "recording_url", "start_time", "end_time", "duration",
        "type", "end_reason", "contact_id", "contact_identifier", "contact_type", "contact_created_date",
        "phone_register_id", "dynamic_variables", "created_date", "extra_fields", "fetched_at",
    ]  # fmt: skip
    for name in ("start_time", "end_time", "contact_created_date", "created_date", "fetched_at"):
        assert CALLS.arrow_schema.field(name).type == pa.timestamp("us", tz="UTC")
    assert CALLS.arrow_schema.field("duration").type == pa.int64()
    assert CALLS.arrow_schema.field("id").nullable is False
    assert CALLS.arrow_schema.field("agent_id").nullable is True


def test_phones_schema_is_the_live_column_list():
    assert PHONES.arrow_schema.names == [
        "id", "nickname", "number", "telephony_provider", "status", "released_at", "scheduled_release_at",
        "assigned_at", "inbound_agent_id", "outbound_agent_id", "sip_config", "checkout_url",
        "reservation_expires_at", "region_codes", "extra_fields", "observed_at",
    ]  # fmt: skip
    assert PHONES.arrow_schema.field("reservation_expires_at").type == pa.timestamp("us", tz="UTC")
    docs = PHONES.column_docs()
    assert docs["sip_config"].startswith("SIP trunk configuration") and docs["sip_config"].endswith("(JSON text)")
    assert docs["region_codes"].startswith("Spanish region codes") and docs["checkout_url"].startswith("Stripe")


def phone(**overrides):
    record = {
        "id": "b0000000-0000-4000-8000-000000000001",
        "nickname": "Recepción",
        "number": "+34910000000",
        "telephony_provider": "custom",
        "status": "assigned",
        "released_at": None,
        "scheduled_release_at": None,
        "assigned_at": "2026-10-01T09:00:00Z",
        "inbound_agent_id": None,
        "outbound_agent_id": None,
    }
    record.update(overrides)
    return record


def test_the_live_phone_fields_are_columns_not_extra_fields():
    sip = {"termination_uri": "pbx.example.com", "username": "trunk", "allowed_addresses": ["192.0.2.0/24"]}
    rows = PHONES.to_record_batch(
        [
            phone(sip_config=sip, region_codes=["MD"]),
            phone(
                id="b0000000-0000-4000-8000-000000000002",
                status="reserved",
                checkout_url="https://checkout.example/c/pay_1",
                reservation_expires_at="2026-11-01T10:15:00+01:00",
                region_codes=[],
            ),
        ],
        FETCHED,
    ).to_pylist()
    assert json.loads(rows[0]["sip_config"]) == sip and json.loads(rows[0]["region_codes"]) == ["MD"]
    assert rows[1]["checkout_url"] == "https://checkout.example/c/pay_1"
    assert rows[1]["reservation_expires_at"] == datetime(2026, 11, 1, 9, 15, tzinfo=UTC)
    assert rows[1]["region_codes"] == "[]" and rows[1]["sip_config"] is None
    assert rows[0]["extra_fields"] is None and rows[1]["extra_fields"] is None


@pytest.mark.parametrize(
    ("overrides", "field", "problem"),
    [
        ({"region_codes": "MD"}, "region_codes", "is not a JSON array"),
        ({"sip_config": []}, "sip_config", "is not a JSON object"),
    ],
)
def test_a_nested_phone_field_of_the_wrong_shape_is_named(overrides, field, problem):
    with pytest.raises(RecordError, match=f"'{field}' {problem}"):
        PHONES.to_record_batch([phone(**overrides)], FETCHED)


def test_an_empty_page_has_the_full_schema():
    batch = CALLS.to_record_batch([], FETCHED)
    assert batch.num_rows == 0 and batch.schema == CALLS.arrow_schema


@pytest.mark.parametrize(
    ("spelled", "instant"),
    [
        ("2026-11-02T00:30:00+01:00", datetime(2026, 11, 1, 23, 30, tzinfo=UTC)),
        ("2026-11-01T23:30:00Z", datetime(2026, 11, 1, 23, 30, tzinfo=UTC)),
        ("2026-11-01T23:30:00.250000+00:00", datetime(2026, 11, 1, 23, 30, 0, 250000, tzinfo=UTC)),
        ("2026-11-01T20:00:00-03:30", datetime(2026, 11, 1, 23, 30, tzinfo=UTC)),
    ],
)
def test_any_rfc3339_offset_becomes_the_exact_utc_instant(spelled, instant):
    row = CALLS.to_record_batch([call(created_date=spelled)], FETCHED).to_pylist()[0]
    assert row["created_date"] == instant


def test_a_record_round_trips_with_nested_contact_and_json_text():
    row = CALLS.to_record_batch([call()], FETCHED).to_pylist()[0]
    assert row["contact_id"] == "c0000000-0000-4000-8000-000000000001"
    assert row["contact_created_date"] == datetime(2026, 10, 1, 7, 0, tzinfo=UTC)
    assert json.loads(row["dynamic_variables"]) == {"name": "Ana", "attempt": 2}
    assert row["extra_fields"] is None
    assert row["fetched_at"] == FETCHED
    assert row["duration"] == 125


def test_unknown_enum_values_are_kept_as_they_came():
    rows = CALLS.to_record_batch([call(status="voicemail", type="sms")], FETCHED).to_pylist()
    assert (rows[0]["status"], rows[0]["type"]) == ("voicemail", "sms")


def test_fields_the_spec_does_not_name_go_to_extra_fields():
    record = call(cost_cents=42, sentiment="positive")
    record["contact"] = {**record["contact"], "country": "ES"}
    row = CALLS.to_record_batch([record], FETCHED).to_pylist()[0]
    assert json.loads(row["extra_fields"]) == {"contact": {"country": "ES"}, "cost_cents": 42, "sentiment": "positive"}


@pytest.mark.parametrize(
    ("overrides", "field", "problem"),
    [
        ({"created_date": "yesterday"}, "created_date", "not an RFC 3339 date-time"),
        ({"created_date": "2026-11-01T10:00:00"}, "created_date", "not an RFC 3339 date-time"),
        ({"created_date": "2026-11-01T10:00:00+05:60"}, "created_date", "not an RFC 3339 date-time"),
        ({"created_date": "2026-11-01T10:00:00+24:00"}, "created_date", "not an RFC 3339 date-time"),
        ({"end_time": "soon"}, "end_time", "not an RFC 3339 date-time"),
        ({"duration": "125"}, "duration", "not an integer"),
        ({"duration": 12.5}, "duration", "not an integer"),
        ({"duration": True}, "duration", "not an integer"),
        ({"status": None}, "status", "must not be null"),
        ({"agent_id": 7}, "agent_id", "not a string"),
    ],
)
def test_a_record_that_breaks_the_contract_names_id_field_and_value(overrides, field, problem):
    bad = call(id="bad-call-1", **overrides)
    with pytest.raises(RecordError) as info:
        CALLS.to_record_batch([call(), bad], FETCHED)
    message = str(info.value)
    assert "bad-call-1" in message and repr(field) in message and problem in message
    value = next(iter(overrides.values()))
    if value is not None:
        assert repr(value) in message


@pytest.mark.parametrize("missing", ["agent_id", "phone_register_id", "created_date", "contact"])
def test_a_missing_required_field_is_named(missing):
    bad = call(id="bad-call-2")
    del bad[missing]
    with pytest.raises(RecordError, match=f"bad-call-2.*'{missing}' is required but missing"):
        CALLS.to_record_batch([bad], FETCHED)


def test_a_missing_nested_contact_field_is_named():
    bad = call(id="bad-call-3")
    del bad["contact"]["identifier"]
    with pytest.raises(RecordError, match=r"bad-call-3.*'contact\.identifier' is required"):
        CALLS.to_record_batch([bad], FETCHED)


def test_enum_columns_and_values_come_from_the_live_spec():
    assert CALLS.enum_columns == ("status", "type", "contact_type")
    assert CALLS.enum_values("status") == {"dialing", "in_queue", "in_progress", "completed"}
    assert PHONES.enum_values("status") == {"reserved", "pending_verification", "assigned", "released", "finished"}


@pytest.mark.parametrize(
    ("spelled", "instant"),
    [
        ("2026-11-01t23:30:00z", datetime(2026, 11, 1, 23, 30, tzinfo=UTC)),
        ("2026-11-01 23:30:00+00:00", datetime(2026, 11, 1, 23, 30, tzinfo=UTC)),
        ("2026-11-01T23:30:00.123456789Z", datetime(2026, 11, 1, 23, 30, 0, 123456, tzinfo=UTC)),
    ],
)
def test_rfc3339_spellings_arrow_does_not_parse_are_still_exact(spelled, instant):
    row = CALLS.to_record_batch([call(), call(created_date=spelled)], FETCHED).to_pylist()[1]
    assert row["created_date"] == instant


def test_an_integer_beyond_64_bits_is_named():
    with pytest.raises(RecordError, match=r"bad-call-4.*'duration' does not fit in 64 bits"):
        CALLS.to_record_batch([call(), call(id="bad-call-4", duration=2**63)], FETCHED)


@pytest.mark.parametrize("status_model", ["seed", "current"])
def test_the_bulk_path_and_the_checked_path_give_the_same_batch(status_model):
    """A page converts in bulk when every record keeps the contract; the record-by-record path
    exists to name faults. Both must give the same batch, extra fields and nulls included."""
    world = World(now=FETCHED, days=2, calls_per_day=300, status_model=status_model)
    records = orjson.loads(orjson.dumps(world.calls_visible()))
    records[0] = call(cost_cents=42, agent_version_id=None, end_time=None, duration=None)
    records[1]["contact"] = {**records[1]["contact"], "country": "ES"}
    bulk = CALLS._bulk_record_batch(records, FETCHED)
    assert bulk is not None, "a page that keeps the contract fell back to the slow path"
    assert bulk.equals(CALLS._checked_record_batch(records, FETCHED))
    phones = orjson.loads(orjson.dumps(world.phones_visible()))
    assert PHONES._bulk_record_batch(phones, FETCHED).equals(PHONES._checked_record_batch(phones, FETCHED))
