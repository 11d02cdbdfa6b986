"""Error answers: status codes and bodies as the spec documents them, and nothing leaks."""

from __future__ import annotations

import logging
import uuid

import pytest
import requests

from diga_assets.api.spec import live, seed_page
from diga_assets.simulator import DigaSimulator, World
from diga_assets_tests.simulator.conftest import AGENTS, CALLS, FIXED_NOW, PHONES


def example(path: str, status: str) -> dict:
    """The example body of a response in the document that describes the endpoint."""
    if path == AGENTS:  # the dropdown documents no errors; its resource's listing does
        doc, path = live(), "/v1/agent/"
    else:
        doc = seed_page(path)
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
