"""call_kpis, repeat_callers and call_concurrency on planted days whose answers are known: calls
in progress across midnight, a day the clocks go back, calls that touch without overlapping, a
caller who calls again within the hour, the day after and the week after, outbound calls nobody
answered; and repeat callers counted the same whether contacts are pseudonymized or not. Each
asset also equals the plain-Python computation of metric_data over the simulator's calls in
test_metrics.py (local and bucket)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pytest

from diga_assets.api.records import TRANSCRIPTS
from diga_assets.assets.common import DigaGraph
from diga_assets.assets.curated import build_curated_calls_asset
from diga_assets.assets.metrics import build_metric_assets
from diga_assets.assets.raw import build_raw_assets
from diga_assets.names import CALL_CONCURRENCY, CALL_KPIS, CURATED_CALLS, DAILY_METRICS, REPEAT_CALLERS
from diga_assets.simulator import World
from diga_assets.storage import DigaStorage
from diga_assets_tests.assets.conftest import api_resource, range_tags, settings_for, storage_for
from diga_assets_tests.conftest import SIM_NOW
from diga_assets_tests.metric_data import (
    FETCHED_AT,
    assert_metrics_match,
    assert_rows_equal,
    call,
    days_between,
    expected_call_concurrency,
    expected_call_kpis,
    expected_repeat_callers,
    latest_calls,
    materialize_metrics,
    partition_metadata,
    read_metric_day,
    write_raw_calls,
)

MADRID = "Europe/Madrid"
# 2026-10-25: Madrid's clocks go back at 03:00 CEST (01:00 UTC), so 02:00-03:00 happens twice.
CLOCKS_BACK = "2026-10-25"


def planted(
    call_id: str,
    created: str,
    *,
    ends: str | None = None,
    contact: str = "+34600000001",
    **fields: Any,
) -> dict[str, Any]:
    """A call record that started when it was created and ended at ``ends``."""
    record = call(call_id, created, **fields)
    record["end_time"] = ends
    record["contact"] = {**record["contact"], "identifier": contact}
    return record


def test_concurrency_counts_calls_across_midnight_and_twice_the_hour_the_clocks_go_back(tmp_path):
    storage = storage_for(tmp_path)
    write_raw_calls(
        storage,
        "2026-10-24",
        [
            # 23:50 CEST on the 24th to 00:20 CEST on the 25th: in progress in the 25th's first hour.
            planted("late", "2026-10-24T21:50:00Z", ends="2026-10-24T22:20:00Z"),
        ],
    )
    write_raw_calls(
        storage,
        CLOCKS_BACK,
        [
            planted("midnight-1", "2026-10-24T22:05:00Z", ends="2026-10-24T22:10:00Z"),
            # The first 02:00-03:00 (CEST) holds two at once, the second (CET) three.
            planted("first-2am-a", "2026-10-25T00:10:00Z", ends="2026-10-25T00:40:00Z"),
            planted("first-2am-b", "2026-10-25T00:20:00Z", ends="2026-10-25T00:30:00Z"),
            planted("second-2am-a", "2026-10-25T01:10:00Z", ends="2026-10-25T01:50:00Z"),
            planted("second-2am-b", "2026-10-25T01:15:00Z", ends="2026-10-25T01:45:00Z"),
            planted("second-2am-c", "2026-10-25T01:20:00Z", ends="2026-10-25T01:25:00Z"),
            # Touching, not overlapping: [10:00, 10:05) then [10:05, 10:10) CET.
            planted("touch-a", "2026-10-25T09:00:00Z", ends="2026-10-25T09:05:00Z"),
            planted("touch-b", "2026-10-25T09:05:00Z", ends="2026-10-25T09:10:00Z"),
            # Never answered (no end_time): started, never in progress.
            planted("unanswered", "2026-10-25T09:30:00Z", status="no_answer", end_reason=None, duration=None),
            # Started at 11:50 CET, still going at 12:00: the peak of 12:00 without a start in it.
            planted("long", "2026-10-25T10:50:00Z", ends="2026-10-25T11:30:00Z"),
        ],
    )

    result = materialize_metrics(
        tmp_path, [CALL_CONCURRENCY], first="2026-10-24", last=CLOCKS_BACK, timezone=MADRID, concurrency_limit=3
    )

    assert result.success
    # The plan's cap of 3 is reached once, in the second 02:00 (a WARN: the run still succeeds).
    [check] = result.get_asset_check_evaluations()
    assert check.check_name == "peak_below_concurrency_limit" and not check.passed
    assert check.severity == dg.AssetCheckSeverity.WARN
    assert "1 hour(s) reached the cap of 3 concurrent calls" in check.description
    assert f"{CLOCKS_BACK} 02:00 peak 3" in check.description
    assert check.metadata["hours_at_limit"].value == 1
    # The day's numbers the UI plots across partitions.
    day_metadata = partition_metadata(result, CALL_CONCURRENCY)[CLOCKS_BACK]
    assert (day_metadata["peak_concurrent"], day_metadata["calls_started"]) == (3, 10)
    day = date.fromisoformat(CLOCKS_BACK)
    rows = {row["hour"]: row for row in read_metric_day(storage, CALL_CONCURRENCY, CLOCKS_BACK).to_pylist()}
    assert sorted(rows) == list(range(24)), "25 real hours, 24 wall-clock hours"
    assert rows[0]["peak_concurrent"] == 2 and rows[0]["calls_started"] == 1  # 'late' carried over midnight
    assert rows[2] == {"day": day, "hour": 2, "calls_started": 5, "peak_concurrent": 3, "partial": False}
    assert rows[10]["peak_concurrent"] == 1 and rows[10]["calls_started"] == 3
    assert rows[11]["peak_concurrent"] == 1 and rows[12]["peak_concurrent"] == 1 and rows[12]["calls_started"] == 0
    assert rows[13]["peak_concurrent"] == 0
    calls = latest_calls(storage)
    for key in ("2026-10-24", CLOCKS_BACK):
        stored = read_metric_day(storage, CALL_CONCURRENCY, key)
        assert_rows_equal(stored, expected_call_concurrency(calls, date.fromisoformat(key), MADRID), ("hour",))


def test_repeat_callers_look_back_a_day_and_a_week_per_call_type(tmp_path):
    storage = storage_for(tmp_path)
    days = {
        "2026-11-01": [planted("w1", "2026-11-01T09:00:00Z", contact="+34600000002")],
        **{key: [] for key in days_between("2026-11-02", "2026-11-06")},
        "2026-11-07": [planted("d1", "2026-11-07T12:00:00Z", contact="+34600000003")],
        "2026-11-08": [
            planted("w2", "2026-11-08T08:00:00Z", contact="+34600000002"),  # 7 days less an hour
            planted("d2", "2026-11-08T11:00:00Z", contact="+34600000003"),  # 23 hours
            planted("s1", "2026-11-08T09:00:00Z", contact="+34600000004"),  # twice the same day
            planted("s2", "2026-11-08T09:30:00Z", contact="+34600000004"),
            planted("n1", "2026-11-08T10:00:00Z", contact="+34600000005"),  # first call
            # Called out to the day before: another call type, not a repeat of the inbound ones.
            planted("o2", "2026-11-08T10:00:00Z", contact="+34600000006", call_type="outbound"),
        ],
        "2026-11-09": [],
    }
    days["2026-11-07"].append(planted("o1", "2026-11-07T10:00:00Z", contact="+34600000005", call_type="outbound"))
    for key, records in days.items():
        write_raw_calls(storage, key, records)

    # The earlier days are curated by their own run; the run of the 8th and 9th reads them as its
    # look-back, and computes only its own days.
    assert materialize_metrics(tmp_path, [REPEAT_CALLERS], first="2026-11-01", last="2026-11-07").success
    assert materialize_metrics(tmp_path, [REPEAT_CALLERS], first="2026-11-08", last="2026-11-09").success

    rows = {row["call_type"]: row for row in read_metric_day(storage, REPEAT_CALLERS, "2026-11-08").to_pylist()}
    assert rows["inbound"] | {"day": None} == {
        "day": None,
        "call_type": "inbound",
        "callers": 4,
        "repeat_24h": 2,  # d (23 h), s (30 min)
        "repeat_7d": 3,  # and w (6 days 23 hours)
        "partial": False,
    }
    assert (rows["outbound"]["callers"], rows["outbound"]["repeat_24h"], rows["outbound"]["repeat_7d"]) == (1, 0, 0)
    assert read_metric_day(storage, REPEAT_CALLERS, "2026-11-09").num_rows == 0
    calls = latest_calls(storage)
    assert_rows_equal(
        read_metric_day(storage, REPEAT_CALLERS, "2026-11-08"),
        expected_repeat_callers(calls, date(2026, 11, 8)),
        ("call_type",),
    )


def test_without_a_cap_there_is_no_concurrency_check_and_under_it_the_check_passes(tmp_path):
    storage = storage_for(tmp_path)
    write_raw_calls(storage, "2026-11-08", [planted("one", "2026-11-08T09:00:00Z", ends="2026-11-08T09:05:00Z")])

    uncapped = materialize_metrics(tmp_path, [CALL_CONCURRENCY], first="2026-11-08")
    capped = materialize_metrics(tmp_path, [CALL_CONCURRENCY], first="2026-11-08", concurrency_limit=2)

    assert uncapped.get_asset_check_evaluations() == []
    [check] = capped.get_asset_check_evaluations()
    assert check.passed and check.description == "no hour reached the cap of 2 concurrent calls in 1 day file(s)"


def test_kpis_contain_what_ended_without_transfer_or_failure_and_answer_only_outbound(tmp_path):
    storage = storage_for(tmp_path)
    outbound = {"call_type": "outbound"}
    write_raw_calls(
        storage,
        "2026-11-08",
        [
            planted("in-done", "2026-11-08T09:00:00Z"),
            planted("in-transfer", "2026-11-08T09:10:00Z", status="transferred", end_reason=None),
            planted("in-failed", "2026-11-08T09:20:00Z", status="failed", end_reason=None),
            planted("in-running", "2026-11-08T09:30:00Z", status="in_progress", end_reason=None, duration=None),
            planted("out-done", "2026-11-08T10:00:00Z", **outbound),
            planted("out-vm", "2026-11-08T10:10:00Z", end_reason="voicemail_left", **outbound),
            planted("out-noanswer", "2026-11-08T10:20:00Z", status="no_answer", end_reason=None, **outbound),
            planted("out-transfer", "2026-11-08T10:30:00Z", status="transferred", end_reason=None, **outbound),
        ],
    )

    assert materialize_metrics(tmp_path, [CALL_KPIS], first="2026-11-08").success

    rows = {row["call_type"]: row for row in read_metric_day(storage, CALL_KPIS, "2026-11-08").to_pylist()}
    inbound, out = rows["inbound"], rows["outbound"]
    assert (inbound["total_calls"], inbound["finished_calls"], inbound["contained_calls"]) == (4, 3, 1)
    assert inbound["containment_rate"] == pytest.approx(1 / 3) and inbound["transfer_rate"] == pytest.approx(1 / 3)
    assert inbound["attempted_calls"] is inbound["answered_calls"] is inbound["answer_rate"] is None
    assert (out["finished_calls"], out["contained_calls"], out["attempted_calls"], out["answered_calls"]) == (
        4,
        3,
        4,
        2,
    )
    assert out["answer_rate"] == pytest.approx(0.5) and out["containment_rate"] == pytest.approx(0.75)
    assert_rows_equal(
        read_metric_day(storage, CALL_KPIS, "2026-11-08"),
        expected_call_kpis(latest_calls(storage), date(2026, 11, 8)),
        ("agent_id", "call_type"),
    )


@pytest.mark.parametrize("pseudonymized", [True, False], ids=["pseudonymized", "numbers"])
def test_repeat_callers_are_the_same_with_contacts_pseudonymized(start_simulator, tmp_path, pseudonymized):
    sim = start_simulator(world=World(now=SIM_NOW, days=5, calls_per_day=100))
    keys = days_between("2026-11-15", "2026-11-19")
    root = str(tmp_path / "data")
    hash_key = "repeat-callers-test-key-" + "0" * 16
    storage = DigaStorage(data_dir=root, pseudonymize_contacts=pseudonymized, contact_hash_key=hash_key)
    graph = DigaGraph(settings_for(Path(root), pseudonymize_contacts=pseudonymized))
    result = dg.materialize(
        [*build_raw_assets(graph), build_curated_calls_asset(graph), *build_metric_assets(graph)],
        selection=dg.AssetSelection.assets("diga_calls", CURATED_CALLS, *DAILY_METRICS).without_checks(),
        resources={"diga": api_resource(sim), "storage": storage},
        tags=range_tags(keys[0], keys[-1]),
    )
    assert result.success

    # The independent count uses the numbers the API served, never the stored values.
    served = {record["id"]: record["contact"]["identifier"] for record in sim.world.calls_visible()}
    calls = [{**row, "contact_identifier": served[row["id"]]} for row in latest_calls(storage)]
    stored_values = {row["contact_identifier"] for row in latest_calls(storage)}
    assert (stored_values.isdisjoint(served.values())) is pseudonymized
    repeats = 0
    for key in keys:
        day = date.fromisoformat(key)
        stored = read_metric_day(storage, REPEAT_CALLERS, key)
        assert_rows_equal(stored, expected_repeat_callers(calls, day), ("call_type",))
        repeats += sum(stored.column("repeat_24h").to_pylist())
    assert repeats > 0, "the simulator's callers should call again"


TARIFF_HEADER = "call_type,price_per_minute,price_per_call,currency,rounding\n"


def billed_day(storage: DigaStorage) -> None:
    """Inbound calls of 61, 31, 119 and 0 seconds and one still going; an outbound call of 45."""
    write_raw_calls(
        storage,
        "2026-11-08",
        [
            planted("a", "2026-11-08T09:00:00Z", duration=61),
            planted("b", "2026-11-08T09:10:00Z", duration=31),
            planted("c", "2026-11-08T09:20:00Z", duration=119),
            planted("d", "2026-11-08T09:30:00Z", status="no_answer", end_reason=None, duration=0),
            planted("e", "2026-11-08T09:40:00Z", status="in_progress", end_reason=None, duration=None),
            planted("f", "2026-11-08T09:50:00Z", duration=45, call_type="outbound"),
        ],
    )


@pytest.mark.parametrize(
    ("rounding", "minutes", "cost"),
    [
        # 211 s at 0.0127 a minute = 0.0446616..., rounded to 0.044662, plus 3 calls at 0.05.
        ("second", 211 / 60, Decimal("0.194662")),
        # 120 + 60 + 120 s = 5 min at 0.0127 = 0.0635, plus 3 calls at 0.05.
        ("minute", 5.0, Decimal("0.213500")),
    ],
)
def test_cost_bills_each_call_as_the_tariff_rounds_it(tmp_path, rounding, minutes, cost):
    storage = storage_for(tmp_path)
    billed_day(storage)
    tariff = tmp_path / "tariff.csv"
    tariff.write_text(TARIFF_HEADER + f"inbound,0.0127,0.05,EUR,{rounding}\n")

    assert materialize_metrics(tmp_path, [CALL_KPIS], first="2026-11-08", tariff=tariff).success

    rows = {row["call_type"]: row for row in read_metric_day(storage, CALL_KPIS, "2026-11-08").to_pylist()}
    inbound = rows["inbound"]
    assert (inbound["billed_calls"], inbound["billed_minutes"], inbound["cost"], inbound["currency"]) == (
        3,
        minutes,
        cost,
        "EUR",
    )
    # The tariff prices no outbound call: nothing is made up for them.
    assert [rows["outbound"][c] for c in ("billed_calls", "billed_minutes", "cost", "currency")] == [None] * 4
    price = {"price_per_minute": Decimal("0.0127"), "price_per_call": Decimal("0.05"), "currency": "EUR"}
    assert_rows_equal(
        read_metric_day(storage, CALL_KPIS, "2026-11-08"),
        expected_call_kpis(latest_calls(storage), date(2026, 11, 8), {"inbound": {**price, "rounding": rounding}}),
        ("agent_id", "call_type"),
    )


def test_without_a_tariff_the_cost_is_null(tmp_path):
    storage = storage_for(tmp_path)
    billed_day(storage)

    assert materialize_metrics(tmp_path, [CALL_KPIS], first="2026-11-08").success

    for row in read_metric_day(storage, CALL_KPIS, "2026-11-08").to_pylist():
        assert [row[c] for c in ("billed_calls", "billed_minutes", "cost", "currency")] == [None] * 4


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ("inbound,abc,0.05,EUR,second\n", "line 2: price_per_minute 'abc' is not a price"),
        ("inbound,0.01,0.05,EUR,hour\n", "line 2: rounding 'hour' is not one of second, minute"),
        ("inbound,0.01,0.05,euro,second\n", "line 2: currency 'euro' is not a three-letter code"),
        ("inbound,0.01,0,EUR,second\ninbound,0.02,0,EUR,second\n", "line 3: call_type 'inbound' already has a price"),
        ("inbound,0.01,0,EUR,second\noutbound,0.02,0,USD,second\n", "one currency per tariff, found EUR, USD"),
    ],
)
def test_a_bad_tariff_fails_the_run_naming_the_setting_and_line_and_keeps_the_stored_day(tmp_path, lines, message):
    storage = storage_for(tmp_path)
    billed_day(storage)
    assert materialize_metrics(tmp_path, [CALL_KPIS], first="2026-11-08").success
    stored = read_metric_day(storage, CALL_KPIS, "2026-11-08")
    tariff = tmp_path / "tariff.csv"
    tariff.write_text(TARIFF_HEADER + lines)

    result = materialize_metrics(tmp_path, [CALL_KPIS], first="2026-11-08", tariff=tariff, raise_on_error=False)

    assert not result.success
    [failure] = [event for event in result.all_events if event.is_step_failure]
    description = failure.step_failure_data.user_failure_data.description
    assert description.startswith(f"DIGA_TARIFF={tariff}") and message in description
    assert read_metric_day(storage, CALL_KPIS, "2026-11-08") == stored


def tool_message(message_id: int, tool_name: str, status: str) -> dict[str, Any]:
    """A transcript message recording a call tool (CallToolSchema) and how it went."""
    return {
        "id": f"e0000000-0000-4000-8000-{message_id:012d}",
        "created_date": "2026-11-08T09:01:00Z",
        "role": "tool",
        "content": None,
        "tool_call": {"type": "call_tool", "tool_name": tool_name, "status": status, "payload": {}},
    }


def test_a_transfer_in_the_transcript_makes_a_completed_call_transferred_not_contained(tmp_path):
    storage = storage_for(tmp_path)
    # Under the live model a handed-over call is `completed` with a code the map does not name.
    write_raw_calls(
        storage,
        "2026-11-08",
        [
            planted("handed-over", "2026-11-08T09:00:00Z", end_reason="sip_refer"),
            planted("cancelled-transfer", "2026-11-08T09:10:00Z", end_reason="sip_refer"),
            planted("hung-up", "2026-11-08T09:20:00Z"),
            planted("mapped-transfer", "2026-11-08T09:30:00Z", status="transferred", end_reason=None),
        ],
    )
    assert materialize_metrics(tmp_path, [CALL_KPIS], first="2026-11-08").success
    [before] = read_metric_day(storage, CALL_KPIS, "2026-11-08").to_pylist()
    assert (before["contained_calls"], before["transferred_calls"], before["transfers_from_transcripts"]) == (3, 1, 0)

    # The transcripts arrive: one successful transfer, one cancelled, one hang-up tool.
    transcripts = [
        ("handed-over", [tool_message(1, "transfer", "success")]),
        ("cancelled-transfer", [tool_message(2, "transfer", "cancelled")]),
        ("hung-up", [tool_message(3, "hangup", "success")]),
        ("mapped-transfer", [tool_message(4, "transfer", "success")]),
    ]
    batches = [TRANSCRIPTS.to_record_batch(call_id, messages, FETCHED_AT) for call_id, messages in transcripts]
    storage.store.write_table(storage.layout.raw_partition("messages", "2026-11-08"), pa.Table.from_batches(batches))
    assert materialize_metrics(tmp_path, [CALL_KPIS], first="2026-11-08").success

    [after] = read_metric_day(storage, CALL_KPIS, "2026-11-08").to_pylist()
    assert (after["finished_calls"], after["contained_calls"], after["transferred_calls"]) == (4, 2, 2)
    assert after["transfers_from_transcripts"] == 1 and after["transfer_rate"] == pytest.approx(0.5)
    assert_rows_equal(
        read_metric_day(storage, CALL_KPIS, "2026-11-08"),
        expected_call_kpis(
            latest_calls(storage), date(2026, 11, 8), transfers=frozenset({"handed-over", "mapped-transfer"})
        ),
        ("agent_id", "call_type"),
    )


def test_every_daily_metric_equals_the_plain_computation_over_a_change_of_the_clocks(start_simulator, tmp_path):
    world = World(now=datetime(2026, 10, 26, 12, 0, tzinfo=UTC), days=4, calls_per_day=150)
    # 23:50 CEST on the 24th to 00:30 on the 25th, the day Madrid's clocks go back.
    template = dict(world.calls_visible()[0])
    template.update(
        id="00000000-0000-4000-8000-0000000000aa",
        created_date="2026-10-24T21:50:00Z",
        start_time="2026-10-24T21:50:05Z",
        end_time="2026-10-24T22:30:00Z",
        duration=2395,
        status="completed",
    )
    world.add_call(template)
    sim = start_simulator(world=world)
    keys = days_between("2026-10-23", CLOCKS_BACK)
    graph = DigaGraph(settings_for(tmp_path / "data", MADRID))
    result = dg.materialize(
        [*build_raw_assets(graph), build_curated_calls_asset(graph), *build_metric_assets(graph)],
        selection=dg.AssetSelection.assets("diga_calls", CURATED_CALLS, *DAILY_METRICS).without_checks(),
        resources={"diga": api_resource(sim), "storage": storage_for(tmp_path)},
        tags=range_tags(keys[0], keys[-1]),
    )
    assert result.success

    storage = storage_for(tmp_path)
    assert_metrics_match(storage, keys, MADRID)
    # What the comparison had to cover: the call across midnight, the 25-hour day, repeat callers.
    clocks_back = read_metric_day(storage, CALL_CONCURRENCY, CLOCKS_BACK).to_pylist()
    assert [row["hour"] for row in clocks_back] == list(range(24))
    assert clocks_back[0]["peak_concurrent"] >= 1
    assert any(row["repeat_24h"] for key in keys for row in read_metric_day(storage, REPEAT_CALLERS, key).to_pylist())
