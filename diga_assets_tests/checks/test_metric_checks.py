"""The metric checks, each in a run where it passes and one where it fails: rates within [0, 1]
(call_outcome_rates and agent_version_outcomes), outcome counts adding up to total_calls, the
WARN when a day's completion rate falls more than three standard deviations below its trailing
14-day mean, and the WARN naming end reasons the outcome map does not name. Failures must name
the day and the group, or the code and the line to add.

The integrity checks cannot fail on files the assets computed correctly, so their failing cases
tamper with a stored metric file (as a bug or a hand edit would) and run the checks alone.
"""

from datetime import date, datetime, timedelta

import dagster as dg
import pyarrow as pa
import pytest

from diga_assets.assets.metrics.schemas import CALL_CONVERSATION_STATS_SCHEMA
from diga_assets.names import AGENT_VERSION_OUTCOMES, CALL_CONVERSATION_STATS, CALL_OUTCOME_RATES
from diga_assets_tests.assets.conftest import storage_for
from diga_assets_tests.metric_data import (
    FETCHED_AT,
    call,
    materialize_metrics,
    read_metric_day,
    run_checks,
    write_raw_calls,
)

# Run against a local data directory and against a bucket (each_storage).
pytestmark = pytest.mark.usefixtures("each_storage")


FIRST = date(2026, 11, 1)
DAY = "2026-11-05"


def write_days(
    tmp_path, completed_per_day: list[int], calls_per_day: int = 20, *, last_so_far: bool = False
) -> list[str]:
    """Raw calls for consecutive days: ``completed`` completed calls, the rest failed; with
    ``last_so_far`` the last day as today's refresh stores it (fetched before the day ended)."""
    keys = []
    for n, completed in enumerate(completed_per_day):
        key = (FIRST + timedelta(days=n)).isoformat()
        records = [
            call(
                f"{key}-{i}",
                f"{key}T{8 + i % 10:02d}:{i:02d}:00Z",
                status="completed" if i < completed else "failed",
                end_reason="hangup" if i < completed else "error",
                agent_id="agent-a" if i % 2 else "agent-b",
                version="v1" if i % 4 < 2 else "v2",
                call_type="outbound" if i % 3 else "inbound",
            )
            for i in range(calls_per_day)
        ]
        so_far = last_so_far and n == len(completed_per_day) - 1
        fetched = datetime.fromisoformat(f"{key}T20:00:00+00:00") if so_far else FETCHED_AT
        write_raw_calls(storage_for(tmp_path), key, records, fetched_at=fetched)
        keys.append(key)
    return keys


def tamper(tmp_path, asset: str, key: str, match: dict, **changes) -> None:
    """Rewrite one row of a stored metric day, as a bug or a hand edit would."""
    storage = storage_for(tmp_path)
    path = storage.layout.metric_partition(asset, key)
    table = read_metric_day(storage_for(tmp_path), asset, key)
    rows = table.to_pylist()
    [row] = [r for r in rows if all(r[k] == v for k, v in match.items())]
    row.update(changes)
    storage.store.write_table(path, pa.Table.from_pylist(rows, schema=table.schema))


def evaluations(result: dg.ExecuteInProcessResult) -> dict[tuple[str, str], dg.AssetCheckEvaluation]:
    return {(e.asset_key.path[-1], e.check_name): e for e in result.get_asset_check_evaluations()}


# Around 80% with a little spread; 15 days, so the last ones have 14 days of history.
STEADY = [16, 17, 15, 16, 16, 17, 15, 16, 17, 16, 15, 16, 17, 16, 16]


def test_every_metric_check_passes_on_a_normal_range_run(tmp_path):
    keys = write_days(tmp_path, STEADY)

    result = materialize_metrics(tmp_path, [CALL_OUTCOME_RATES, AGENT_VERSION_OUTCOMES], first=keys[0], last=keys[-1])

    found = evaluations(result)
    assert set(found) == {
        (CALL_OUTCOME_RATES, "rates_within_unit_interval"),
        (CALL_OUTCOME_RATES, "outcome_counts_add_up"),
        (CALL_OUTCOME_RATES, "completion_rate_within_trailing_range"),
        (AGENT_VERSION_OUTCOMES, "rates_within_unit_interval"),
    }
    assert all(e.passed for e in found.values()), [e.description for e in found.values()]
    anomaly = found[(CALL_OUTCOME_RATES, "completion_rate_within_trailing_range")]
    # Days 8..15 have at least 7 days of history with a rate; the first 7 are not judged.
    assert anomaly.metadata["days_judged"].value == 8
    assert anomaly.metadata["completion_rate"].value == 0.8


def test_a_partial_day_is_not_judged_against_its_history(tmp_path):
    keys = write_days(tmp_path, [*STEADY[:14], 9], last_so_far=True)

    result = materialize_metrics(tmp_path, [CALL_OUTCOME_RATES], first=keys[0], last=keys[-1])

    anomaly = evaluations(result)[(CALL_OUTCOME_RATES, "completion_rate_within_trailing_range")]
    assert anomaly.passed, anomaly.description
    assert anomaly.metadata["days_partial"].value == 1
    assert "1 partial day(s) (the day so far) not judged" in anomaly.description
    assert read_metric_day(storage_for(tmp_path), CALL_OUTCOME_RATES, keys[-1]).column("partial").to_pylist()[0] is True


@pytest.mark.one_storage(
    "the check's verdict on planted rows; test_every_metric_check_passes_on_a_normal_range_run reads a bucket"
)
def test_completion_rate_far_below_its_trailing_mean_warns_naming_the_day(tmp_path):
    keys = write_days(tmp_path, [*STEADY[:14], 9])

    result = materialize_metrics(tmp_path, [CALL_OUTCOME_RATES], first=keys[0], last=keys[-1])

    assert result.success  # a WARN does not fail the run
    anomaly = evaluations(result)[(CALL_OUTCOME_RATES, "completion_rate_within_trailing_range")]
    assert not anomaly.passed
    assert anomaly.severity == dg.AssetCheckSeverity.WARN
    assert f"{keys[-1]}: completion rate 0.450 is below" in anomaly.description
    assert "14 days" in anomaly.description
    assert anomaly.metadata["days_anomalous"].value == 1


@pytest.mark.one_storage(
    "the check's verdict on planted rows; test_every_metric_check_passes_on_a_normal_range_run reads a bucket"
)
def test_rates_outside_the_unit_interval_fail_naming_the_day_and_group(tmp_path):
    [key] = write_days(tmp_path, [16])
    materialize_metrics(tmp_path, [CALL_OUTCOME_RATES, AGENT_VERSION_OUTCOMES], first=key)
    assert all(e.passed for e in run_checks(tmp_path, CALL_OUTCOME_RATES, key).values())

    tamper(tmp_path, CALL_OUTCOME_RATES, key, {"agent_id": "agent-b", "call_type": "outbound"}, completion_rate=1.25)
    tamper(tmp_path, AGENT_VERSION_OUTCOMES, key, {"agent_id": "agent-a", "agent_version_id": "v2"}, transfer_rate=-0.5)

    rates = run_checks(tmp_path, CALL_OUTCOME_RATES, key)["rates_within_unit_interval"]
    assert not rates.passed and rates.severity == dg.AssetCheckSeverity.ERROR
    assert f"{key} agent_id=agent-b call_type=outbound: completion_rate=1.25" in rates.description
    assert rates.metadata["days_failing"].value == [key]
    versions = run_checks(tmp_path, AGENT_VERSION_OUTCOMES, key)["rates_within_unit_interval"]
    assert not versions.passed
    assert f"{key} agent_id=agent-a agent_version_id=v2: transfer_rate=-0.5" in versions.description


@pytest.mark.one_storage(
    "the check's verdict on planted rows; test_every_metric_check_passes_on_a_normal_range_run reads a bucket"
)
def test_a_conversation_share_outside_the_unit_interval_fails_naming_the_day_and_group(tmp_path):
    key = "2026-11-05"
    row = {name: None for name in CALL_CONVERSATION_STATS_SCHEMA.names}
    row.update(day=date.fromisoformat(key), agent_id="agent-a", call_type="inbound", finished_calls=4)
    row.update(calls_with_transcript=3, tool_call_share=1 / 3, hung_up_after_greeting_share=0.0)
    storage = storage_for(tmp_path)
    location = storage.layout.metric_partition(CALL_CONVERSATION_STATS, key)
    storage.store.write_table(location, pa.Table.from_pylist([row], schema=CALL_CONVERSATION_STATS_SCHEMA))
    assert run_checks(tmp_path, CALL_CONVERSATION_STATS, key)["rates_within_unit_interval"].passed

    tamper(tmp_path, CALL_CONVERSATION_STATS, key, {"agent_id": "agent-a", "call_type": "inbound"}, tool_call_share=1.5)

    shares = run_checks(tmp_path, CALL_CONVERSATION_STATS, key)["rates_within_unit_interval"]
    assert not shares.passed
    assert f"{key} agent_id=agent-a call_type=inbound: tool_call_share=1.5" in shares.description


@pytest.mark.one_storage(
    "the check's verdict on planted rows; test_every_metric_check_passes_on_a_normal_range_run reads a bucket"
)
def test_outcome_counts_that_do_not_add_up_fail_naming_the_day_and_group(tmp_path):
    [key] = write_days(tmp_path, [16])
    materialize_metrics(tmp_path, [CALL_OUTCOME_RATES], first=key)
    row = {"agent_id": "agent-a", "call_type": "inbound"}
    [original] = [r for r in read_metric_day(storage_for(tmp_path), CALL_OUTCOME_RATES, key).to_pylist()
                  if all(r[k] == v for k, v in row.items())]  # fmt: skip
    assert run_checks(tmp_path, CALL_OUTCOME_RATES, key)["outcome_counts_add_up"].passed

    tamper(tmp_path, CALL_OUTCOME_RATES, key, row, total_calls=original["total_calls"] + 2)

    counts = run_checks(tmp_path, CALL_OUTCOME_RATES, key)["outcome_counts_add_up"]
    assert not counts.passed
    assert (
        f"{key} agent_id=agent-a call_type=inbound: outcomes add up to {original['total_calls']}, "
        f"total_calls={original['total_calls'] + 2}"
    ) in counts.description


@pytest.mark.one_storage(
    "the check's verdict on planted rows; test_every_metric_check_passes_on_a_normal_range_run reads a bucket"
)
def test_end_reasons_the_map_does_not_name_are_listed_with_the_line_to_add(tmp_path):
    records = [
        call("a", f"{DAY}T09:00:00Z", end_reason="voicemail_left"),  # named by the map
        call("b", f"{DAY}T09:10:00Z", end_reason=None),  # no code: the status's default is right
        *[call(f"t{i}", f"{DAY}T10:0{i}:00Z", end_reason="sim_transferred") for i in range(3)],
        call("e", f"{DAY}T11:00:00Z", end_reason="carrier_rejected"),
        call("f", f"{DAY}T12:00:00Z", status="failed", end_reason="sim_error"),  # not completed
    ]
    write_raw_calls(storage_for(tmp_path), DAY, records)

    result = materialize_metrics(tmp_path, ["call_end_reasons"], first=DAY)

    check = evaluations(result)[("call_end_reasons", "end_reasons_mapped")]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["unmapped_calls"].value == 4
    assert check.metadata["unmapped_end_reasons"].value == {"sim_transferred": 3, "carrier_rejected": 1}
    lines = check.metadata["lines_to_add"].value
    assert "completed,sim_transferred,transferred" in lines, "the outcome its words suggest"
    assert "completed,carrier_rejected,completed|failed|no_answer|transferred|voicemail" in lines
    assert "sim_transferred (3 calls, counted as completed): add `completed,sim_transferred,transferred`" in (
        check.description
    )
    assert "voicemail_left" not in check.description and "sim_error" not in check.description


@pytest.mark.one_storage(
    "the check's verdict on planted rows; test_every_metric_check_passes_on_a_normal_range_run reads a bucket"
)
def test_the_end_reason_check_passes_when_the_map_names_every_code(tmp_path):
    write_raw_calls(
        storage_for(tmp_path),
        DAY,
        [call("a", f"{DAY}T09:00:00Z", end_reason="ivr_no_answer"), call("b", f"{DAY}T09:10:00Z", end_reason=None)],
    )

    result = materialize_metrics(tmp_path, ["call_end_reasons"], first=DAY)

    check = evaluations(result)[("call_end_reasons", "end_reasons_mapped")]
    assert check.passed and check.metadata["unmapped_calls"].value == 0
