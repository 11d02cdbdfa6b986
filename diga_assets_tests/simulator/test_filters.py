"""Every filter of both endpoints, and the date filters' spellings and bounds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests

from diga_assets.api.spec import live, seed_page
from diga_assets.simulator import DigaSimulator, World
from diga_assets_tests.simulator.conftest import API_KEY, CALLS, FIXED_NOW, PHONES

MIDNIGHT = datetime(2024, 5, 13, tzinfo=UTC)  # two calls are created at exactly this instant


def ids(response: requests.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["data"]]


def created(call: dict) -> datetime:
    return datetime.fromisoformat(call["created_date"])


@pytest.mark.parametrize("model", ["seed", "current"])
def test_every_spec_parameter_is_understood(get, make_simulator, model: str) -> None:
    """Each parameter of the model's document changes or validates the answer: a typo would be ignored."""
    sim = make_simulator(World(seed=7, now=FIXED_NOW, days=1, calls_per_day=20, status_model=model))
    for path in (CALLS, PHONES):
        document = seed_page(path) if model == "seed" else live()
        for name, parameter in document.query_parameters(path).items():
            response = get(path, sim, **{name: "not-a-valid-value"})
            assert response.status_code == 400, (path, name, parameter.kind)
            assert name in response.json()["message"]


@pytest.mark.parametrize(
    ("parameter", "field"),
    [
        ("agent_id", lambda c: c["agent_id"]),
        ("status", lambda c: c["status"]),
        ("type", lambda c: c["type"]),
        ("contact_id", lambda c: c["contact"]["id"]),
        ("phone_id", lambda c: c["phone_register_id"]),
    ],
)
def test_call_filters(get, simulator: DigaSimulator, parameter: str, field) -> None:
    calls = simulator.world.calls_visible()
    values = {field(c) for c in calls if field(c) is not None}
    assert len(values) >= 2
    for value in sorted(values)[:3]:
        expected = [c["id"] for c in calls if field(c) == value]
        assert ids(get(CALLS, order="asc", limit=1000, **{parameter: value})) == expected


def test_filters_combine_and_walk_with_cursors(get, simulator: DigaSimulator) -> None:
    calls = simulator.world.calls_visible()
    agent = calls[0]["agent_id"] or calls[1]["agent_id"]
    expected = [c["id"] for c in calls if c["agent_id"] == agent and c["type"] == "inbound"][::-1]
    served: list[str] = []
    params = {"agent_id": agent, "type": "inbound", "limit": 3}
    while True:
        body = get(CALLS, **params).json()
        served += [c["id"] for c in body["data"]]
        if not body["has_more"]:
            break
        params["after"] = body["last_id"]
    assert served == expected


def test_uppercase_uuid_filters_match(get, simulator: DigaSimulator) -> None:
    call = next(c for c in simulator.world.calls_visible() if c["agent_id"])
    assert ids(get(CALLS, agent_id=call["agent_id"].upper(), limit=1000)) == ids(
        get(CALLS, agent_id=call["agent_id"], limit=1000)
    )


def test_status_filter_follows_the_status_model(get, make_simulator) -> None:
    seed = make_simulator()
    assert get(CALLS, seed, status="in_queue").status_code == 400
    assert get(PHONES, seed, status="pending_verification").status_code == 400
    current = make_simulator(World(seed=7, now=FIXED_NOW, days=1, calls_per_day=2000, status_model="current"))
    assert get(CALLS, current, status="failed").status_code == 400
    for status in ("completed", "in_progress", "in_queue", "dialing"):
        served = get(CALLS, current, status=status, limit=1000).json()["data"]
        assert all(c["status"] == status for c in served)
    verifying = get(PHONES, current, status="pending_verification").json()["data"]
    assert verifying and all(p["status"] == "pending_verification" for p in verifying)


@pytest.mark.parametrize(
    "spelling",
    ["2024-05-13T00:00:00Z", "2024-05-13T01:00:00+01:00", "2024-05-12T22:00:00-02:00", "2024-05-13T00:00:00.000000z"],
)
def test_date_filters_accept_any_offset(get, simulator: DigaSimulator, spelling: str) -> None:
    start_only = ids(get(CALLS, order="asc", limit=1000, start_created_date=spelling))
    expected = [c["id"] for c in simulator.world.calls_visible() if created(c) >= MIDNIGHT]
    assert start_only == expected
    assert len([c for c in simulator.world.calls_visible() if created(c) == MIDNIGHT]) == 2


def test_a_plus_offset_works_percent_encoded_or_not(http, simulator: DigaSimulator) -> None:
    base = simulator.base_url + CALLS + "?order=asc&limit=1000&start_created_date="
    encoded = http.get(base + "2024-05-13T01%3A00%3A00%2B01%3A00", timeout=10)
    raw = http.get(base + "2024-05-13T01:00:00+01:00", timeout=10)  # '+' arrives as a space
    assert ids(encoded) == ids(raw)
    assert ids(raw)[0] in {c["id"] for c in simulator.world.calls_visible() if created(c) == MIDNIGHT}


def test_start_is_inclusive_and_end_is_inclusive_by_default(get, simulator: DigaSimulator) -> None:
    calls = simulator.world.calls_visible()
    start = MIDNIGHT - timedelta(hours=3)
    window = ids(
        get(
            CALLS,
            order="asc",
            limit=1000,
            start_created_date=start.isoformat(),
            end_created_date="2024-05-13T00:00:00Z",
        )
    )
    assert window == [c["id"] for c in calls if start <= created(c) <= MIDNIGHT]
    assert window[-2:] == [c["id"] for c in calls if created(c) == MIDNIGHT]
    exact = ids(get(CALLS, start_created_date="2024-05-13T00:00:00Z", end_created_date="2024-05-13T01:00:00+01:00"))
    assert len(exact) == 2


def test_end_can_be_exclusive(make_simulator) -> None:
    sim = make_simulator(end_date_inclusive=False)
    with requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {API_KEY}"
        response = http.get(
            sim.base_url + CALLS,
            params={"order": "asc", "limit": 1000, "end_created_date": "2024-05-13T00:00:00Z"},
            timeout=10,
        )
    assert ids(response) == [
        c["id"] for c in sim.world.calls_created_between(datetime(2000, 1, 1, tzinfo=UTC), MIDNIGHT)
    ]


def test_sub_microsecond_bounds_are_exact(get, simulator: DigaSimulator) -> None:
    after_midnight = ids(get(CALLS, start_created_date="2024-05-13T00:00:00.000000001Z", limit=1000))
    assert not set(after_midnight) & {c["id"] for c in simulator.world.calls_visible() if created(c) == MIDNIGHT}
    before = ids(get(CALLS, end_created_date="2024-05-12T23:59:59.999999999Z", limit=1000))
    assert not set(before) & {c["id"] for c in simulator.world.calls_visible() if created(c) == MIDNIGHT}


def test_a_cursor_keeps_working_inside_a_date_window(get, simulator: DigaSimulator) -> None:
    start, end = "2024-05-12T00:00:00Z", "2024-05-13T00:00:00Z"
    expected = [
        c["id"] for c in simulator.world.calls_visible() if MIDNIGHT - timedelta(days=1) <= created(c) <= MIDNIGHT
    ]
    served: list[str] = []
    params = {"order": "asc", "limit": 13, "start_created_date": start, "end_created_date": end}
    while True:
        body = get(CALLS, **params).json()
        served += [c["id"] for c in body["data"]]
        if not body["has_more"]:
            break
        params["after"] = body["last_id"]
    assert served == expected


@pytest.mark.parametrize(
    ("parameter", "field"),
    [
        ("inbound_agent_id", "inbound_agent_id"),
        ("outbound_agent_id", "outbound_agent_id"),
        ("status", "status"),
    ],
)
def test_phone_filters(get, simulator: DigaSimulator, parameter: str, field: str) -> None:
    phones = simulator.world.phones_visible()
    values = {p[field] for p in phones if p[field] is not None}
    assert values
    for value in values:
        assert ids(get(PHONES, order="asc", limit=100, **{parameter: value})) == [
            p["id"] for p in phones if p[field] == value
        ]


def test_phone_assigned_at_window(get, simulator: DigaSimulator) -> None:
    phones = simulator.world.phones_visible()
    assigned = sorted(datetime.fromisoformat(p["assigned_at"]) for p in phones if p["assigned_at"])
    start, end = assigned[1], assigned[-2]
    served = ids(
        get(PHONES, order="asc", limit=100, start_assigned_at=start.isoformat(), end_assigned_at=end.isoformat())
    )
    expected = [
        p["id"] for p in phones if p["assigned_at"] and start <= datetime.fromisoformat(p["assigned_at"]) <= end
    ]
    assert served == expected and len(served) == len(assigned) - 2
