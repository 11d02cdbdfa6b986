"""The synthetic company: deterministic, realistic enough to exercise clients, and moving in time."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from diga_assets.api.spec import CALLS_PATH, PHONES_PATH, seed_page
from diga_assets.simulator import World
from diga_assets.simulator.instants import parse_instant_us
from diga_assets.simulator.world import ListQuery
from diga_assets_tests.simulator.conftest import FIXED_NOW


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.fixture(scope="module")
def world() -> World:
    return World(seed=7, now=FIXED_NOW, days=3, calls_per_day=60)


def test_same_seed_and_clock_give_identical_data(world: World) -> None:
    twin = World(seed=7, now=FIXED_NOW, days=3, calls_per_day=60)
    assert orjson.dumps(twin.calls_visible()) == orjson.dumps(world.calls_visible())
    assert orjson.dumps(twin.phones_visible()) == orjson.dumps(world.phones_visible())
    other = World(seed=8, now=FIXED_NOW, days=3, calls_per_day=60)
    assert {c["id"] for c in other.calls_visible()}.isdisjoint(c["id"] for c in world.calls_visible())


def test_calls_span_the_window_before_now_and_are_sorted(world: World) -> None:
    calls = world.calls_visible()
    created = [instant(c["created_date"]) for c in calls]
    assert 100 < len(calls) < 300
    assert min(created) >= FIXED_NOW - timedelta(days=3)
    assert max(created) <= FIXED_NOW
    keys = [(instant(c["created_date"]), c["id"]) for c in calls]
    assert keys == sorted(keys)


def test_night_is_quiet_and_mornings_are_busy() -> None:
    calls = World(seed=3, now=FIXED_NOW, days=14, calls_per_day=400).calls_visible()
    madrid_hours = Counter((instant(c["created_date"]) + timedelta(hours=2)).hour for c in calls)  # CEST in May
    night = sum(madrid_hours[h] for h in range(1, 6))
    morning = sum(madrid_hours[h] for h in range(10, 12))
    afternoon = sum(madrid_hours[h] for h in range(16, 18))
    assert night * 10 < morning
    assert night * 10 < afternoon
    assert madrid_hours[14] < madrid_hours[11]  # the Spanish lunch dip


def test_field_variety_matches_the_brief(world: World) -> None:
    big = World(seed=7, now=FIXED_NOW, days=10, calls_per_day=200).calls_visible()
    assert {c["type"] for c in big} == {"inbound", "outbound"}
    assert {c["contact"]["contact_type"] for c in big} == {"call", "web"}
    assert all(c["phone_register_id"] is None for c in big if c["contact"]["contact_type"] == "web")
    assert any(c["agent_id"] is None and c["agent_version_id"] is None for c in big)
    assert any(c["dynamic_variables"] is None for c in big)
    assert any(isinstance(c["dynamic_variables"], dict) for c in big)
    assert seed_page(CALLS_PATH).enum_values("CallStatus") >= {c["status"] for c in big}
    assert {"completed", "failed", "transferred", "no_answer"} <= {c["status"] for c in big}
    repeat = Counter(c["contact"]["id"] for c in big)
    assert max(repeat.values()) >= 3, "some callers call again"
    urls = [c["recording_url"] for c in big if c["recording_url"]]
    assert urls and all(u.startswith("https://recordings.diga.example/rec/") and "sig=" in u for u in urls)
    for call in big:
        contact = call["contact"]
        if contact["contact_type"] == "call":
            assert contact["identifier"].startswith("+") and contact["identifier"][1:].isdigit()
        assert instant(contact["created_date"]) <= instant(call["created_date"])


def test_a_day_mixes_agent_versions() -> None:
    w = World(seed=7, now=FIXED_NOW, days=30, calls_per_day=300)
    by_day: dict[tuple[str, object], set[str]] = {}
    for call in w.calls_visible():
        if call["agent_id"]:
            key = (call["agent_id"], instant(call["created_date"]).date())
            by_day.setdefault(key, set()).add(call["agent_version_id"])
    assert any(len(versions) >= 2 for versions in by_day.values())
    assert any(len(agent.versions) >= 2 for agent in w.agents)


def test_times_are_consistent_and_spelled_several_ways(world: World) -> None:
    calls = world.calls_visible()
    spellings = Counter()
    for call in calls:
        text = call["created_date"]
        spellings[text[-6:] if text[-6] in "+-" else "Z"] += 1
        spellings["fraction" if "." in text else "whole"] += 1
        if call["end_time"] is not None:
            start, end = instant(call["start_time"]), instant(call["end_time"])
            assert end - start == timedelta(seconds=call["duration"])
            assert start >= instant(call["created_date"])
            assert isinstance(call["duration"], int)
    assert {"Z", "+00:00", "+01:00", "fraction", "whole"} <= set(spellings)


def test_plus_one_spelling_is_the_same_instant(world: World) -> None:
    shifted = [c for c in world.calls_visible() if c["created_date"].endswith("+01:00")]
    assert shifted
    for call in shifted:
        moment = instant(call["created_date"])
        assert moment.utcoffset() == timedelta(hours=1)
        assert moment.astimezone(UTC) <= FIXED_NOW


def test_calls_at_exactly_midnight_exist(world: World) -> None:
    midnight = datetime(2024, 5, 13, tzinfo=UTC)
    at_midnight = [c for c in world.calls_visible() if instant(c["created_date"]) == midnight]
    assert len(at_midnight) == 2, "two calls share the instant, so ids break the tie"
    assert at_midnight[0]["id"] < at_midnight[1]["id"]


def test_calls_created_between_is_half_open(world: World) -> None:
    midnight = datetime(2024, 5, 13, tzinfo=UTC)
    before = world.calls_created_between(midnight - timedelta(hours=6), midnight)
    after = world.calls_created_between(midnight, midnight + timedelta(hours=6))
    assert all(instant(c["created_date"]) < midnight for c in before)
    assert [instant(c["created_date"]) for c in after[:2]] == [midnight, midnight]


def test_recent_calls_are_still_running_and_finish_as_the_clock_moves() -> None:
    w = World(seed=11, now=FIXED_NOW, days=2, calls_per_day=3000)
    running = {c["id"]: c for c in w.calls_visible() if c["status"] in ("dialing", "in_progress")}
    assert running, "a busy morning has calls in flight"
    for call in running.values():
        assert call["end_time"] is None and call["duration"] is None and call["end_reason"] is None
        assert instant(call["created_date"]) > FIXED_NOW - timedelta(minutes=30)
    count_before = w.visible_call_count()
    w.advance(timedelta(hours=2))
    after = {c["id"]: c for c in w.calls_visible()}
    assert w.visible_call_count() > count_before, "new calls appear"
    for call_id in running:
        finished = after[call_id]
        assert finished["status"] in {"completed", "failed", "transferred", "no_answer"}
        assert finished["end_time"] is not None


def test_served_status_is_the_same_through_the_cache() -> None:
    w = World(seed=11, now=FIXED_NOW, days=1, calls_per_day=2000)
    first = w.list_calls(ListQuery(order="desc", limit=200))
    w.advance(timedelta(hours=1))
    second = w.list_calls(ListQuery(order="asc", limit=1000, start_us=first_created_us(first)))
    served = {orjson.loads(b)["id"]: orjson.loads(b) for b in second.data}
    for call in w.calls_visible():
        if call["id"] in served:
            assert served[call["id"]] == call


def first_created_us(page) -> int:
    created = [parse_instant_us(orjson.loads(b)["created_date"]) for b in page.data]
    return min(c for c in created if c is not None)


def test_phones_cover_the_life_cycle_and_change_within_a_day(world: World) -> None:
    phones = world.phones_visible()
    statuses = Counter(p["status"] for p in phones)
    assert set(statuses) == seed_page(PHONES_PATH).enum_values("PhoneRegisterStatus")
    assert {p["telephony_provider"] for p in phones} == {"netelip", "custom"}
    assert any(p["nickname"] for p in phones) and any(p["nickname"] is None for p in phones)
    for phone in phones:
        assert phone["number"].startswith("+") and phone["number"][1:].isdigit()
        if phone["status"] in ("released", "finished"):
            assert phone["released_at"] is not None and phone["scheduled_release_at"] is not None
        if phone["status"] == "reserved":
            assert phone["assigned_at"] is None
        if phone["status"] == "assigned":
            assert phone["inbound_agent_id"] is not None
    w = World(seed=7, now=FIXED_NOW, days=3, calls_per_day=60)
    before = {p["id"]: p for p in w.phones_visible()}
    w.advance(timedelta(hours=24))
    after = {p["id"]: p for p in w.phones_visible()}
    assert before != after
    changed = {before[i]["status"] + "->" + after[i]["status"] for i in before if before[i] != after[i]}
    assert {"assigned->released", "reserved->assigned", "released->finished"} <= changed
    newly_assigned = [after[i] for i in before if before[i]["status"] == "reserved"]
    assert all(p["assigned_at"] is not None for p in newly_assigned)


def test_new_phones_appear_later(world: World) -> None:
    w = World(seed=7, now=FIXED_NOW, days=3, calls_per_day=10)
    seen = {p["id"] for p in w.phones_visible()}
    assert len(seen) < len(w.phone_ids)
    w.advance(timedelta(days=12))
    assert {p["id"] for p in w.phones_visible()} == set(w.phone_ids)


def test_planted_records_are_kept_as_given_and_ordered() -> None:
    w = World(seed=7, now=FIXED_NOW, days=1, calls_per_day=20)
    odd = {
        "id": "00000000-0000-4000-8000-000000000001",
        "status": "teleported",
        "created_date": "2024-05-14T09:00:00+01:00",
    }
    broken = {"id": "00000000-0000-4000-8000-000000000002", "created_date": "yesterday-ish"}
    future = {"id": "00000000-0000-4000-8000-000000000003", "created_date": "2024-05-14T11:00:00Z"}
    for record in (odd, broken, future):
        w.add_call(record)
    calls = w.calls_visible()
    assert calls[-1] is broken
    assert odd in calls and future not in calls
    position = calls.index(odd)
    assert instant(calls[position - 1]["created_date"]) <= instant(odd["created_date"])
    assert instant(calls[position + 1]["created_date"]) >= instant(odd["created_date"])
    w.advance(timedelta(hours=1))
    assert future in w.calls_visible()


def test_the_clock_only_moves_forward_and_needs_aware_times() -> None:
    w = World(seed=7, now=FIXED_NOW, days=1, calls_per_day=5)
    with pytest.raises(ValueError, match="forward"):
        w.advance(timedelta(seconds=-1))
    with pytest.raises(ValueError, match="aware"):
        World(now=datetime(2024, 5, 14))
    assert w.advance(timedelta(minutes=5)) == FIXED_NOW + timedelta(minutes=5)


def test_default_clock_is_the_current_minute() -> None:
    w = World(days=1, calls_per_day=5)
    now = datetime.now(UTC)
    assert w.now.second == 0 and w.now.microsecond == 0
    assert timedelta(0) <= now - w.now < timedelta(minutes=2)
