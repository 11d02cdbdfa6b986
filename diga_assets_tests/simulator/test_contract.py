"""The contract validator itself: it must refuse what the documents refuse, or it proves nothing."""

from __future__ import annotations

import copy

import pytest

from diga_assets.simulator import World
from diga_assets_tests.contract import ContractViolation, validate_response, validate_served_bodies
from diga_assets_tests.simulator.conftest import AGENTS, CALLS, FIXED_NOW, PHONES


@pytest.fixture(scope="module")
def good_call() -> dict:
    return World(seed=7, now=FIXED_NOW, days=1, calls_per_day=20).calls_visible()[3]


def page(*records: dict) -> dict:
    return {"data": list(records), "first_id": None, "last_id": None, "has_more": False}


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda c: c.update(id="not-a-uuid"), "uuid"),
        (lambda c: c.update(created_date="2024-05-13"), "date-time"),
        (lambda c: c.update(created_date="2024-05-13T00:00:00"), "date-time"),
        (lambda c: c.update(status="teleported"), "teleported"),
        (lambda c: c.update(duration="forty"), "forty"),
        (lambda c: c.pop("agent_version_id"), "agent_version_id"),
        (lambda c: c["contact"].update(contact_type="pigeon"), "pigeon"),
    ],
)
def test_violations_are_caught(good_call: dict, mutate, message: str) -> None:
    validate_response(CALLS, 200, page(good_call))
    broken = copy.deepcopy(good_call)
    mutate(broken)
    with pytest.raises(ContractViolation, match=message):
        validate_response(CALLS, 200, page(broken))


def test_extra_fields_are_allowed_as_the_spec_allows(good_call: dict) -> None:
    validate_response(CALLS, 200, page({**good_call, "sentiment": "positive"}))
    validate_response(CALLS, 200, page({**good_call, "sentiment": "positive"}), model="current")


def test_error_bodies(good_call: dict) -> None:
    validate_response(PHONES, 400, {"status": "error", "error_code": "NOT_VALID_FIELD", "message": "x"})
    validate_response("/nowhere", 404, {"status": "error", "error_code": "NOT_FOUND", "message": "x"})
    validate_response(CALLS, 429, {"error_code": "RATE_LIMIT_EXCEEDED", "message": "x"})
    validate_response(AGENTS, 403, {"error_code": "INTERNAL_SERVER_ERROR", "message": "x"}, model="current")
    with pytest.raises(ContractViolation):
        validate_response(CALLS, 500, {"detail": "Internal Server Error"})
    with pytest.raises(ContractViolation):
        validate_response(AGENTS, 403, {"detail": "Forbidden"}, model="seed")
    with pytest.raises(ContractViolation):
        validate_response("/nowhere", 200, {})


def test_each_model_is_held_to_its_own_document(good_call: dict) -> None:
    queued = {**good_call, "status": "in_queue"}
    failed = {**good_call, "status": "failed"}
    validate_response(CALLS, 200, page(queued), model="current")
    validate_response(CALLS, 200, page(failed), model="seed")
    with pytest.raises(ContractViolation, match="in_queue"):
        validate_response(CALLS, 200, page(queued), model="seed")
    with pytest.raises(ContractViolation, match="failed"):
        validate_response(CALLS, 200, page(failed), model="current")
    with pytest.raises(ContractViolation):
        validate_response(CALLS, 200, page({**good_call, "status": "teleported"}), model="current")


def test_the_live_phone_schema_is_enforced_for_the_current_model() -> None:
    phone = World(seed=7, now=FIXED_NOW, days=1, calls_per_day=0, status_model="current").phones_visible()[0]
    validate_response(PHONES, 200, page(phone), model="current")
    sip = {
        "termination_uri": "sip.example.net",
        "username": None,
        "inbound_media_encryption": "sometimes",
        "outbound_media_encryption": "allow",
        "allowed_addresses": [],
    }
    with pytest.raises(ContractViolation, match="sometimes"):
        validate_response(PHONES, 200, page({**phone, "sip_config": sip}), model="current")
    with pytest.raises(ContractViolation, match="region_codes"):
        validate_response(PHONES, 200, page({**phone, "region_codes": None}), model="current")


def test_the_agents_listing_is_held_to_the_live_schema() -> None:
    agents = World(seed=7, now=FIXED_NOW, days=1, calls_per_day=0).agents_dropdown()
    for model in ("seed", "current"):
        validate_response(AGENTS, 200, agents, model=model)
    version = agents[0]["versions"][0]
    with pytest.raises(ContractViolation, match="version_number"):
        validate_response(AGENTS, 200, [{**agents[0], "versions": [{**version, "version_number": "3"}]}])
    with pytest.raises(ContractViolation, match="versions"):
        validate_response(AGENTS, 200, [{"agent_id": agents[0]["agent_id"], "name": None}])
    with pytest.raises(ContractViolation):
        validate_response(AGENTS, 200, {"data": agents, "has_more": False})


def test_served_bodies_are_checked_after_a_test(make_simulator, get) -> None:
    world = World(seed=7, now=FIXED_NOW, days=1, calls_per_day=20)
    world.add_call({"id": "00000000-0000-4000-8000-000000000001", "created_date": "2024-05-14T09:00:00Z"})
    sim = make_simulator(world, validate=False)
    assert get(CALLS, sim).status_code == 200
    with pytest.raises(ContractViolation, match="required property"):
        validate_served_bodies(sim)
