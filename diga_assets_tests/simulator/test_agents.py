"""``GET /v1/agent/versions-dropdown/dashboard``: every agent with its versions, unpaged, in both models.

The live document's AgentWithVersionsDropdownResponse / VersionItem is the contract (the
contract fixture validates every body served here); these tests pin what a realistic company
looks like through it, and that calls only name agents and versions it lists.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests

from diga_assets.simulator import World
from diga_assets.simulator.company import Agent, AgentVersion, agents_dropdown
from diga_assets_tests.simulator.conftest import AGENTS, API_KEY, CALLS, FIXED_NOW


@pytest.fixture(scope="module")
def dropdown() -> list[dict]:
    return World(seed=7, now=FIXED_NOW, days=3, calls_per_day=60).agents_dropdown()


@pytest.mark.parametrize("model", ["seed", "current"])
def test_the_endpoint_answers_every_agent_as_one_unpaged_list(get, make_simulator, model: str) -> None:
    world = World(seed=7, now=FIXED_NOW, days=3, calls_per_day=60, status_model=model)
    sim = make_simulator(world)
    response = get(AGENTS, sim)
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert isinstance(body, list) and body == world.agents_dropdown()
    assert get(AGENTS, sim, limit=1, after="x").json() == body, "it takes no paging parameters"
    assert {a["agent_id"] for a in body} == {a.id for a in world.agents} | {world.agent_without_versions.id}


def test_versions_are_numbered_from_one_in_order_of_introduction(dropdown: list[dict]) -> None:
    for agent in dropdown:
        assert [v["version_number"] for v in agent["versions"]] == list(range(1, len(agent["versions"]) + 1))
    world = World(seed=7, now=FIXED_NOW, days=3, calls_per_day=60)
    for agent in world.agents:
        listed = next(a for a in dropdown if a["agent_id"] == agent.id)
        published_ids = [v["version_id"] for v in listed["versions"] if not v["is_draft"]]
        assert published_ids == [v.id for v in agent.versions]  # introduction order


def test_each_agent_with_versions_has_exactly_one_published_the_latest_introduced(dropdown: list[dict]) -> None:
    for agent in dropdown:
        if not agent["versions"]:
            continue
        published = [v for v in agent["versions"] if v["is_published"]]
        assert len(published) == 1
        assert published[0] == [v for v in agent["versions"] if not v["is_draft"]][-1]


def test_drafts_come_after_the_published_version_and_are_never_published(dropdown: list[dict]) -> None:
    drafts = [(a, v) for a in dropdown for v in a["versions"] if v["is_draft"]]
    assert drafts
    for agent, draft in drafts:
        assert not draft["is_published"]
        assert draft["version_number"] == len(agent["versions"])


def test_names_may_be_missing_and_version_names_read_like_the_dashboards(dropdown: list[dict]) -> None:
    assert any(a["name"] is None for a in dropdown)
    names = [v["version_name"] for a in dropdown for v in a["versions"]]
    assert None in names
    for agent in dropdown:
        for version in agent["versions"]:
            if version["version_name"] is not None:
                assert version["version_name"].startswith(f"v{version['version_number']} - ")


def test_an_agent_without_versions_is_listed_and_never_handles_a_call() -> None:
    world = World(seed=7, now=FIXED_NOW, days=5, calls_per_day=300, status_model="current")
    empty = [a for a in world.agents_dropdown() if not a["versions"]]
    assert [a["agent_id"] for a in empty] == [world.agent_without_versions.id]
    assert empty[0]["agent_id"] not in {c["agent_id"] for c in world.calls_visible()}


def test_agent_names_and_ids_stay_the_same_for_a_seed() -> None:
    def names(world: World) -> list[tuple[str, str | None]]:
        return [(a["agent_id"], a["name"]) for a in world.agents_dropdown()]

    first = World(seed=7, now=FIXED_NOW, days=3, calls_per_day=60)
    later = World(seed=7, now=FIXED_NOW + timedelta(days=40), days=10, calls_per_day=5, status_model="current")
    assert names(first) == names(later)
    assert names(first) != names(World(seed=8, now=FIXED_NOW, days=3, calls_per_day=60))


@pytest.mark.parametrize("model", ["seed", "current"])
def test_every_agent_and_version_a_call_names_is_listed(model: str) -> None:
    world = World(seed=7, now=FIXED_NOW, days=30, calls_per_day=200, status_model=model)
    for _ in range(2):
        listed = {(a["agent_id"], v["version_id"]) for a in world.agents_dropdown() for v in a["versions"]}
        used = {(c["agent_id"], c["agent_version_id"]) for c in world.calls_visible() if c["agent_id"] is not None}
        assert used and used <= listed
        drafts = {v["version_id"] for a in world.agents_dropdown() for v in a["versions"] if v["is_draft"]}
        assert not drafts & {version for _, version in used}, "a draft never takes a call"
        world.advance(timedelta(days=4))


def test_versions_introduced_after_now_are_not_listed_yet() -> None:
    t0 = datetime(2024, 5, 14, tzinfo=UTC)
    agent = Agent(
        id="00000000-0000-4000-8000-000000000001",
        name="Citas",
        versions=(
            AgentVersion("00000000-0000-4000-8000-0000000000a1", t0 - timedelta(days=30), "v1 - primera versión"),
            AgentVersion("00000000-0000-4000-8000-0000000000a2", t0 + timedelta(days=1), None),
        ),
        weight=1,
        draft=AgentVersion("00000000-0000-4000-8000-0000000000a3", t0 + timedelta(days=2), None, is_draft=True),
    )

    def versions_at(moment: datetime) -> list[tuple[int, bool, bool]]:
        us = (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
        [listed] = agents_dropdown([agent], us)
        return [(v["version_number"], v["is_published"], v["is_draft"]) for v in listed["versions"]]

    assert versions_at(t0) == [(1, True, False)]
    assert versions_at(t0 + timedelta(days=1)) == [(1, False, False), (2, True, False)]
    assert versions_at(t0 + timedelta(days=3)) == [(1, False, False), (2, True, False), (3, False, True)]


def future_draft(world: World) -> AgentVersion | None:
    return next((a.draft for a in world.agents if a.draft and a.draft.introduced_at > world.now), None)


def test_a_draft_saved_later_appears_when_the_clock_reaches_it() -> None:
    worlds = (World(seed=seed, now=FIXED_NOW, days=1, calls_per_day=0) for seed in range(40))
    world = next(w for w in worlds if future_draft(w) is not None)
    draft = future_draft(world)
    assert draft is not None
    assert draft.id not in {v["version_id"] for a in world.agents_dropdown() for v in a["versions"]}
    world.advance(draft.introduced_at - FIXED_NOW)
    assert draft.id in {v["version_id"] for a in world.agents_dropdown() for v in a["versions"]}


def test_a_wrong_key_is_refused_as_for_the_agents_resource(simulator) -> None:
    response = requests.get(simulator.base_url + AGENTS, headers={"Authorization": "Bearer nope"}, timeout=10)
    assert response.status_code == 403
    assert response.json()["message"] == "Missing required permissions to view agents"
    calls = requests.get(simulator.base_url + CALLS, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=10)
    assert calls.status_code == 200
