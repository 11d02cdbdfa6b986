"""The ``current`` status model: Diga's API as its live OpenAPI document and docs describe it.

Calls end ``completed`` with the outcome in ``end_reason``; the only documented end reasons are
those of voicemail and phone-menu detection, on outbound calls; every other ending uses a code the
simulator made up. Phones follow PhoneRegisterResponseSchema: ``pending_verification`` for
purchases, ``sip_config`` for imported numbers, checkout fields only in checkout.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from diga_assets.api.spec import live
from diga_assets.simulator import DigaSimulator, World, calls
from diga_assets.simulator.phones import spanish_region_codes
from diga_assets.simulator.world import CURRENT_CALL_STATUSES, DOCUMENTED_END_REASONS, MADE_UP_END_REASONS
from diga_assets_tests.simulator.conftest import FIXED_NOW

README = Path(__file__).resolve().parents[2] / "README.md"
INBOUND_CODES = {"sim_customer_hangup", "sim_agent_hangup", "sim_transferred", "sim_error"}


@pytest.fixture(scope="module")
def current_calls() -> list[dict]:
    return World(seed=11, now=FIXED_NOW, days=4, calls_per_day=800, status_model="current").calls_visible()


def phones_over_time(seed: int, days: int = 12) -> list[dict]:
    """Every phone snapshot of a current-model world, every quarter hour for ``days`` days."""
    world = World(seed=seed, now=FIXED_NOW, days=1, calls_per_day=0, status_model="current")
    snapshots: list[dict] = []
    for _ in range(days * 24 * 4):
        snapshots += [{**phone, "_now": world.now} for phone in world.phones_visible()]
        world.advance(timedelta(minutes=15))
    return snapshots


@pytest.fixture(scope="module")
def phone_history() -> list[dict]:
    return phones_over_time(7) + phones_over_time(11)


# ------------------------------------------------------------------------------------- calls


def test_calls_carry_exactly_the_fields_the_live_schema_names(current_calls: list[dict]) -> None:
    fields = set(live().schema("CallResponse")["properties"])
    assert all(set(call) == fields for call in current_calls), "no invented fields such as cost_cents"


def test_calls_have_the_four_live_statuses_and_every_finished_call_is_completed(current_calls: list[dict]) -> None:
    assert set(CURRENT_CALL_STATUSES) == live().enum_values("CallStatus")
    assert {c["status"] for c in current_calls} <= set(CURRENT_CALL_STATUSES)
    assert all(c["status"] == "completed" for c in current_calls if c["end_reason"] is not None)


def test_voicemail_and_menu_endings_happen_on_outbound_calls_only(current_calls: list[dict]) -> None:
    detected = [c for c in current_calls if c["end_reason"] in DOCUMENTED_END_REASONS]
    assert {c["end_reason"] for c in detected} == set(DOCUMENTED_END_REASONS)
    assert {c["type"] for c in detected} == {"outbound"}


def test_a_detected_machine_or_menu_is_billed_and_recorded_from_pickup(current_calls: list[dict]) -> None:
    for call in current_calls:
        if call["end_reason"] in DOCUMENTED_END_REASONS:
            assert call["duration"] > 0, call
            assert call["recording_url"] is not None, call
            start, end = datetime.fromisoformat(call["start_time"]), datetime.fromisoformat(call["end_time"])
            assert end - start == timedelta(seconds=call["duration"])


def test_inbound_calls_end_only_with_made_up_codes(current_calls: list[dict]) -> None:
    inbound = {c["end_reason"] for c in current_calls if c["type"] == "inbound" and c["end_reason"]}
    assert inbound == INBOUND_CODES


def test_every_other_ending_uses_a_visibly_made_up_code(current_calls: list[dict]) -> None:
    assert all(code.startswith("sim_") for code in MADE_UP_END_REASONS)
    assert not set(MADE_UP_END_REASONS) & set(DOCUMENTED_END_REASONS)
    served = {c["end_reason"] for c in current_calls if c["end_reason"]}
    assert served == set(DOCUMENTED_END_REASONS) | set(MADE_UP_END_REASONS)


def test_an_outbound_call_nobody_picked_up_has_no_talk_time_and_no_recording(current_calls: list[dict]) -> None:
    unanswered = [c for c in current_calls if c["end_reason"] == "sim_no_answer"]
    assert unanswered and {c["type"] for c in unanswered} == {"outbound"}
    assert all(c["duration"] == 0 and c["recording_url"] is None for c in unanswered)


def test_the_made_up_codes_are_documented_as_made_up() -> None:
    docstring = calls.__doc__ or ""
    readme = README.read_text(encoding="utf-8")
    section = readme[readme.index("## The simulator") :]
    section = section[: section.index("\n## ", 1)]
    for code in MADE_UP_END_REASONS:
        assert f"``{code}``" in docstring and f"`{code}`" in section, code
    assert "made up" in docstring and "made up" in section


def test_the_outcome_weights_are_per_direction_and_sum_to_a_thousand() -> None:
    for outcomes in (calls.CURRENT_INBOUND_OUTCOMES, calls.CURRENT_OUTBOUND_OUTCOMES):
        assert sum(weight for *_, weight in outcomes) == 1000
        assert {status for status, *_ in outcomes} == {"completed"}
    assert not {reason for _, reason, _, _ in calls.CURRENT_INBOUND_OUTCOMES} & set(DOCUMENTED_END_REASONS)


# ------------------------------------------------------------------------------------ phones


def test_phones_carry_exactly_the_fields_the_live_schema_names(phone_history: list[dict]) -> None:
    fields = set(live().schema("PhoneRegisterResponseSchema")["properties"])
    assert all(set(phone) - {"_now"} == fields for phone in phone_history)
    assert {p["status"] for p in phone_history} == live().enum_values("PhoneRegisterStatus")


def test_only_purchased_numbers_wait_for_verification(phone_history: list[dict]) -> None:
    verifying = [p for p in phone_history if p["status"] == "pending_verification"]
    assert verifying
    assert {p["telephony_provider"] for p in verifying} == {"netelip"}


def test_a_number_is_waiting_for_verification_at_the_initial_clock() -> None:
    phones = World(seed=7, now=FIXED_NOW, days=1, calls_per_day=0, status_model="current").phones_visible()
    assert any(p["status"] == "pending_verification" and p["telephony_provider"] == "netelip" for p in phones)


def test_imported_numbers_never_go_through_a_checkout(phone_history: list[dict]) -> None:
    imported = {p["status"] for p in phone_history if p["telephony_provider"] == "custom"}
    assert imported == {"assigned", "released", "finished"}


def test_checkout_fields_are_present_while_reserved_and_only_then(phone_history: list[dict]) -> None:
    reserved = [p for p in phone_history if p["status"] == "reserved"]
    assert reserved
    for phone in phone_history:
        if phone["status"] == "reserved":
            assert phone["checkout_url"].startswith("https://")
            assert datetime.fromisoformat(phone["reservation_expires_at"]) > phone["_now"]
        else:
            assert phone["checkout_url"] is None and phone["reservation_expires_at"] is None


def sip_config_validator() -> Draft202012Validator:
    resource = Resource.from_contents(live().document, default_specification=DRAFT202012)
    registry: Registry = Registry().with_resource("urn:live", resource)
    return Draft202012Validator(
        {"$ref": "urn:live#/components/schemas/SipConfigResponseSchema"},
        registry=registry,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def test_sip_config_is_the_trunk_of_an_imported_number_shaped_as_the_live_schema(phone_history: list[dict]) -> None:
    validator = sip_config_validator()
    schema = live().schema("SipConfigResponseSchema")
    encryptions = live().enum_values("SipMediaEncryption")
    for phone in phone_history:
        sip = phone["sip_config"]
        if phone["telephony_provider"] == "netelip":
            assert sip is None
            continue
        validator.validate(sip)
        assert set(sip) == set(schema["properties"])
        assert sip["termination_uri"]
        assert {sip["inbound_media_encryption"], sip["outbound_media_encryption"]} <= encryptions
        assert sip["allowed_addresses"]
        for address in sip["allowed_addresses"]:
            ipaddress.ip_network(address)  # an IP or a CIDR block, or it raises
    assert any(p["sip_config"] for p in phone_history)


def test_region_codes_are_the_spanish_regions_of_a_landline_prefix(phone_history: list[dict]) -> None:
    assert all(isinstance(p["region_codes"], list) for p in phone_history)
    for phone in phone_history:
        number = phone["number"]
        if re.fullmatch(r"\+349[13]\d{7}", number):
            assert phone["region_codes"] == (["MD"] if number.startswith("+3491") else ["CT"])
        if not number.startswith("+34"):
            assert phone["region_codes"] == []
    assert any(p["region_codes"] for p in phone_history) and any(not p["region_codes"] for p in phone_history)


@pytest.mark.parametrize(
    ("number", "regions"),
    [
        ("+34911234567", ("MD",)),
        ("+34931234567", ("CT",)),
        ("+34963123456", ("VC",)),
        ("+34956123456", ("AN", "CE")),
        ("+34952123456", ("AN", "ML")),
        ("+34612345678", ()),
        ("+34712345678", ()),
        ("+34902123456", ()),
        ("+442075283550", ()),
        ("sip:recepcion1@pbx1.example.net", ()),
    ],
)
def test_region_codes_of_a_number(number: str, regions: tuple[str, ...]) -> None:
    assert spanish_region_codes(number) == regions


def test_only_an_imported_number_may_be_a_sip_identifier(phone_history: list[dict]) -> None:
    identifiers = {p["telephony_provider"] for p in phone_history if not p["number"].startswith("+")}
    assert identifiers <= {"custom"}
    purchased = Counter(p["number"][:3] for p in phone_history if p["telephony_provider"] == "netelip")
    assert set(purchased) == {"+34"}


def test_a_live_clock_serves_the_calls_made_since_the_simulator_started() -> None:
    start = datetime.now(UTC) - timedelta(minutes=30)
    world = World(seed=3, now=start, days=1, calls_per_day=20_000, status_model="current")
    with DigaSimulator(world, api_key="k", live_clock=True) as sim:
        body = requests.get(
            f"{sim.base_url}/v1/call/",
            params={"start_created_date": start.isoformat(), "limit": 1000, "order": "asc"},
            headers={"Authorization": "Bearer k"},
            timeout=10,
        ).json()
    # Half an hour of a 20,000-call day has passed since the world's clock was set.
    assert world.now >= start + timedelta(minutes=30)
    assert body["data"], "calls made since the start should be served"
    assert all(datetime.fromisoformat(c["created_date"]) > start for c in body["data"])
