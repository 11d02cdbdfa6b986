"""A call's transcript through the client, specified against the simulator over real HTTP.

``iter_call_message_pages`` walks ``GET /v1/call/{id}/message`` oldest first with
``after=last_id``, and its pages hold the transcript the world holds; a call without messages is
an empty transcript, a call that does not exist raises ``DigaCallNotFoundError`` naming it; every
other failure is reported as for any request, retried when it may pass, and never carries the key.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

import pytest

from diga_assets.api import spec
from diga_assets.api.client import DigaClient
from diga_assets.api.errors import (
    DigaApiError,
    DigaAuthError,
    DigaCallNotFoundError,
    DigaInvalidRequestError,
    DigaProtocolError,
    DigaRequestValidationError,
    DigaServerError,
)
from diga_assets.simulator import DigaSimulator, Fault, FaultConfig, World
from diga_assets_tests.api.test_client import RecordedSleep, make_client
from diga_assets_tests.conftest import SIM_KEY, SIM_NOW
from diga_assets_tests.contract import served_simulators

MESSAGES = spec.MESSAGES_PATH


def transcript_requests(sim: DigaSimulator) -> list:
    return [record for record in sim.request_log if record.path.endswith("/message")]


def transcript(client: DigaClient, call_id: str | uuid.UUID, **params) -> list[dict]:
    """One call's whole transcript: the records of every page the client walks, in order."""
    return [message for page in client.iter_call_message_pages(call_id, **params) for message in page.data]


def longest_call(world: World) -> dict:
    return max(world.calls_visible(), key=lambda c: len(world.call_messages(c["id"])))


@pytest.fixture
def sim(start_simulator) -> DigaSimulator:
    return start_simulator(status_model="current", days=2)


def test_a_transcript_is_walked_oldest_first_page_by_page(sim: DigaSimulator) -> None:
    call = longest_call(sim.world)
    expected = sim.world.call_messages(call["id"])
    assert len(expected) > 40

    with make_client(sim) as client:
        pages = list(client.iter_call_message_pages(call["id"], limit=9))

    assert [m for page in pages for m in page.data] == expected
    assert len(pages) == -(-len(expected) // 9) and pages[-1].has_more is False
    sent = [record.query for record in transcript_requests(sim)]
    assert all(q["order"] == "asc" and q["limit"] == "9" for q in sent)
    assert [q.get("after") for q in sent] == [None] + [page.last_id for page in pages[:-1]]


def test_a_transcript_takes_one_request_of_up_to_1000_by_default(sim: DigaSimulator) -> None:
    call = longest_call(sim.world)
    with make_client(sim) as client:
        got = transcript(client, call["id"])
    assert got == sim.world.call_messages(call["id"])
    (request,) = transcript_requests(sim)
    assert request.path == MESSAGES.format(id=call["id"])
    assert request.query == {"limit": "1000", "order": "asc"}


def test_every_call_reads_as_the_world_holds_it(sim: DigaSimulator) -> None:
    with make_client(sim) as client:
        for call in sim.world.calls_visible()[:60]:
            assert transcript(client, call["id"]) == sim.world.call_messages(call["id"])


def test_a_call_without_messages_is_an_empty_transcript(sim: DigaSimulator) -> None:
    silent = sim.world.calls_without_messages()[0]
    with make_client(sim) as client:
        assert transcript(client, silent) == []
        (page,) = client.iter_call_message_pages(silent)
    assert (page.data, page.has_more, page.attempts) == ([], False, 1)
    assert [r.status for r in transcript_requests(sim)] == [404, 404], "one request each, not retried"


def test_a_call_that_does_not_exist_raises_naming_it(sim: DigaSimulator) -> None:
    ghost = str(uuid.UUID(int=42))
    sleep = RecordedSleep()
    with make_client(sim, sleep=sleep) as client, pytest.raises(DigaCallNotFoundError) as info:
        transcript(client, ghost)
    error = info.value
    assert error.call_id == ghost and ghost in str(error)
    assert (error.status, error.error_code) == (404, "CALL_NOT_FOUND")
    assert isinstance(error, DigaInvalidRequestError), "callers catching refused requests still catch it"
    assert f"GET {MESSAGES.format(id=ghost)}" in str(error)
    assert sleep.calls == [] and len(transcript_requests(sim)) == 1


def test_missing_calls_can_be_counted_while_walking_many(sim: DigaSimulator) -> None:
    # Calls deleted since they were listed look like this to the transcript endpoint.
    listed = [c["id"] for c in sim.world.calls_visible()[:30]]
    deleted = [str(uuid.UUID(int=n)) for n in (1, 2, 3)]
    missing, messages = [], 0
    with make_client(sim) as client:
        for call_id in [*listed[:10], *deleted, *listed[10:]]:
            try:
                messages += len(transcript(client, call_id))
            except DigaCallNotFoundError as error:
                missing.append(error.call_id)
    assert missing == deleted
    assert messages == sum(len(sim.world.call_messages(c)) for c in listed)


def test_the_id_may_be_a_uuid_in_any_spelling(sim: DigaSimulator) -> None:
    call = longest_call(sim.world)
    with make_client(sim) as client:
        assert transcript(client, uuid.UUID(call["id"])) == transcript(client, call["id"].upper())
    assert {r.path for r in transcript_requests(sim)} == {MESSAGES.format(id=call["id"])}


@pytest.mark.parametrize(
    ("call_id", "params", "parameter"),
    [
        ("not-a-uuid", {}, "id"),
        ("", {}, "id"),
        ("0b3c3c5e-8c7e-4b7a-9a53-5d5b8f0f0a11", {"limit": 1001}, "limit"),
        ("0b3c3c5e-8c7e-4b7a-9a53-5d5b8f0f0a11", {"limit": 0}, "limit"),
        ("0b3c3c5e-8c7e-4b7a-9a53-5d5b8f0f0a11", {"order": "up"}, "order"),
        ("0b3c3c5e-8c7e-4b7a-9a53-5d5b8f0f0a11", {"after": "x"}, "after"),
    ],
)
def test_invalid_requests_are_refused_before_any_request(sim: DigaSimulator, call_id, params, parameter) -> None:
    with make_client(sim) as client, pytest.raises(DigaRequestValidationError) as info:
        list(client.iter_call_message_pages(call_id, **params))
    assert info.value.parameter == parameter and info.value.path == MESSAGES
    assert sim.request_log == []


def test_a_key_without_read_on_calls_is_told_so() -> None:
    world = World(seed=7, now=SIM_NOW, days=1, calls_per_day=100, status_model="current")
    call_id = world.calls_visible()[0]["id"]
    with served_simulators() as start:
        sim = start(world, api_key=SIM_KEY, denied_resources=["calls"])
        with make_client(sim) as client, pytest.raises(DigaAuthError) as info:
            transcript(client, call_id)
    assert info.value.status == 403 and info.value.path == MESSAGES.format(id=call_id)
    assert "lacks Read permission on Calls" in str(info.value)
    assert len(transcript_requests(sim)) == 1, "never retried"


def test_retries_through_429s_and_server_errors(start_simulator) -> None:
    script = [
        Fault("status", status=429, retry_after="4", path=MESSAGES),
        Fault("status", status=502, path=MESSAGES),
        None,  # the first page
        Fault("status", status=500, path=MESSAGES),
    ]
    sim = start_simulator(status_model="current", days=2, faults=FaultConfig(script=script))
    call = longest_call(sim.world)
    sleep = RecordedSleep()
    with make_client(sim, sleep=sleep, backoff_base_s=0.01) as client:
        pages = list(client.iter_call_message_pages(call["id"], limit=10))
    assert [m for p in pages for m in p.data] == sim.world.call_messages(call["id"])
    assert pages[0].attempts == 3 and pages[1].attempts == 2
    assert len(sleep.calls) == 3 and sleep.calls[0] >= 4


def test_retries_before_an_empty_transcript_are_counted(start_simulator) -> None:
    sim = start_simulator(
        status_model="current", days=2, faults=FaultConfig(script=[Fault("status", status=503, path=MESSAGES)])
    )
    silent = sim.world.calls_without_messages()[0]
    with make_client(sim, backoff_base_s=0.01) as client:
        (page,) = client.iter_call_message_pages(silent)
    assert page.data == [] and page.attempts == 2


def test_random_faults_are_survived(start_simulator) -> None:
    faults = FaultConfig(seed=5, rate_429=0.2, rate_5xx=0.2, retry_after="0")
    sim = start_simulator(status_model="current", days=1, faults=faults)
    calls = sim.world.calls_visible()[:40]
    with make_client(sim, backoff_base_s=0.0, max_attempts=20) as client:
        got = {c["id"]: transcript(client, c["id"]) for c in calls}
    assert got == {c["id"]: sim.world.call_messages(c["id"]) for c in calls}
    assert any(r.fault for r in transcript_requests(sim)), "faults were injected"


def test_persistent_server_errors_fail_naming_the_request(start_simulator) -> None:
    sim = start_simulator(
        status_model="current", days=1, faults=FaultConfig(script=[Fault("status", status=503, path=MESSAGES)] * 9)
    )
    call_id = sim.world.calls_visible()[0]["id"]
    with make_client(sim, max_attempts=3) as client, pytest.raises(DigaServerError) as info:
        transcript(client, call_id)
    assert f"GET {MESSAGES.format(id=call_id)}?limit=1000&order=asc" in str(info.value)
    assert "gave up after 3 attempts" in str(info.value)


def test_a_cursor_that_does_not_advance_is_an_error_not_a_loop(start_simulator) -> None:
    script = [None, Fault("stuck_cursor", path=MESSAGES)]
    sim = start_simulator(status_model="current", days=2, faults=FaultConfig(script=script), validate=False)
    call = longest_call(sim.world)
    with make_client(sim) as client, pytest.raises(DigaProtocolError, match="does not advance"):
        transcript(client, call["id"], limit=5)
    assert len(transcript_requests(sim)) == 2


def test_an_in_progress_call_reads_as_its_transcript_so_far(start_simulator) -> None:
    reference = World(seed=7, now=SIM_NOW, days=1, calls_per_day=300, status_model="current")
    call = next(c for c in reference.calls_visible() if c["end_reason"] == "sim_agent_hangup" and c["duration"] > 200)
    final = reference.call_messages(call["id"])
    middle = datetime.fromisoformat(call["start_time"]) + timedelta(seconds=call["duration"] / 2)
    sim = start_simulator(world=World(seed=7, now=middle, days=1, calls_per_day=300, status_model="current"))
    assert next(c["status"] for c in sim.world.calls_visible() if c["id"] == call["id"]) == "in_progress"

    with make_client(sim) as client:
        so_far = transcript(client, call["id"])

    assert 0 < len(so_far) < len(final) and so_far == final[: len(so_far)]
    sim.world.advance(timedelta(seconds=call["duration"]))
    with make_client(sim) as client:
        assert transcript(client, call["id"]) == final


def test_the_same_seed_reads_the_same_transcripts(start_simulator) -> None:
    first = start_simulator(status_model="current", days=1)
    second = start_simulator(status_model="current", days=1)
    ids = [c["id"] for c in first.world.calls_visible()[:30]]
    with make_client(first) as one, make_client(second) as two:
        assert [transcript(one, i) for i in ids] == [transcript(two, i) for i in ids]


def test_a_seed_model_api_has_no_transcripts_and_that_is_an_error(start_simulator) -> None:
    sim = start_simulator(days=1)  # the seed model: the route does not exist
    call_id = sim.world.calls_visible()[0]["id"]
    with make_client(sim) as client, pytest.raises(DigaInvalidRequestError) as info:
        transcript(client, call_id)
    assert not isinstance(info.value, DigaCallNotFoundError)
    assert (info.value.status, info.value.error_code) == (404, "NOT_FOUND")


def test_the_key_never_appears_in_errors_or_logs(start_simulator, caplog) -> None:
    secret = "dg_live_" + "9e1d2b" * 6
    sim = start_simulator(
        status_model="current",
        days=1,
        api_key=secret,
        faults=FaultConfig(script=[Fault("status", status=429, retry_after="0", path=MESSAGES)]),
    )
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    with make_client(sim, api_key=secret) as client:
        transcript(client, sim.world.calls_visible()[0]["id"])  # a retry is logged
        with pytest.raises(DigaApiError) as info:
            transcript(client, str(uuid.UUID(int=9)))
        texts += [str(info.value), repr(info.value), repr(info.value.__cause__)]
    texts += [record.getMessage() for record in caplog.records]
    assert any("retry" in t for t in texts)
    assert all(secret not in t for t in texts)
