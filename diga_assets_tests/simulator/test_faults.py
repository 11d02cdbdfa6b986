"""Fault injection: each kind does what it says on the wire and is counted in the request log."""

from __future__ import annotations

import http.client
import json
import socket
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import pytest
import requests

from diga_assets.simulator import DigaSimulator, Fault, FaultConfig
from diga_assets_tests.simulator.conftest import AGENTS, API_KEY, CALLS, PHONES

AUTH = {"Authorization": f"Bearer {API_KEY}"}


def fetch(sim: DigaSimulator, path: str = CALLS, **params) -> requests.Response:
    return requests.get(sim.base_url + path, params=params, headers=AUTH, timeout=10)


def raw_exchange(sim: DigaSimulator, path: str = CALLS) -> tuple[bytes, bytes]:
    """Send one request on a raw socket; return (head, body bytes received until close)."""
    with socket.create_connection(("127.0.0.1", sim.port), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {API_KEY}\r\n\r\n".encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    data = b"".join(chunks)
    head, _, body = data.partition(b"\r\n\r\n")
    return head, body


def test_faults_are_off_by_default(simulator: DigaSimulator) -> None:
    for _ in range(5):
        assert fetch(simulator).status_code == 200
    assert all(record.fault is None for record in simulator.request_log)


def test_429_with_retry_after_seconds(make_simulator) -> None:
    sim = make_simulator(
        faults=FaultConfig(script=[Fault("status", status=429, retry_after="2"), Fault("status", status=429)])
    )
    first, second, third = fetch(sim), fetch(sim), fetch(sim)
    assert (first.status_code, first.headers["Retry-After"]) == (429, "2")
    assert (second.status_code, second.headers["Retry-After"]) == (429, "1"), "the config's default"
    assert first.json()["status"] == "error" and first.json()["error_code"]
    assert third.status_code == 200
    assert [r.fault for r in sim.request_log] == ["status:429", "status:429", None]
    assert [r.status for r in sim.request_log] == [429, 429, 200]


def test_retry_after_as_an_http_date(make_simulator) -> None:
    faults = FaultConfig(
        script=[
            Fault("status", status=429, retry_after="http-date", retry_after_seconds=30),
            Fault("status", status=429),
        ],
        retry_after="http-date",
        retry_after_seconds=120,
    )
    sim = make_simulator(faults=faults)
    for expected in (30, 120):
        header = fetch(sim).headers["Retry-After"]
        assert header.endswith("GMT")
        delta = (parsedate_to_datetime(header) - datetime.now(UTC)).total_seconds()
        assert expected - 3 <= delta <= expected + 1


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_json_bodies(make_simulator, status: int) -> None:
    sim = make_simulator(faults=FaultConfig(script=[Fault("status", status=status)]))
    response = fetch(sim)
    assert response.status_code == status
    assert response.json()["status"] == "error"
    assert "Retry-After" not in response.headers


def test_an_nginx_html_502(make_simulator) -> None:
    sim = make_simulator(faults=FaultConfig(script=[Fault("status", status=502, html=True)]))
    response = fetch(sim)
    assert response.status_code == 502
    assert response.headers["Content-Type"] == "text/html"
    assert "<center>nginx</center>" in response.text
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.text)
    assert sim.request_log[0].fault == "status:502:html"


def test_drop_closes_without_a_response(make_simulator) -> None:
    sim = make_simulator(faults=FaultConfig(script=[Fault("drop")]))
    with pytest.raises(requests.ConnectionError):
        fetch(sim)
    assert fetch(sim).status_code == 200
    assert [(r.status, r.fault) for r in sim.request_log] == [(None, "drop"), (200, None)]


def test_drop_mid_body_sends_half_and_hangs_up(make_simulator) -> None:
    sim = make_simulator(faults=FaultConfig(script=[Fault("drop_mid_body")]))
    head, body = raw_exchange(sim)
    declared = int(
        next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")).split(b":")[1]
    )
    assert head.startswith(b"HTTP/1.1 200")
    assert 0 < len(body) < declared
    sim.faults.add(Fault("drop_mid_body"))
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        fetch(sim, limit=200)
    assert [r.fault for r in sim.request_log] == ["drop_mid_body", "drop_mid_body"]


def test_truncate_sends_a_consistent_but_cut_body(make_simulator) -> None:
    sim = make_simulator(faults=FaultConfig(script=[Fault("truncate")]))
    with requests.Session() as session:
        session.headers.update(AUTH)
        response = session.get(sim.base_url + CALLS, timeout=10)
        assert response.status_code == 200
        assert int(response.headers["Content-Length"]) == len(response.content)
        with pytest.raises(json.JSONDecodeError):
            json.loads(response.content)
        assert session.get(sim.base_url + CALLS, timeout=10).json()["data"], "the connection stays usable"
    assert sim.connections_accepted == 1
    assert sim.request_log[0].fault == "truncate"


def test_slow_delays_the_answer(make_simulator) -> None:
    sim = make_simulator(faults=FaultConfig(script=[Fault("slow", delay_s=0.3), Fault("slow", delay_s=2.0)]))
    started = time.monotonic()
    assert fetch(sim).status_code == 200
    assert time.monotonic() - started >= 0.3
    with pytest.raises(requests.Timeout):
        requests.get(sim.base_url + CALLS, headers=AUTH, timeout=0.2)
    assert sim.request_log[0].fault == "slow:0.3s"


def test_latency_applies_to_every_api_request(make_simulator) -> None:
    sim = make_simulator(faults=FaultConfig(latency_ms=150))
    started = time.monotonic()
    fetch(sim)
    fetch(sim, PHONES)
    assert time.monotonic() - started >= 0.3


def test_stuck_cursor_repeats_the_request_cursor(make_simulator) -> None:
    sim = make_simulator(faults=FaultConfig(script=[None, Fault("stuck_cursor")]))
    first = fetch(sim, limit=10).json()
    second = fetch(sim, limit=10, after=first["last_id"]).json()
    assert second["last_id"] == first["last_id"]
    assert second["data"] and second["data"][0]["id"] != first["data"][0]["id"], "the real page is served"
    assert second["has_more"] is True
    assert [r.fault for r in sim.request_log] == [None, "stuck_cursor"]


def test_empty_page_that_claims_more(make_simulator) -> None:
    sim = make_simulator(faults=FaultConfig(script=[Fault("empty_has_more")]))
    body = fetch(sim).json()
    assert body["data"] == [] and body["has_more"] is True
    assert body["first_id"] is None and body["last_id"] is None


def test_wrong_type_gives_one_record_a_field_of_the_wrong_type(make_simulator) -> None:
    # The body breaks the contract on purpose, so this simulator skips the teardown check.
    faults = FaultConfig(
        script=[None, Fault("wrong_type"), Fault("wrong_type", record_field="contact.id", wrong_value=7)]
    )
    sim = make_simulator(faults=faults, validate=False)
    clean = fetch(sim, limit=5).json()
    wrong = fetch(sim, limit=5).json()
    nested = fetch(sim, limit=5).json()

    assert wrong["data"][0]["duration"] == "forty-six" and isinstance(clean["data"][0]["duration"], int)
    assert {k: v for k, v in wrong["data"][0].items() if k != "duration"} == {
        k: v for k, v in clean["data"][0].items() if k != "duration"
    }, "only the named field changes"
    assert wrong["data"][1:] == clean["data"][1:]
    assert {k: v for k, v in wrong.items() if k != "data"} == {k: v for k, v in clean.items() if k != "data"}
    assert nested["data"][0]["contact"]["id"] == 7
    assert nested["data"][0]["contact"]["identifier"] == clean["data"][0]["contact"]["identifier"]
    assert [r.fault for r in sim.request_log] == [None, "wrong_type:duration", "wrong_type:contact.id"]


def test_wrong_type_leaves_an_empty_page_alone(make_simulator) -> None:
    sim = make_simulator(faults=FaultConfig(script=[Fault("wrong_type")]))
    body = fetch(sim, start_created_date="2000-01-01T00:00:00Z", end_created_date="2000-01-02T00:00:00Z").json()
    assert body["data"] == [] and body["has_more"] is False
    assert sim.request_log[0].fault == "wrong_type:duration"


def test_the_unpaged_agents_answer_takes_only_the_faults_that_fit_it(make_simulator) -> None:
    faults = FaultConfig(
        script=[
            Fault("stuck_cursor", path=AGENTS),
            Fault("empty_has_more", path=AGENTS),
            Fault("wrong_type", path=AGENTS, record_field="versions", wrong_value="v1"),
            Fault("status", status=503, path=AGENTS),
        ]
    )
    sim = make_simulator(faults=faults, validate=False)  # the wrong_type body breaks the contract on purpose
    expected = sim.world.agents_dropdown()
    assert fetch(sim, AGENTS).json() == expected
    assert fetch(sim, AGENTS).json() == expected
    wrong = fetch(sim, AGENTS).json()
    assert wrong[0]["versions"] == "v1" and wrong[1:] == expected[1:]
    unavailable = fetch(sim, AGENTS)
    assert unavailable.status_code == 503 and unavailable.json()["error_code"] == "SERVICE_UNAVAILABLE"


def test_a_fault_can_target_one_path(make_simulator) -> None:
    sim = make_simulator(faults=FaultConfig(script=[Fault("status", status=503, path=PHONES)]))
    assert fetch(sim, CALLS).status_code == 200
    assert fetch(sim, PHONES).status_code == 503
    assert fetch(sim, PHONES).status_code == 200
    assert [r.fault for r in sim.requests_to(PHONES)] == ["status:503", None]


def test_faults_can_be_added_or_replaced_while_running(simulator: DigaSimulator) -> None:
    assert fetch(simulator).status_code == 200
    simulator.faults.add(Fault("status", status=500))
    simulator.faults.script.append(Fault("status", status=504))
    assert [fetch(simulator).status_code for _ in range(3)] == [500, 504, 200]
    simulator.faults = FaultConfig(script=[Fault("status", status=429)])
    assert fetch(simulator).status_code == 429
    assert simulator.faults.pending() == []


def test_random_faults_are_seeded_and_counted(make_simulator) -> None:
    def run() -> list[int | None]:
        sim = make_simulator(faults=FaultConfig(seed=4, rate_429=0.2, rate_5xx=0.2, drop_rate=0.1))
        statuses = []
        for _ in range(40):
            try:
                statuses.append(fetch(sim, limit=1).status_code)
            except requests.ConnectionError:
                statuses.append(None)
        faulted = [r for r in sim.request_log if r.fault]
        assert len(faulted) == sum(1 for s in statuses if s != 200)
        assert all(r.fault.startswith("random:") for r in faulted)
        return statuses

    first, second = run(), run()
    assert first == second
    assert {None, 429, 200} <= set(first) and set(first) & {500, 502, 503, 504}


def test_fault_arguments_are_checked() -> None:
    with pytest.raises(ValueError):
        Fault("explode")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Fault("status")
    with pytest.raises(ValueError):
        FaultConfig(rate_429=0.7, rate_5xx=0.7)
    with pytest.raises(ValueError):
        Fault("wrong_type", record_field="contact.")


def test_http_client_sees_a_clean_close_on_drop(make_simulator) -> None:
    sim = make_simulator(faults=FaultConfig(script=[Fault("drop")]))
    connection = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=10)
    connection.request("GET", CALLS, headers=AUTH)
    with pytest.raises(http.client.RemoteDisconnected):
        connection.getresponse()
    connection.close()
