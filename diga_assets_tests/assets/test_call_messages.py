"""diga_call_messages and call_conversation_stats against the simulator's current model.

One pipeline for the module, run as a user runs it: the calls job over two days, then the
transcripts job over the same days; each test reads one promise off what it left. The runs that
must fail (an error the API should not give, a day whose calls are not stored) run on their own.
"""

from __future__ import annotations

import json
import statistics
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import dagster as dg
import pyarrow as pa
import pytest

from diga_assets.api.records import TRANSCRIPTS
from diga_assets.api.spec import UNFINISHED_CALL_STATUSES
from diga_assets.assets.metrics.conversations import compute_conversation_stats
from diga_assets.definitions import build_definitions
from diga_assets.names import (
    CALL_CONVERSATION_STATS,
    CALL_OUTCOME_RATES,
    CALL_REPORT,
    CALLS_JOB_ASSETS,
    DIGA_AGENTS,
    DIGA_CALL_MESSAGES,
    MESSAGES_DATASET,
    TRANSCRIPTS_JOB_ASSETS,
)
from diga_assets.simulator import DigaSimulator, Fault, FaultConfig, World
from diga_assets.storage import DigaStorage
from diga_assets_tests.assets.conftest import api_resource, range_tags, settings_for, storage_for
from diga_assets_tests.conftest import SIM_KEY, SIM_NOW
from diga_assets_tests.metric_data import (
    assert_rows_equal,
    call,
    continuous_quantile,
    materialize_metrics,
    partition_metadata,
    read_metric_day,
    write_raw_calls,
)

DAYS = ("2026-11-18", "2026-11-19")


@dataclass(frozen=True)
class Pipeline:
    world: World
    storage: DigaStorage
    transcripts_run: dg.ExecuteInProcessResult

    def messages_of(self, key: str) -> pa.Table:
        return self.storage.store.read_table(self.storage.layout.raw_partition(MESSAGES_DATASET, key))

    def calls_of(self, key: str) -> list[dict[str, Any]]:
        return self.storage.store.read_table(self.storage.layout.raw_partition("calls", key)).to_pylist()


def run_assets(
    graph: list[Any], resources: dict[str, Any], assets: tuple[str, ...], first: str, last: str, **kwargs: Any
) -> dg.ExecuteInProcessResult:
    selection = dg.AssetSelection.assets(*assets) | dg.AssetSelection.checks_for_assets(*assets)
    return dg.materialize(graph, selection=selection, resources=resources, tags=range_tags(first, last), **kwargs)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    data = tmp_path_factory.mktemp("transcripts") / "data"
    world = World(now=SIM_NOW, days=4, calls_per_day=120, status_model="current")
    defs = build_definitions(settings_for(data))
    graph = [*(defs.assets or []), *(defs.asset_checks or [])]
    storage = DigaStorage(data_dir=str(data))
    with DigaSimulator(world, api_key=SIM_KEY) as sim:
        resources = {"diga": api_resource(sim), "storage": storage}
        agents = dg.materialize(graph, selection=[DIGA_AGENTS], resources=resources, partition_key=DAYS[-1])
        assert agents.success
        assert run_assets(graph, resources, CALLS_JOB_ASSETS, *DAYS).success
        transcripts = run_assets(graph, resources, TRANSCRIPTS_JOB_ASSETS, *DAYS)
        assert dg.materialize(graph, selection=[CALL_REPORT], resources=resources).success
    yield Pipeline(world, storage, transcripts)


def served(world: World, call_id: str) -> list[dict[str, Any]]:
    """What the simulator serves for a call, as the stored columns hold it."""
    return [
        {
            "id": m["id"],
            "created_date": datetime.fromisoformat(m["created_date"].replace("Z", "+00:00")),
            "role": m["role"],
            "content": m["content"],
            "tool_call": m["tool_call"],
        }
        for m in world.call_messages(call_id)
    ]


def stored(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    keep = ("id", "created_date", "role", "content", "tool_call")
    return [
        {**{k: row[k] for k in keep}, "tool_call": None if row["tool_call"] is None else json.loads(row["tool_call"])}
        for row in rows
    ]


@pytest.mark.parametrize("key", DAYS)
def test_a_days_stored_messages_equal_the_served_ones_call_by_call(pipeline, key):
    by_call: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in pipeline.messages_of(key).to_pylist():
        by_call[row["call_id"]].append(row)
    finished = [c["id"] for c in pipeline.calls_of(key) if c["status"] not in UNFINISHED_CALL_STATUSES]

    assert set(by_call) <= set(finished)
    for call_id in finished:
        assert stored(by_call.get(call_id, [])) == served(pipeline.world, call_id), call_id
    assert sum(1 for c in finished if by_call.get(c)) > 50, "enough transcripts to compare"


def test_calls_without_messages_hold_none_and_are_counted(pipeline):
    assert pipeline.transcripts_run.success
    without = set(pipeline.world.calls_without_messages())
    metadata = partition_metadata(pipeline.transcripts_run, DIGA_CALL_MESSAGES)
    for key in DAYS:
        finished = [c["id"] for c in pipeline.calls_of(key) if c["status"] not in UNFINISHED_CALL_STATUSES]
        stored_ids = set(pipeline.messages_of(key).column("call_id").to_pylist())
        expected_without = [c for c in finished if c in without]
        assert expected_without, "the day has calls answered NO_MESSAGES_FOR_CALL"
        assert not stored_ids & set(expected_without)
        assert metadata[key]["calls_without_messages"] == len(expected_without)
        assert metadata[key]["calls_with_messages"] == len(finished) - len(expected_without)
        assert metadata[key]["dagster/row_count"] == pipeline.messages_of(key).num_rows


def reply_latencies(messages: list[dict[str, Any]]) -> list[float]:
    """Seconds from the caller's last message to each agent reply that follows one, walking the
    transcript in order (a reply with no user message since the previous reply does not count)."""
    latencies, last_user = [], None
    for message in sorted(messages, key=lambda m: (m["created_date"], m["id"])):
        if message["role"] == "user":
            last_user = message["created_date"]
        elif message["role"] == "assistant":
            if last_user is not None:
                latencies.append((message["created_date"] - last_user).total_seconds())
            last_user = None
    return latencies


def expected_conversation_stats(pipeline: Pipeline, key: str) -> list[dict[str, Any]]:
    """call_conversation_stats of one day, computed here from the stored rows with Python."""
    messages: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in pipeline.messages_of(key).to_pylist():
        messages[row["call_id"]].append(row)
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for c in pipeline.calls_of(key):
        if c["status"] not in UNFINISHED_CALL_STATUSES:
            groups[(c["agent_id"], c["type"])].append(c)
    rows = []
    for (agent_id, call_type), calls in groups.items():
        talked = [(c, messages[c["id"]]) for c in calls if messages.get(c["id"])]
        counts = [len(m) for _, m in talked]
        users = [sum(1 for x in m if x["role"] == "user") for _, m in talked]
        assistants = [sum(1 for x in m if x["role"] == "assistant") for _, m in talked]
        tools = [any(x["role"] == "tool" or x["tool_call"] is not None for x in m) for _, m in talked]
        replies = [
            (min(x["created_date"] for x in m if x["role"] == "assistant") - c["start_time"]).total_seconds()
            for c, m in talked
            if c["start_time"] is not None and any(x["role"] == "assistant" for x in m)
        ]

        def mean(values: list[float]) -> float | None:
            return statistics.fmean(values) if values else None

        latencies = [latency for _, m in talked for latency in reply_latencies(m)]

        rows.append(
            {
                "day": datetime.fromisoformat(key).date(),
                "agent_id": agent_id,
                "call_type": call_type,
                "finished_calls": len(calls),
                "calls_with_transcript": len(talked),
                "messages_per_call_avg": mean(counts),
                "messages_per_call_median": statistics.median(counts) if counts else None,
                "user_turns_avg": mean(users),
                "assistant_turns_avg": mean(assistants),
                "tool_call_share": mean([float(t) for t in tools]),
                "first_reply_median_s": statistics.median(replies) if replies else None,
                "hung_up_after_greeting_share": mean([float(u <= 1) for u in users]),
                "response_latency_p50_s": continuous_quantile(latencies, 0.5),
                "response_latency_p90_s": continuous_quantile(latencies, 0.9),
            }
        )
    return rows


@pytest.mark.parametrize("key", DAYS)
def test_conversation_stats_equal_an_independent_computation(pipeline, key):
    actual = read_metric_day(pipeline.storage, CALL_CONVERSATION_STATS, key)
    expected = expected_conversation_stats(pipeline, key)

    assert_rows_equal(actual, expected, ("agent_id", "call_type"))
    assert any(row["hung_up_after_greeting_share"] for row in expected), "some callers left after the greeting"
    assert all(
        row["response_latency_p90_s"] >= row["response_latency_p50_s"] > 0
        for row in expected
        if row["response_latency_p50_s"]
    ), "replies take time"
    assert any(row["response_latency_p50_s"] for row in expected), "the agent replied to someone"
    assert any(row["tool_call_share"] for row in expected), "some agents called a tool"


def test_the_analysis_database_has_call_messages_and_the_conversation_view(pipeline):
    with pipeline.storage.store.connect(str(pipeline.storage.analysis_db), read_only=True) as con:
        [(messages, days)] = con.execute("SELECT count(*), count(DISTINCT day) FROM call_messages").fetchall()
        [(named,)] = con.execute("SELECT count(agent_name) FROM call_conversation_stats").fetchall()
    assert messages == sum(pipeline.messages_of(key).num_rows for key in DAYS) and days == len(DAYS)
    assert named > 0, "the conversation metric carries the agents' names"


def test_the_report_has_a_conversations_section_naming_the_agents(pipeline):
    html = pipeline.storage.store.read_bytes(pipeline.storage.layout.report_file(CALL_REPORT)).decode()
    section = html[html.index('<section id="conversations">') :]
    section = section[: section.index("</section>")]
    agents = {agent.id: agent.name for agent in pipeline.world.agents}
    rows = read_metric_day(pipeline.storage, CALL_CONVERSATION_STATS, DAYS[0]).to_pylist()
    talked = {row["agent_id"] for row in rows if row["calls_with_transcript"]}
    assert talked and all((agents[agent_id] or agent_id[:8]) in section for agent_id in talked if agent_id)
    assert "left after the greeting" in section and "reply latency p50" in section
    # Each agent's reply latency is the median of its daily p50s, to the hundredth of a second.
    for agent_id in talked - {None}:
        daily = sorted(
            row["response_latency_p50_s"]
            for key in DAYS
            for row in read_metric_day(pipeline.storage, CALL_CONVERSATION_STATS, key).to_pylist()
            if row["agent_id"] == agent_id and row["response_latency_p50_s"] is not None
        )
        middle = len(daily) // 2
        median = daily[middle] if len(daily) % 2 else (daily[middle - 1] + daily[middle]) / 2
        row = section[section.index(agents[agent_id] or agent_id[:8]) :].split("</tr>", 1)[0]
        assert f"{median:.2f} s" in row, (agent_id, median)
    # Numbers only: nothing any caller or agent said.
    said = {row["content"] for row in pipeline.messages_of(DAYS[0]).to_pylist() if row["content"]}
    assert said and not any(text in html for text in said)


# ------------------------------------------------------------------ runs of their own


def calls_of_day(world: World, key: str) -> list[dict[str, Any]]:
    start = datetime.fromisoformat(f"{key}T00:00:00+00:00")
    return world.calls_created_between(start, start + timedelta(days=1))


def transcripts_of(tmp_path, sim: DigaSimulator, key: str, **resource_overrides: Any) -> dg.ExecuteInProcessResult:
    defs = build_definitions(settings_for(tmp_path / "data"))
    resources = {
        "diga": api_resource(sim, **resource_overrides),
        "storage": storage_for(tmp_path),
    }
    return dg.materialize(
        [*(defs.assets or [])],
        selection=dg.AssetSelection.assets(DIGA_CALL_MESSAGES),
        resources=resources,
        partition_key=key,
        raise_on_error=False,
    )


def test_calls_going_on_are_skipped_and_a_deleted_call_is_counted(start_simulator, tmp_path, each_storage):
    sim = start_simulator(status_model="current", calls_per_day=40)
    key = DAYS[0]
    storage = storage_for(tmp_path)
    known = calls_of_day(sim.world, key)[:5]
    gone = str(uuid.uuid4())
    write_raw_calls(
        storage,
        key,
        [
            *known,
            call(gone, f"{key}T10:00:00Z"),
            call(str(uuid.uuid4()), f"{key}T11:00:00Z", status="in_progress", end_reason=None),
        ],
    )

    result = transcripts_of(tmp_path, sim, key)

    assert result.success
    metadata = partition_metadata(result, DIGA_CALL_MESSAGES)[key]
    assert metadata["calls_not_found"] == 1 and metadata["calls_skipped_unfinished"] == 1
    assert metadata["calls_stored"] == len(known) + 2
    stored_ids = set(
        storage.store.read_table(storage.layout.raw_partition(MESSAGES_DATASET, key)).column("call_id").to_pylist()
    )
    assert gone not in stored_ids and stored_ids <= {c["id"] for c in known}
    by_call: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in storage.store.read_table(storage.layout.raw_partition(MESSAGES_DATASET, key)).to_pylist():
        by_call[row["call_id"]].append(row)
    assert all(stored(by_call.get(c["id"], [])) == served(sim.world, c["id"]) for c in known)


def test_another_error_fails_the_day_naming_the_call_and_keeps_the_stored_file(start_simulator, tmp_path, each_storage):
    sim = start_simulator(status_model="current", calls_per_day=40)
    key = DAYS[0]
    storage = storage_for(tmp_path)
    known = [c for c in calls_of_day(sim.world, key) if c["status"] == "completed"]
    write_raw_calls(storage, key, known[:6])
    assert transcripts_of(tmp_path, sim, key).success
    location = storage.layout.raw_partition(MESSAGES_DATASET, key)
    before = storage.store.read_bytes(location)

    # One at a time, so the refused request is the first call's.
    sim.faults = FaultConfig(script=[Fault(kind="status", status=400)])
    result = transcripts_of(tmp_path, sim, key, max_concurrency=1)

    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    message = failure.step_failure_data.user_failure_data.description
    assert f"day {key}, call {known[0]['id']}: " in message
    assert f"--select {DIGA_CALL_MESSAGES} --partition {key}" in message
    assert storage.store.read_bytes(location) == before


def test_a_day_whose_calls_are_not_stored_is_refused_with_the_command(start_simulator, tmp_path):
    sim = start_simulator(status_model="current", calls_per_day=10)

    result = transcripts_of(tmp_path, sim, DAYS[1])

    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    message = failure.step_failure_data.user_failure_data.description
    assert f"diga_calls has no stored partition for {DAYS[1]}" in message
    assert f"--select diga_calls --partition {DAYS[1]}" in message
    assert len(sim.request_log) == 0, "nothing was asked of the API"


def test_a_reply_counts_from_the_callers_last_message_and_only_once_per_turn(tmp_path):
    storage = storage_for(tmp_path)
    key = "2026-11-05"
    write_raw_calls(storage, key, [call("call-a", f"{key}T09:00:00Z", duration=120)])
    materialize_metrics(tmp_path, [CALL_OUTCOME_RATES], first=key, checks=False)  # the day curated
    at = datetime.fromisoformat(f"{key}T09:00:00+00:00")
    transcript = [  # (id, seconds after the start, role)
        ("m1", 1, "assistant"),  # the greeting: no one spoke before it
        ("m2", 4, "user"),
        ("m3", 6, "user"),  # the caller's last message before the reply
        ("m4", 8.5, "assistant"),  # 2.5 s
        ("m5", 9, "tool"),
        ("m6", 10, "assistant"),  # no user message since the last reply: not a response
        ("m7", 12, "user"),
        ("m8", 12, "assistant"),  # the same instant, after it in the transcript's order: 0 s
    ]
    rows = [
        {
            "call_id": "call-a",
            "id": message_id,
            "created_date": at + timedelta(seconds=seconds),
            "role": role,
            "content": "...",
            "tool_call": None,
            "extra_fields": None,
            "fetched_at": at + timedelta(days=1),
        }
        for message_id, seconds, role in transcript
    ]
    storage.store.write_table(
        storage.layout.raw_partition(MESSAGES_DATASET, key), pa.Table.from_pylist(rows, schema=TRANSCRIPTS.arrow_schema)
    )

    [stats] = compute_conversation_stats(storage.store, [date.fromisoformat(key)]).table.to_pylist()

    # Replies of 2.5 s and 0 s: the median halfway, the 90th percentile near the slower one.
    assert stats["response_latency_p50_s"] == pytest.approx(1.25)
    assert stats["response_latency_p90_s"] == pytest.approx(2.25)
