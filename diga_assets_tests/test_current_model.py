"""Against the live API as the simulator's current model serves it: every agent is named, every end
reason is visible and counted as served, the codes the outcome map does not know are listed with
the lines to add, and the report shows names, end reasons and each version's interval.

One pipeline, run once for the module as a user runs it (the phones job's ``diga_agents`` for a
day, the calls job over two days with its checks, then the report), over HTTP against the
simulator; each test reads one promise off what it left.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import dagster as dg
import pytest

from diga_assets.definitions import build_definitions
from diga_assets.names import AGENTS_DATASET, CALL_END_REASONS, CALL_REPORT, CALLS_JOB_ASSETS, DIGA_AGENTS
from diga_assets.simulator import DigaSimulator, World
from diga_assets.simulator.calls import MADE_UP_END_REASONS
from diga_assets.storage import DigaStorage
from diga_assets_tests.assets.conftest import api_resource, range_tags, settings_for
from diga_assets_tests.conftest import SIM_KEY, SIM_NOW
from diga_assets_tests.metric_data import mapped_by, outcome_of, read_metric_day, wilson_interval

DAYS = ("2026-11-18", "2026-11-19")


@dataclass(frozen=True)
class Pipeline:
    """What the module's runs left, and the world the simulator served them from."""

    world: World
    storage: DigaStorage
    calls_run: dg.ExecuteInProcessResult

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with self.storage.store.connect(str(self.storage.analysis_db), read_only=True) as con:
            return con.execute(sql).fetchall()


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    data = tmp_path_factory.mktemp("current-model") / "data"
    world = World(now=SIM_NOW, days=4, calls_per_day=250, status_model="current")
    defs = build_definitions(settings_for(data))
    graph = [*(defs.assets or []), *(defs.asset_checks or [])]
    storage = DigaStorage(data_dir=str(data))
    with DigaSimulator(world, api_key=SIM_KEY) as sim:
        resources = {"diga": api_resource(sim), "storage": storage}

        def run(*assets: str, **kwargs: Any) -> dg.ExecuteInProcessResult:
            selection = dg.AssetSelection.assets(*assets) | dg.AssetSelection.checks_for_assets(*assets)
            return dg.materialize(graph, selection=selection, resources=resources, **kwargs)

        run(DIGA_AGENTS, partition_key=DAYS[-1])
        calls_run = run(*CALLS_JOB_ASSETS, tags=range_tags(DAYS[0], DAYS[-1]))
        run(CALL_REPORT)
    yield Pipeline(world=world, storage=storage, calls_run=calls_run)


def served_calls(world: World) -> list[dict[str, Any]]:
    """The calls the simulator serves that were created on the module's days (UTC partitions)."""
    days = {date.fromisoformat(day) for day in DAYS}
    return [
        c for c in world.calls_visible() if datetime.fromisoformat(c["created_date"]).astimezone(UTC).date() in days
    ]


def test_diga_agents_and_the_agents_view_name_every_agent_the_api_lists(pipeline: Pipeline):
    listed = {
        (a["agent_id"], a["name"], v["version_id"] if v else None, v["version_name"] if v else None)
        for a in pipeline.world.agents_dropdown()
        for v in (a["versions"] or [None])
    }
    names = {agent.id: agent.name for agent in (*pipeline.world.agents, pipeline.world.agent_without_versions)}
    assert {name for _, name, _, _ in listed} == set(names.values()), "the simulator lists every agent"

    raw = pipeline.storage.store.read_table(pipeline.storage.layout.raw_partition(AGENTS_DATASET, DAYS[-1]))
    stored = {(r["agent_id"], r["agent_name"], r["version_id"], r["version_name"]) for r in raw.to_pylist()}
    viewed = set(pipeline.query("SELECT agent_id, agent_name, version_id, version_name FROM agents"))

    assert stored == listed and viewed == listed
    assert {agent_id for agent_id, _, _, _ in viewed} == set(names)


def test_the_metric_views_carry_each_agents_name(pipeline: Pipeline):
    names = {agent.id: agent.name for agent in pipeline.world.agents}
    for view in ("call_outcome_rates", "call_duration_stats", "agent_version_outcomes"):
        rows = pipeline.query(f"SELECT DISTINCT agent_id, agent_name FROM {view} WHERE agent_id IS NOT NULL")
        assert rows and all(name == names[agent_id] for agent_id, name in rows), view
    versions = {v.id: (v.name, n) for a in pipeline.world.agents for n, v in enumerate(a.versions, start=1)}
    rows = pipeline.query(
        "SELECT DISTINCT agent_version_id, version_name, version_number FROM agent_version_outcomes "
        "WHERE agent_version_id IS NOT NULL"
    )
    assert rows and all((name, number) == versions[version] for version, name, number in rows)


def test_call_end_reasons_counts_every_served_call_by_status_and_end_reason(pipeline: Pipeline):
    served = served_calls(pipeline.world)
    expected = Counter((c["status"], c["end_reason"]) for c in served)
    stored = [r for day in DAYS for r in read_metric_day(pipeline.storage, CALL_END_REASONS, day).to_pylist()]
    counted: Counter[tuple[str, str | None]] = Counter()
    for row in stored:
        counted[(row["status"], row["end_reason"])] += row["calls"]
        assert row["mapped_by"] == mapped_by(row["status"], row["end_reason"]), row
        assert row["outcome"] == outcome_of(row["status"], row["end_reason"]), row

    assert counted == expected
    # The comparison covered every way a row is mapped, and the made-up codes.
    assert {row["mapped_by"] for row in stored} >= {"end_reason", "status"}
    assert {reason for _, reason in expected} >= set(MADE_UP_END_REASONS)


def test_the_warn_check_lists_the_made_up_codes_with_the_lines_to_add(pipeline: Pipeline):
    unmapped = Counter(
        c["end_reason"]
        for c in served_calls(pipeline.world)
        if c["status"] == "completed" and mapped_by("completed", c["end_reason"]) == "status" and c["end_reason"]
    )
    assert set(unmapped) == set(MADE_UP_END_REASONS), "the shipped map names none of the simulator's codes"
    checks = [
        e
        for e in pipeline.calls_run.get_asset_check_evaluations()
        if e.check_name == "end_reasons_mapped" and e.asset_key.path[-1] == CALL_END_REASONS
    ]
    assert checks and all(not e.passed and e.severity == dg.AssetCheckSeverity.WARN for e in checks)

    listed: Counter[str] = Counter()
    for evaluation in checks:
        listed.update(evaluation.metadata["unmapped_end_reasons"].value)
        lines = evaluation.metadata["lines_to_add"].value
        for code in evaluation.metadata["unmapped_end_reasons"].value:
            assert re.search(rf"^completed,{code},\w", lines, re.MULTILINE), code
            assert code in (evaluation.description or "")
    assert listed == unmapped


def test_the_report_shows_names_end_reasons_and_each_versions_interval(pipeline: Pipeline):
    storage = pipeline.storage
    html = storage.store.read_bytes(storage.layout.report_file(CALL_REPORT)).decode("utf-8")
    shown = set(re.findall(r"<text[^>]*>([^<]+)</text>", html)) | set(re.findall(r"<td[^>]*>([^<]*)</td>", html))
    named = [agent for agent in pipeline.world.agents if agent.name]
    assert all(any(agent.name in text for text in shown) for agent in named)
    assert not any(agent.id[:8] in text for agent in named for text in shown), "an id only where no name is known"

    end_reasons = re.search(r'<section id="end-reasons">(.*?)</section>', html, re.S)
    assert end_reasons and all(f"<td>{code}</td>" in end_reasons.group(1) for code in MADE_UP_END_REASONS)
    assert re.search(r'id="unmapped-warning"', html), "the made-up codes carry far more than 1% of the calls"

    versions = re.search(r'<section id="version-comparison">(.*?)</section>', html, re.S)
    assert versions
    compared = pipeline.query(
        "SELECT ended_calls, completed_calls, completion_rate_low, completion_rate_high "
        f"FROM agent_version_comparison(DATE '{DAYS[0]}', DATE '{DAYS[-1]}') WHERE ended_calls > 0"
    )
    assert compared
    for ended, completed, low, high in compared:
        assert (low, high) == pytest.approx(wilson_interval(completed, ended))
        assert f"{low:.1%} to {high:.1%}" in versions.group(1)
