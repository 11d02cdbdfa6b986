"""The contract validator itself: it must refuse what the spec refuses, or it proves nothing."""

from __future__ import annotations

import copy

import pytest

from diga_assets.simulator import World
from diga_assets_tests.contract import ContractViolation, validate_response, validate_served_bodies
from diga_assets_tests.simulator.conftest import CALLS, FIXED_NOW, PHONES


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
    validate_response(CALLS, 200, page({**good_call, "cost_cents": 12}))


def test_error_bodies(good_call: dict) -> None:
    validate_response(PHONES, 400, {"status": "error", "error_code": "NOT_VALID_FIELD", "message": "x"})
    validate_response("/nowhere", 404, {"status": "error", "error_code": "NOT_FOUND", "message": "x"})
    validate_response(CALLS, 429, {"error_code": "RATE_LIMIT_EXCEEDED", "message": "x"})
    with pytest.raises(ContractViolation):
        validate_response(CALLS, 500, {"detail": "Internal Server Error"})
    with pytest.raises(ContractViolation):
        validate_response("/nowhere", 200, {})


def test_the_newer_model_flag_only_adds_the_documented_values(good_call: dict) -> None:
    queued = {**good_call, "status": "in_queue"}
    validate_response(CALLS, 200, page(queued), newer_model=True)
    with pytest.raises(ContractViolation):
        validate_response(CALLS, 200, page(queued))
    with pytest.raises(ContractViolation):
        validate_response(CALLS, 200, page({**good_call, "status": "teleported"}), newer_model=True)


def test_served_bodies_are_checked_after_a_test(make_simulator, get) -> None:
    world = World(seed=7, now=FIXED_NOW, days=1, calls_per_day=20)
    world.add_call({"id": "00000000-0000-4000-8000-000000000001", "created_date": "2024-05-14T09:00:00Z"})
    sim = make_simulator(world, validate=False)
    assert get(CALLS, sim).status_code == 200
    with pytest.raises(ContractViolation, match="required property"):
        validate_served_bodies(sim)
