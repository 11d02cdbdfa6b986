"""The world as clients see it over HTTP: the clock, the newer status model and planted records."""

from __future__ import annotations

import orjson
import pytest
import requests

from diga_assets.api.spec import live
from diga_assets.simulator import DigaSimulator, World
from diga_assets.simulator.world import CURRENT_CALL_STATUSES
from diga_assets_tests.contract import ContractViolation, validate_response
from diga_assets_tests.simulator.conftest import CALLS, FIXED_NOW, PHONES


def all_pages(get, sim: DigaSimulator, path: str, limit: int) -> list[dict]:
    items: list[dict] = []
    params: dict = {"order": "asc", "limit": limit}
    while True:
        body = get(path, sim, **params).json()
        items += body["data"]
        if not body["has_more"]:
            return items
        params["after"] = body["last_id"]


def test_advancing_the_clock_changes_what_is_served(get, make_simulator) -> None:
    sim = make_simulator(World(seed=11, now=FIXED_NOW, days=1, calls_per_day=1000))
    calls_before = {c["id"]: c for c in all_pages(get, sim, CALLS, 1000)}
    phones_before = all_pages(get, sim, PHONES, 100)
    running = [i for i, c in calls_before.items() if c["status"] in ("dialing", "in_progress")]
    assert running
    requests.post(sim.base_url + "/_simulator/advance", params={"hours": 24}, timeout=10).raise_for_status()
    calls_after = {c["id"]: c for c in all_pages(get, sim, CALLS, 1000)}
    assert len(calls_after) > len(calls_before)
    assert all(calls_after[i]["status"] not in ("dialing", "in_progress") for i in running)
    assert all(calls_after[i] == c for i, c in calls_before.items() if i not in running), "the past is stable"
    assert all_pages(get, sim, PHONES, 100) != phones_before


def test_the_current_model_serves_the_live_documents_statuses_and_fields(get, make_simulator) -> None:
    sim = make_simulator(World(seed=11, now=FIXED_NOW, days=1, calls_per_day=1000, status_model="current"))
    calls = all_pages(get, sim, CALLS, 1000)
    assert {c["status"] for c in calls} == set(CURRENT_CALL_STATUSES) - {"dialing"}
    assert all(set(c) == set(live().schema("CallResponse")["properties"]) for c in calls)
    phones = all_pages(get, sim, PHONES, 100)
    assert all(set(p) == set(live().schema("PhoneRegisterResponseSchema")["properties"]) for p in phones)
    assert "pending_verification" in {p["status"] for p in phones}
    # The published page does not know pending_verification; the live document does.
    verifying = next(p for p in phones if p["status"] == "pending_verification")
    page = {"data": [verifying], "has_more": False}
    validate_response(PHONES, 200, page, model="current")
    with pytest.raises(ContractViolation, match="pending_verification"):
        validate_response(PHONES, 200, page, model="seed")


def test_planted_records_are_served_exactly_as_given(get, make_simulator) -> None:
    world = World(seed=7, now=FIXED_NOW, days=1, calls_per_day=20)
    template = world.calls_visible()[5]
    strange = {**template, "id": "00000000-0000-4000-8000-00000000000a", "status": "teleported", "surprise": [1, 2]}
    missing = {k: v for k, v in template.items() if k != "agent_version_id"} | {
        "id": "00000000-0000-4000-8000-00000000000b"
    }
    wrong_type = {**template, "id": "00000000-0000-4000-8000-00000000000c", "duration": "forty"}
    undated = {"id": "00000000-0000-4000-8000-00000000000d", "created_date": "not a date"}
    for record in (strange, missing, wrong_type, undated):
        world.add_call(record)
    world.add_phone(
        {
            "id": "00000000-0000-4000-8000-0000000000ee",
            "number": "+34910000000",
            "status": "lost",
            "telephony_provider": "netelip",
            "assigned_at": "2024-05-14T08:00:00Z",
        }
    )
    sim = make_simulator(world, validate=False)
    served = all_pages(get, sim, CALLS, 7)
    assert served == world.calls_visible()
    by_id = {c["id"]: c for c in served}
    for record in (strange, missing, wrong_type, undated):
        assert orjson.dumps(by_id[record["id"]]) == orjson.dumps(record)
    assert served[-1] == undated
    assert [c["id"] for c in get(CALLS, sim, status="completed", limit=1000).json()["data"]].count(strange["id"]) == 0
    # Filtering by a planted record's fields and paging through it work like any other record.
    assert strange["id"] in {c["id"] for c in get(CALLS, sim, type=template["type"], limit=1000).json()["data"]}
    after_strange = get(CALLS, sim, order="asc", after=strange["id"], limit=1).json()["data"]
    assert after_strange == [served[served.index(strange) + 1]]
    phones = get(PHONES, sim, limit=100).json()["data"]
    assert {
        "id": "00000000-0000-4000-8000-0000000000ee",
        "number": "+34910000000",
        "status": "lost",
        "telephony_provider": "netelip",
        "assigned_at": "2024-05-14T08:00:00Z",
    } in phones
    assert phones == world.phones_visible()[::-1]
