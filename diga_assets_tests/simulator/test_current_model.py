"""The ``current`` status model: Diga's API as its live OpenAPI document and docs describe it.

Calls end ``completed`` with the outcome in ``end_reason``; the only documented end reasons are
those of voicemail and phone-menu detection, on outbound calls; every other ending uses a code the
simulator made up.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from diga_assets.api.spec import live
from diga_assets.simulator import World, calls
from diga_assets.simulator.world import CURRENT_CALL_STATUSES, DOCUMENTED_END_REASONS, MADE_UP_END_REASONS
from diga_assets_tests.simulator.conftest import FIXED_NOW

README = Path(__file__).resolve().parents[2] / "README.md"
INBOUND_CODES = {"sim_customer_hangup", "sim_agent_hangup", "sim_transferred", "sim_error"}


@pytest.fixture(scope="module")
def current_calls() -> list[dict]:
    return World(seed=11, now=FIXED_NOW, days=4, calls_per_day=800, status_model="current").calls_visible()


# ------------------------------------------------------------------------------------- calls


def test_calls_carry_exactly_the_fields_the_live_schema_names(current_calls: list[dict]) -> None:
    fields = set(live().schema("CallResponse")["properties"])
    assert all(set(call) == fields for call in current_calls), "no invented fields such as cost_cents"


def test_calls_have_the_four_live_statuses_and_every_finished_call_is_completed(current_calls: list[dict]) -> None:
    assert set(CURRENT_CALL_STATUSES) == live().enum_values("CallStatus")
    assert {c["status"] for c in current_calls} <= set(CURRENT_CALL_STATUSES)
    assert all(c["status"] == "completed" for c in current_calls if c["end_reason"] is not None)


def test_voicemail_and_menu_endings_happen_on_outbound_calls_only(current_calls: list[dict]) -> None:
    detected = [c for c in current_calls if c["end_reason"] in DOCUMENTED_END_REASONS]
    assert {c["end_reason"] for c in detected} == set(DOCUMENTED_END_REASONS)
    assert {c["type"] for c in detected} == {"outbound"}


def test_a_detected_machine_or_menu_is_billed_and_recorded_from_pickup(current_calls: list[dict]) -> None:
    for call in current_calls:
        if call["end_reason"] in DOCUMENTED_END_REASONS:
            assert call["duration"] > 0, call
            assert call["recording_url"] is not None, call
            start, end = datetime.fromisoformat(call["start_time"]), datetime.fromisoformat(call["end_time"])
            assert end - start == timedelta(seconds=call["duration"])


def test_inbound_calls_end_only_with_made_up_codes(current_calls: list[dict]) -> None:
    inbound = {c["end_reason"] for c in current_calls if c["type"] == "inbound" and c["end_reason"]}
    assert inbound == INBOUND_CODES


def test_every_other_ending_uses_a_visibly_made_up_code(current_calls: list[dict]) -> None:
    assert all(code.startswith("sim_") for code in MADE_UP_END_REASONS)
    assert not set(MADE_UP_END_REASONS) & set(DOCUMENTED_END_REASONS)
    served = {c["end_reason"] for c in current_calls if c["end_reason"]}
    assert served == set(DOCUMENTED_END_REASONS) | set(MADE_UP_END_REASONS)


def test_an_outbound_call_nobody_picked_up_has_no_talk_time_and_no_recording(current_calls: list[dict]) -> None:
    unanswered = [c for c in current_calls if c["end_reason"] == "sim_no_answer"]
    assert unanswered and {c["type"] for c in unanswered} == {"outbound"}
    assert all(c["duration"] == 0 and c["recording_url"] is None for c in unanswered)


def test_the_made_up_codes_are_documented_as_made_up() -> None:
    docstring = calls.__doc__ or ""
    readme = README.read_text(encoding="utf-8")
    section = readme[readme.index("## The simulator") :]
    section = section[: section.index("\n## ", 1)]
    for code in MADE_UP_END_REASONS:
        assert f"``{code}``" in docstring and f"`{code}`" in section, code
    assert "made up" in docstring and "made up" in section


def test_the_outcome_weights_are_per_direction_and_sum_to_a_thousand() -> None:
    for outcomes in (calls.CURRENT_INBOUND_OUTCOMES, calls.CURRENT_OUTBOUND_OUTCOMES):
        assert sum(weight for *_, weight in outcomes) == 1000
        assert {status for status, *_ in outcomes} == {"completed"}
    assert not {reason for _, reason, _, _ in calls.CURRENT_INBOUND_OUTCOMES} & set(DOCUMENTED_END_REASONS)
