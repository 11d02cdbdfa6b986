"""Error answers: status codes and bodies as the spec documents them, and nothing leaks."""

from __future__ import annotations

import logging
import uuid

import pytest
import requests

from diga_assets.api.client import DigaClient
from diga_assets.api.errors import DigaAuthError
from diga_assets.api.spec import live, seed_page
from diga_assets.simulator import DigaSimulator, World
from diga_assets_tests.simulator.conftest import AGENTS, API_KEY, CALLS, FIXED_NOW, PHONES


def example(path: str, status: str, model: str = "seed") -> dict:
    """The example body of a response in the document the model follows."""
    if path == AGENTS:  # the dropdown documents no errors; its resource's listing does
        doc, path = live(), "/v1/agent/"
    else:
        doc = seed_page(path) if model == "seed" else live()
    return doc.operation(path)["responses"][status]["content"]["application/json"]["example"]


@pytest.mark.parametrize(
    ("path", "parameter", "value"),
    [
        (CALLS, "agent_id", "not-a-uuid"),
        (CALLS, "status", "teleported"),
        (CALLS, "type", "sideways"),
        (CALLS, "order", "random"),
        (CALLS, "start_created_date", "2024-05-13"),
        (CALLS, "end_created_date", "2024-05-13T00:00:00"),
        (CALLS, "start_created_date", "2024-13-01T00:00:00Z"),
        (CALLS, "limit", "ten"),
        (CALLS, "limit", "1001"),
        (CALLS, "page", "0"),
        (CALLS, "after", "12345"),
        (PHONES, "status", "lost"),
        (PHONES, "limit", "101"),
        (PHONES, "start_assigned_at", "yesterday"),
        (PHONES, "inbound_agent_id", ""),
    ],
)
def test_invalid_values_are_400_naming_parameter_and_value(get, path: str, parameter: str, value: str) -> None:
    response = get(path, **{parameter: value})
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] == "error" and body["error_code"] == "NOT_VALID_FIELD"
    assert f"'{parameter}'" in body["message"] and repr(value) in body["message"]


def test_unknown_parameters_are_ignored(get) -> None:
    assert get(CALLS, colour="blue", limit=3).json()["data"] == get(CALLS, limit=3).json()["data"]


@pytest.mark.parametrize("path", [CALLS, PHONES])
def test_an_unknown_cursor_is_400_naming_it(get, path: str) -> None:
    ghost = str(uuid.UUID(int=42))
    for parameter in ("after", "before"):
        response = get(path, **{parameter: ghost})
        assert response.status_code == 400
        assert response.json()["error_code"] == "NOT_VALID_FIELD"
        assert parameter in response.json()["message"] and ghost in response.json()["message"]


def test_a_cursor_not_visible_yet_is_unknown(get, simulator: DigaSimulator) -> None:
    planted = {
        **simulator.world.calls_visible()[0],
        "id": str(uuid.UUID(int=7)),
        "created_date": "2030-01-01T00:00:00Z",
    }
    simulator.world.add_call(planted)
    assert get(CALLS, after=planted["id"]).status_code == 400


@pytest.mark.parametrize("path", [CALLS, PHONES])
def test_pagination_conflicts_are_422(get, simulator: DigaSimulator, path: str) -> None:
    some_id = (simulator.world.calls_visible() if path == CALLS else simulator.world.phones_visible())[0]["id"]
    both = get(path, after=some_id, before=some_id)
    assert both.status_code == 422
    assert both.json() == example(path, "422")
    with_page = get(path, page=2, after=some_id)
    assert with_page.status_code == 422
    assert with_page.json()["error_code"] == "INVALID_PAGINATION_PARAMETERS"


@pytest.mark.parametrize("path", [CALLS, PHONES, AGENTS])
@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong-key", "Bearer ", "Basic sim-test-key", "sim-test-key", "Bearer sim-test-key2"]
)
def test_a_missing_or_wrong_key_is_403_with_the_spec_body(simulator: DigaSimulator, path: str, authorization) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = requests.get(simulator.base_url + path, headers=headers, timeout=10)
    assert response.status_code == 403
    assert response.json() == example(path, "403")


@pytest.mark.parametrize("path", [CALLS, PHONES, AGENTS])
def test_the_current_model_answers_a_wrong_key_with_the_live_documents_body(make_simulator, path: str) -> None:
    sim = make_simulator(World(seed=7, now=FIXED_NOW, days=1, calls_per_day=20, status_model="current"))
    response = requests.get(sim.base_url + path, headers={"Authorization": "Bearer wrong-key"}, timeout=10)
    assert response.status_code == 403
    assert response.json() == example(path, "403", "current")


RESOURCES = {"calls": CALLS, "phones": PHONES, "agents": AGENTS}


@pytest.mark.parametrize("model", ["seed", "current"])
@pytest.mark.parametrize("denied", sorted(RESOURCES))
def test_a_key_without_read_permission_is_refused_on_that_resource_only(
    make_simulator, http, model: str, denied: str
) -> None:
    world = World(seed=7, now=FIXED_NOW, days=1, calls_per_day=20, status_model=model)
    sim = make_simulator(world, denied_resources={denied})
    for resource, path in RESOURCES.items():
        response = http.get(sim.base_url + path, params={"limit": 5} if path != AGENTS else {}, timeout=10)
        if resource == denied:
            assert response.status_code == 403, path
            assert response.json() == example(path, "403", model)
        else:
            assert response.status_code == 200, path


@pytest.mark.parametrize(
    ("denied", "read", "resource"),
    [
        ("calls", lambda client: list(client.iter_call_pages()), "Calls"),
        ("phones", lambda client: list(client.iter_phone_pages()), "Phones"),
        ("agents", lambda client: client.get_agents(), "Agents"),
    ],
)
def test_the_clients_403_names_the_resource_the_key_may_not_read(make_simulator, denied, read, resource) -> None:
    world = World(seed=7, now=FIXED_NOW, days=1, calls_per_day=20, status_model="current")
    sim = make_simulator(world, denied_resources={denied})
    with DigaClient(API_KEY, sim.base_url, read_timeout_s=5) as client:
        with pytest.raises(DigaAuthError) as info:
            read(client)
        assert info.value.status == 403
        assert f"lacks Read permission on {resource}" in str(info.value)
        assert API_KEY not in str(info.value)
        others = {"calls", "phones", "agents"} - {denied}
        if "agents" in others:
            assert client.get_agents()[0]
        if "calls" in others:
            assert list(client.iter_call_pages())


def test_only_known_resources_can_be_denied() -> None:
    with pytest.raises(ValueError, match="unknown resources"):
        DigaSimulator(World(now=FIXED_NOW, days=0), denied_resources={"contacts"})


@pytest.mark.parametrize("status", ["failed", "transferred", "no_answer"])
def test_the_current_model_refuses_statuses_the_live_api_no_longer_has(get, make_simulator, status: str) -> None:
    current = make_simulator(World(seed=7, now=FIXED_NOW, days=1, calls_per_day=20, status_model="current"))
    response = get(CALLS, current, status=status)
    assert response.status_code == 400
    assert response.json()["error_code"] == "NOT_VALID_FIELD"
    assert "'status'" in response.json()["message"] and repr(status) in response.json()["message"]
    assert get(CALLS, status=status).status_code == 200, "the seed model's page lists it"


@pytest.mark.parametrize("model", ["seed", "current"])
@pytest.mark.parametrize("path", [CALLS, PHONES])
def test_pagination_conflicts_use_the_models_documented_body(get, make_simulator, model: str, path: str) -> None:
    world = World(seed=7, now=FIXED_NOW, days=1, calls_per_day=20, status_model=model)
    sim = make_simulator(world)
    some_id = (world.calls_visible() if path == CALLS else world.phones_visible())[0]["id"]
    response = get(path, sim, after=some_id, before=some_id)
    assert response.status_code == 422 and response.json() == example(path, "422", model)


def test_the_bearer_scheme_is_case_insensitive(simulator: DigaSimulator) -> None:
    response = requests.get(simulator.base_url + CALLS, headers={"Authorization": "bearer sim-test-key"}, timeout=10)
    assert response.status_code == 200


def test_unknown_paths_and_methods(http, simulator: DigaSimulator) -> None:
    missing = http.get(simulator.base_url + "/v1/calls", timeout=10)
    assert missing.status_code == 404 and missing.json()["error_code"] == "NOT_FOUND"
    assert missing.headers["Content-Type"] == "application/json"
    posted = http.post(simulator.base_url + CALLS, json={"x": 1}, timeout=10)
    assert posted.status_code == 405 and posted.headers["Allow"] == "GET"
    assert http.get(simulator.base_url + CALLS, params={"limit": 1}, timeout=10).status_code == 200


def test_a_crash_is_a_500_with_the_spec_body(get, simulator: DigaSimulator, monkeypatch) -> None:
    def explode(*args):
        raise RuntimeError("boom")

    monkeypatch.setattr(simulator.world, "list_calls", explode)
    monkeypatch.setattr(simulator.world, "agents_dropdown", explode)
    response = get(CALLS)
    assert response.status_code == 500
    assert response.json() == example(CALLS, "500")
    agents = get(AGENTS)
    assert agents.status_code == 500 and agents.json() == example(AGENTS, "500")
    assert get(PHONES).status_code == 200, "the server survives"


def test_only_loopback_hosts_can_be_bound() -> None:
    world = World(now=FIXED_NOW, days=0)
    for host in ("0.0.0.0", "192.168.1.10", "example.com", "::"):
        with pytest.raises(ValueError, match="loopback"):
            DigaSimulator(world, host=host)
    with DigaSimulator(world, host="localhost") as sim:
        assert sim.base_url.startswith("http://127.0.0.1:")


def test_the_key_never_reaches_the_logs(simulator: DigaSimulator, caplog, capfd) -> None:
    secret = "sim-test-key"
    caplog.set_level(logging.DEBUG)
    for key in (secret, secret + "-wrong"):
        requests.get(simulator.base_url + CALLS, headers={"Authorization": f"Bearer {key}"}, timeout=10)
    captured = capfd.readouterr()
    assert secret not in caplog.text + captured.out + captured.err
    assert secret not in repr(simulator.request_log.all())
    assert any("/v1/call/" in message for message in caplog.messages)


def test_responses_carry_content_length(get) -> None:
    response = get(CALLS, limit=3)
    assert int(response.headers["Content-Length"]) == len(response.content)


def test_admin_endpoints_move_the_clock_and_report_state(http, simulator: DigaSimulator) -> None:
    state = requests.get(simulator.base_url + "/_simulator/state", timeout=10).json()
    assert state["now"] == "2024-05-14T10:30:00Z" and state["calls_visible"] == simulator.world.visible_call_count()
    moved = requests.post(simulator.base_url + "/_simulator/advance", params={"hours": 1.5}, timeout=10)
    assert moved.status_code == 200 and moved.json()["now"] == "2024-05-14T12:00:00Z"
    assert requests.post(simulator.base_url + "/_simulator/advance?hours=-1", timeout=10).status_code == 400
    assert requests.get(simulator.base_url + "/_simulator/advance?hours=1", timeout=10).status_code == 405
    assert (
        requests.get(simulator.base_url + "/_simulator/state", timeout=10).json()["calls_visible"]
        > state["calls_visible"]
    )
