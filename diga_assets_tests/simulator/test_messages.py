"""``GET /v1/call/{id}/message``: a call's transcript, as the live document describes it.

Under the ``current`` model every call has a transcript that follows from the call: nothing
before the call is answered, the messages so far while it is in progress, and once it has ended
an assistant greeting and alternating turns within its start and end (or nothing, for calls in
which nobody talked). The endpoint pages like ``/v1/call/``, answers 404 ``NO_MESSAGES_FOR_CALL``
for an empty transcript and 404 ``CALL_NOT_FOUND`` for a call that is not there. Every body served
here is checked against the live document when the test ends.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime, timedelta
from itertools import pairwise

import pytest
import requests

from diga_assets.api.spec import live
from diga_assets.simulator import DigaSimulator, Fault, FaultConfig, World
from diga_assets.simulator import messages as transcripts_module
from diga_assets.simulator.messages import SHORT_CALL_SECONDS
from diga_assets.simulator.world import DOCUMENTED_END_REASONS, UnknownCallError
from diga_assets_tests.contract import ContractViolation, validate_response, validate_served_bodies
from diga_assets_tests.simulator.conftest import API_KEY, CALLS, FIXED_NOW, MESSAGES, PHONES

AUTH = {"Authorization": f"Bearer {API_KEY}"}
NEVER_TALKED = {*DOCUMENTED_END_REASONS, "sim_no_answer", "sim_error"}
CONVERSATIONS = {"sim_customer_hangup", "sim_agent_hangup", "sim_transferred"}


def validate_transcript(status: int, body: object) -> None:
    """The contract check of one transcript answer (the live document: only it has the endpoint)."""
    validate_response(MESSAGES, status, body, model="current")


def current_world(seed: int = 7, **kwargs) -> World:
    kwargs.setdefault("now", FIXED_NOW)
    kwargs.setdefault("days", 3)
    kwargs.setdefault("calls_per_day", 60)
    return World(seed=seed, status_model="current", **kwargs)


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def fetch(sim: DigaSimulator, call_id: str, **params) -> requests.Response:
    return requests.get(sim.base_url + MESSAGES.format(id=call_id), params=params, headers=AUTH, timeout=10)


@pytest.fixture(scope="module")
def big_world() -> World:
    """About 3,000 calls: enough of every ending, short calls included."""
    return current_world(seed=11, days=4, calls_per_day=800)


@pytest.fixture(scope="module")
def transcripts(big_world: World) -> list[tuple[dict, list[dict]]]:
    return [(call, big_world.call_messages(call["id"])) for call in big_world.calls_visible()]


@pytest.fixture
def served(make_simulator) -> DigaSimulator:
    return make_simulator(current_world())


def longest_call(world: World) -> tuple[dict, list[dict]]:
    call = max(world.calls_visible(), key=lambda c: len(world.call_messages(c["id"])))
    return call, world.call_messages(call["id"])


# ----------------------------------------------------------------------- what a transcript holds


def test_messages_carry_exactly_the_fields_of_message_response(transcripts) -> None:
    fields = set(live().schema("MessageResponse")["properties"])
    messages = [m for _, ms in transcripts for m in ms]
    assert len(messages) > 10_000
    assert all(set(m) == fields for m in messages)
    # Every tool message, and a sample of the rest (the check is slow on fifty thousand).
    sample = [m for m in messages if m["role"] == "tool"] + messages[::25]
    validate_transcript(200, {"data": sample, "has_more": False})


def test_a_transcript_opens_with_the_assistant_and_then_takes_turns(transcripts) -> None:
    for _, messages in transcripts:
        if not messages:
            continue
        assert messages[0]["role"] == "assistant" and messages[0]["content"]
        spoken = [m["role"] for m in messages if m["role"] != "tool"]
        assert all(a != b for a, b in pairwise(spoken)), spoken
        for message in messages:
            if message["role"] == "tool":
                assert message["content"] is None and isinstance(message["tool_call"], dict)
            else:
                assert isinstance(message["content"], str) and message["tool_call"] is None


def test_messages_lie_within_the_call_strictly_in_order(transcripts) -> None:
    for call, messages in transcripts:
        if not messages:
            continue
        times = [instant(m["created_date"]) for m in messages]
        assert instant(call["start_time"]) <= times[0]
        # A call in progress has no end_time yet: its messages so far are before the clock.
        assert times[-1] <= (instant(call["end_time"]) if call["end_time"] else FIXED_NOW)
        assert all(a < b for a, b in pairwise(times))


def test_calls_in_which_nobody_talked_have_no_transcript(transcripts) -> None:
    endings = Counter(call["end_reason"] for call, messages in transcripts if call["end_reason"] in NEVER_TALKED)
    assert set(endings) == NEVER_TALKED, "every such ending occurs"
    assert all(messages == [] for call, messages in transcripts if call["end_reason"] in NEVER_TALKED)


def test_a_conversation_has_a_transcript_unless_it_was_short(transcripts) -> None:
    finished = [(c, ms) for c, ms in transcripts if c["status"] == "completed" and c["end_reason"] in CONVERSATIONS]
    empty = [c for c, ms in finished if not ms]
    assert empty, "a share of short calls has no transcript"
    assert all(c["duration"] < SHORT_CALL_SECONDS for c in empty)


def test_some_callers_hang_up_right_after_the_greeting(transcripts) -> None:
    shapes = Counter(
        tuple(m["role"] for m in messages)
        for call, messages in transcripts
        if call["end_reason"] == "sim_customer_hangup" and call["duration"] < SHORT_CALL_SECONDS
    )
    assert shapes[()] and shapes[("assistant",)] and shapes[("assistant", "user")], shapes


def test_tool_calls_follow_the_live_schemas_and_the_ending(transcripts) -> None:
    kinds = Counter()
    for call, messages in transcripts:
        tools = [m["tool_call"] for m in messages if m["role"] == "tool"]
        kinds.update(t["type"] for t in tools)
        if not messages or call["status"] != "completed":
            continue
        last = messages[-1]["tool_call"] or {}
        if call["end_reason"] == "sim_transferred" and len(messages) > 2:
            assert last.get("tool_name") == "transfer"
        if call["end_reason"] == "sim_agent_hangup" and len(messages) > 2:
            assert last.get("tool_name") == "hangup"
    assert kinds["function"] > 100 and kinds["call_tool"] > 100
    # The contract check above validates each against FunctionSchema or CallToolSchema; one that
    # breaks them is refused.
    broken = {**transcripts[0][1][0], "role": "tool", "tool_call": {"type": "function", "status": "started"}}
    with pytest.raises(ContractViolation):
        validate_transcript(200, {"data": [broken], "has_more": False})


def test_longer_calls_say_more(transcripts) -> None:
    def mean_length(low: int, high: int) -> float:
        sizes = [len(ms) for c, ms in transcripts if ms and c["duration"] and low <= c["duration"] < high]
        return sum(sizes) / len(sizes)

    assert mean_length(30, 60) < mean_length(120, 240) < mean_length(600, 1500)


# ----------------------------------------------------------------------------- the clock


def test_a_transcript_grows_with_the_call_and_is_empty_before_it_is_answered() -> None:
    reference = current_world(seed=3, days=1, calls_per_day=400)
    call = next(
        c
        for c in reference.calls_visible()
        if c["type"] == "outbound" and c["end_reason"] == "sim_customer_hangup" and c["duration"] > 120
    )
    final = reference.call_messages(call["id"])
    created, start = instant(call["created_date"]), instant(call["start_time"])
    # The same world (same seed and calls) watched from the moment the call was created.
    world = current_world(seed=3, days=1, calls_per_day=400, now=created)

    def status() -> str:
        return next(c["status"] for c in world.calls_visible() if c["id"] == call["id"])

    assert status() in ("in_queue", "dialing") and world.call_messages(call["id"]) == []
    world.advance(start - created - timedelta(microseconds=1))
    assert status() in ("in_queue", "dialing") and world.call_messages(call["id"]) == []
    world.advance(timedelta(microseconds=1))
    assert status() == "in_progress"
    seen = 0
    while status() == "in_progress":
        so_far = world.call_messages(call["id"])
        assert so_far == final[: len(so_far)], "a prefix of the final transcript"
        assert all(instant(m["created_date"]) <= world.now for m in so_far)
        assert len(so_far) >= seen
        seen = len(so_far)
        world.advance(timedelta(seconds=20))
    assert 0 < seen < len(final), "the call was watched while partly transcribed"
    assert world.call_messages(call["id"]) == final


def test_an_in_progress_call_serves_its_partial_transcript(make_simulator) -> None:
    reference = current_world(seed=3, days=1, calls_per_day=400)
    call = next(c for c in reference.calls_visible() if c["end_reason"] == "sim_agent_hangup" and c["duration"] > 200)
    final = reference.call_messages(call["id"])
    middle = instant(call["start_time"]) + timedelta(seconds=call["duration"] // 2)
    world = current_world(seed=3, days=1, calls_per_day=400, now=middle)
    sim = make_simulator(world)

    body = fetch(sim, call["id"], order="asc", limit=1000).json()

    assert 0 < len(body["data"]) < len(final)
    assert body["data"] == final[: len(body["data"])] == world.call_messages(call["id"])


# ------------------------------------------------------------------------------- over HTTP


def test_walking_pages_with_after_gives_the_whole_transcript(served: DigaSimulator) -> None:
    call, expected = longest_call(served.world)
    assert len(expected) > 30
    got, after, pages = [], None, 0
    while True:
        params = {"order": "asc", "limit": 7, **({"after": after} if after else {})}
        body = fetch(served, call["id"], **params).json()
        got += body["data"]
        pages += 1
        assert body["first_id"] == body["data"][0]["id"] and body["last_id"] == body["data"][-1]["id"]
        if not body["has_more"]:
            break
        after = body["last_id"]
    assert got == expected
    assert pages == -(-len(expected) // 7)


def test_the_default_is_the_newest_100_first() -> None:
    world = current_world(seed=11, days=4, calls_per_day=800)
    call = next(c for c in world.calls_visible() if len(world.call_messages(c["id"])) > 100)
    expected = world.call_messages(call["id"])
    with DigaSimulator(world) as sim:
        body = fetch(sim, call["id"]).json()
    validate_transcript(200, body)
    assert body["data"] == expected[::-1][:100]
    assert body["has_more"] is True and body["current_page"] is None and body["total_pages"] is None


def test_before_pages_back_and_page_numbers_count_pages(served: DigaSimulator) -> None:
    call, expected = longest_call(served.world)
    pivot = expected[20]["id"]
    before = fetch(served, call["id"], order="asc", limit=5, before=pivot).json()
    assert before["data"] == expected[15:20] and before["has_more"] is True
    numbered = fetch(served, call["id"], order="asc", limit=5, page=2).json()
    assert numbered["data"] == expected[5:10]
    assert (numbered["current_page"], numbered["total_pages"]) == (2, -(-len(expected) // 5))


@pytest.mark.parametrize(
    ("parameter", "value"),
    [("limit", "0"), ("limit", "1001"), ("limit", "ten"), ("order", "random"), ("after", "12345"), ("page", "0")],
)
def test_query_parameters_are_checked_as_for_calls(served: DigaSimulator, parameter: str, value: str) -> None:
    call, _ = longest_call(served.world)
    response = fetch(served, call["id"], **{parameter: value})
    assert response.status_code == 400
    body = response.json()
    assert body["error_code"] == "NOT_VALID_FIELD" and f"'{parameter}'" in body["message"]


def test_both_cursors_at_once_is_422(served: DigaSimulator) -> None:
    call, messages = longest_call(served.world)
    response = fetch(served, call["id"], after=messages[1]["id"], before=messages[3]["id"])
    assert response.status_code == 422
    assert response.json()["error_code"] == "INVALID_PAGINATION_PARAMETERS"


def test_a_cursor_from_another_transcript_is_400_naming_it(served: DigaSimulator) -> None:
    calls = [c for c in served.world.calls_visible() if served.world.call_messages(c["id"])]
    stranger = served.world.call_messages(calls[1]["id"])[0]["id"]
    response = fetch(served, calls[0]["id"], after=stranger)
    assert response.status_code == 400
    assert response.json()["error_code"] == "NOT_VALID_FIELD" and stranger in response.json()["message"]


def test_a_call_without_messages_is_404_no_messages_for_call(served: DigaSimulator) -> None:
    silent = served.world.calls_without_messages()
    assert silent
    for call_id in silent[:5]:
        response = fetch(served, call_id)
        assert response.status_code == 404
        assert response.json() == {
            "status": "error",
            "error_code": "NO_MESSAGES_FOR_CALL",
            "message": f"No messages found for call {call_id}",
        }


def test_calls_without_messages_are_exactly_those_answered_404(served: DigaSimulator) -> None:
    silent = set(served.world.calls_without_messages())
    for call in served.world.calls_visible():
        answered = fetch(served, call["id"], limit=1).status_code
        assert answered == (404 if call["id"] in silent else 200), call


def test_a_call_that_is_not_there_is_404_call_not_found(served: DigaSimulator) -> None:
    ghost = str(uuid.UUID(int=42))
    # A call of the same world that is only created after the clock is not there yet either.
    later = current_world(now=FIXED_NOW + timedelta(hours=6)).calls_visible()[-1]["id"]
    for call_id in (ghost, later):
        response = fetch(served, call_id)
        assert response.status_code == 404
        assert response.json()["error_code"] == "CALL_NOT_FOUND" and call_id in response.json()["message"]
        with pytest.raises(UnknownCallError):
            served.world.call_messages(call_id)


@pytest.mark.parametrize("raw_id", ["not-a-uuid", "12345", ""])
def test_an_id_that_is_not_a_uuid_is_400_missing_id(served: DigaSimulator, raw_id: str) -> None:
    response = fetch(served, raw_id)
    assert response.status_code == 400
    assert response.json()["error_code"] == "MISSING_ID"


def test_any_spelling_of_the_id_names_the_call(served: DigaSimulator) -> None:
    call, expected = longest_call(served.world)
    upper = fetch(served, call["id"].upper().replace("-", ""), order="asc", limit=1000)
    assert upper.json()["data"] == expected


def test_a_planted_call_has_no_transcript(served: DigaSimulator) -> None:
    planted = {**served.world.calls_visible()[0], "id": str(uuid.UUID(int=7))}
    served.world.add_call(planted)
    assert fetch(served, planted["id"]).json()["error_code"] == "NO_MESSAGES_FOR_CALL"
    assert planted["id"] in served.world.calls_without_messages()


def test_a_key_without_read_on_calls_is_403_on_transcripts_too(make_simulator) -> None:
    sim = make_simulator(current_world(), denied_resources=["calls"])
    call_id = sim.world.calls_visible()[0]["id"]
    for answer in (fetch(sim, call_id), fetch(sim, str(uuid.UUID(int=42))), fetch(sim, "not-a-uuid")):
        assert answer.status_code == 403, "the key learns nothing of which calls exist"
        example = live().operation(MESSAGES)["responses"]["403"]["content"]["application/json"]["example"]
        assert answer.json()["message"] == example["message"]
    phones = requests.get(sim.base_url + PHONES, headers=AUTH, timeout=10)
    assert phones.status_code == 200


def test_a_wrong_key_is_403(served: DigaSimulator) -> None:
    call_id = served.world.calls_visible()[0]["id"]
    response = requests.get(
        served.base_url + MESSAGES.format(id=call_id), headers={"Authorization": "Bearer nope"}, timeout=10
    )
    assert response.status_code == 403


def test_only_get_is_allowed(served: DigaSimulator) -> None:
    call_id = served.world.calls_visible()[0]["id"]
    response = requests.post(served.base_url + MESSAGES.format(id=call_id), headers=AUTH, timeout=10)
    assert response.status_code == 405 and response.headers["Allow"] == "GET"


def test_the_seed_model_has_no_such_route(make_simulator) -> None:
    sim = make_simulator(World(seed=7, now=FIXED_NOW, days=3, calls_per_day=60))
    call_id = sim.world.calls_visible()[0]["id"]
    response = fetch(sim, call_id)
    assert response.status_code == 404 and response.json()["error_code"] == "NOT_FOUND"
    with pytest.raises(ValueError, match="seed"):
        sim.world.call_messages(call_id)


# ---------------------------------------------------------------------------------- faults


def test_scripted_faults_aimed_at_transcripts_hit_only_transcripts(make_simulator) -> None:
    aimed = [Fault("status", status=429, path=MESSAGES), Fault("status", status=503, path=CALLS)]
    sim = make_simulator(current_world(), faults=FaultConfig(script=aimed))
    call, expected = longest_call(sim.world)
    assert requests.get(sim.base_url + PHONES, headers=AUTH, timeout=10).status_code == 200, "neither is aimed here"
    assert fetch(sim, call["id"]).status_code == 429
    assert fetch(sim, call["id"], order="asc", limit=1000).json()["data"] == expected, "the 503 waits for calls"
    assert requests.get(sim.base_url + CALLS, headers=AUTH, timeout=10).status_code == 503
    logged = [(r.path, r.status, r.fault) for r in sim.request_log]
    path = MESSAGES.format(id=call["id"])
    assert logged[1:3] == [(path, 429, "status:429"), (path, 200, None)]


def test_random_faults_and_latency_apply_to_transcripts(make_simulator) -> None:
    sim = make_simulator(current_world(), faults=FaultConfig(seed=1, rate_5xx=1.0, latency_ms=1))
    call, _ = longest_call(sim.world)
    assert fetch(sim, call["id"]).status_code in (500, 502, 503, 504)
    assert sim.request_log[-1].fault.startswith("random:status:5")


def test_page_shaped_faults_distort_transcript_pages(make_simulator) -> None:
    sim = make_simulator(current_world(), faults=FaultConfig(script=[Fault("stuck_cursor"), Fault("empty_has_more")]))
    call, messages = longest_call(sim.world)
    stuck = fetch(sim, call["id"], order="asc", limit=5, after=messages[0]["id"]).json()
    assert stuck["last_id"] == messages[0]["id"]
    empty = fetch(sim, call["id"], order="asc", limit=5).json()
    assert empty["data"] == [] and empty["has_more"] is True


# ------------------------------------------------------------------- contract, determinism, laziness


def test_transcript_bodies_are_filed_for_the_contract_check(served: DigaSimulator) -> None:
    call, _ = longest_call(served.world)
    fetch(served, call["id"])
    fetch(served, served.world.calls_without_messages()[0])
    fetch(served, str(uuid.UUID(int=42)))
    filed = [(path, status) for path, status, _ in served.served_bodies]
    assert filed == [(MESSAGES, 200), (MESSAGES, 404), (MESSAGES, 404)]
    # ... and the check refuses what the document refuses.
    with pytest.raises(ContractViolation, match="role"):
        validate_transcript(200, {"data": [{"id": str(uuid.UUID(int=1)), "created_date": "x"}]})
    with pytest.raises(ContractViolation):
        validate_transcript(404, {"detail": "Not Found"})


def test_the_check_after_a_test_catches_a_broken_transcript(make_simulator) -> None:
    broken = Fault("wrong_type", record_field="role", wrong_value="narrator")
    sim = make_simulator(current_world(), faults=FaultConfig(script=[broken]), validate=False)
    call, _ = longest_call(sim.world)
    assert fetch(sim, call["id"]).json()["data"][0]["role"] == "narrator"
    with pytest.raises(ContractViolation, match="narrator"):
        validate_served_bodies(sim)


def test_the_same_seed_serves_the_same_transcripts(make_simulator) -> None:
    first, second = make_simulator(current_world()), make_simulator(current_world())
    other = current_world(seed=8)
    for call in first.world.calls_visible()[:40]:
        a = fetch(first, call["id"], limit=1000)
        b = fetch(second, call["id"], limit=1000)
        assert (a.status_code, a.content) == (b.status_code, b.content)
    ids = {m["id"] for c in first.world.calls_visible() for m in first.world.call_messages(c["id"])}
    other_ids = {m["id"] for c in other.calls_visible() for m in other.call_messages(c["id"])}
    assert ids and not ids & other_ids


def test_reading_transcripts_does_not_change_the_calls() -> None:
    untouched, read = current_world(), current_world()
    for call in read.calls_visible():
        read.call_messages(call["id"])
    assert read.calls_visible() == untouched.calls_visible()


def test_transcripts_are_built_only_when_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []
    real_build = transcripts_module.Transcripts.build

    def counting_build(self, core):
        built.append(core.id)
        return real_build(self, core)

    monkeypatch.setattr(transcripts_module.Transcripts, "build", counting_build)
    world = current_world(days=30, calls_per_day=2000)
    assert world.visible_call_count() > 50_000 and built == []
    first_hour = world.calls_created_between(world.window_start, world.window_start + timedelta(hours=12))
    call = max(first_hour, key=lambda c: c["duration"] or 0)
    with DigaSimulator(world) as sim:
        after = None
        for _ in range(3):
            body = fetch(sim, call["id"], order="asc", limit=2, **({"after": after} if after else {})).json()
            after = body["last_id"]
    assert built == [call["id"]], "one transcript, built once for three pages"
