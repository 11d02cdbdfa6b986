"""The simulated company's stable parts: its agents (with their versions) and its known callers.

Everything here is drawn once, when the world is built, from streams named after what they
generate, so adding a draw to one part never shifts the values of another. Phones live in
:mod:`diga_assets.simulator.phones` and calls in :mod:`diga_assets.simulator.calls`; both read
the company.

Calls are routed to the agents of ``Company.agents`` and to their published versions
(``Agent.versions``). ``GET /v1/agent/versions-dropdown/dashboard`` lists those agents and also
what never handles a call: each agent's unpublished draft, if it has one, and one agent created
in the dashboard that has no version yet (``Company.agent_without_versions``). Names, drafts and
that agent come from their own stream, so the calls of a world do not depend on them.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from diga_assets.simulator.instants import DAY_US, HOUR_US, US, from_us, to_us, uuid_from_int

# "seed" serves the published pages' statuses; "current" serves Diga's API as its live document says.
StatusModel = Literal["seed", "current"]


def seeded_random(seed: int, *parts: object) -> random.Random:
    """The world's random stream named ``parts``: a function of the seed and the name only."""
    # String seeds are hashed with SHA-512, so streams are stable across processes.
    return random.Random(":".join(["diga-sim", str(seed), *map(str, parts)]))


@dataclass(frozen=True)
class AgentVersion:
    """One version of an agent, as the dashboard names it.

    A published version (in ``Agent.versions``) takes calls from ``introduced_at`` on, gradually;
    a draft (``Agent.draft``) was saved at ``introduced_at`` and never takes a call. ``name`` is
    the label its author gave it, or None.
    """

    id: str
    introduced_at: datetime
    name: str | None = None
    is_draft: bool = False


@dataclass(frozen=True)
class Agent:
    """A voice agent. ``weight`` is its share of traffic that is not routed through a phone.

    ``name`` is None for an agent saved without one. ``versions`` are the versions that were
    published, in order of introduction; ``draft`` is a version being edited, if any.
    """

    id: str
    name: str | None
    versions: tuple[AgentVersion, ...]
    weight: int
    draft: AgentVersion | None = None


@dataclass(frozen=True)
class Contact:
    """A caller known before the window starts; repeat callers are drawn from these."""

    id: str
    created_us: int
    identifier: str
    contact_type: str


_AGENT_NAMES = ("Recepción", "Citas", "Cobros", "Encuestas", "Soporte", "Ventas", "Reservas", "Avisos")
# What an author writes after "vN - " when naming a version; many leave the name empty.
_VERSION_LABELS = (
    "primera versión",
    "horario de verano",
    "nuevo saludo",
    "menos latencia",
    "transferencia a recepción",
    "voz más cercana",
    "preguntas frecuentes actualizadas",
    "tono más formal",
    "campaña de Navidad",
    "corrección de fechas",
)


def _agent_name(index: int) -> str:
    return _AGENT_NAMES[index % len(_AGENT_NAMES)] + ("" if index < len(_AGENT_NAMES) else f" {index}")


def build_agents(rng: random.Random, count: int, window_start_us: int, t0_us: int) -> tuple[Agent, ...]:
    """``count`` agents with their published versions; the first always has a version that ships
    during the window. Names, version names and drafts are added by :func:`describe_agents`."""
    window = t0_us - window_start_us
    agents = []
    for index in range(count):
        n_versions = rng.randint(1, 3) if index else max(2, rng.randint(1, 3))
        intros = [window_start_us - rng.randint(20, 200) * DAY_US - rng.randrange(DAY_US)]
        # Later versions ship during the window, so some days mix old and new versions.
        fractions = sorted(rng.uniform(0.15, 0.9) for _ in range(n_versions - 1))
        intros += [window_start_us + int(f * window) for f in fractions]
        versions = tuple(AgentVersion(uuid_from_int(rng.getrandbits(128)), from_us(t - t % US)) for t in intros)
        agents.append(Agent(uuid_from_int(rng.getrandbits(128)), _agent_name(index), versions, rng.randint(1, 6)))
    return tuple(agents)


def describe_agents(rng: random.Random, agents: tuple[Agent, ...], t0_us: int) -> tuple[tuple[Agent, ...], Agent]:
    """What the dashboard shows of ``agents``, and one more agent that has no version yet.

    Draws only from ``rng``, so the ids, versions and weights that route calls stay as
    :func:`build_agents` drew them. One agent loses its name (saved without one). A version's
    name is "vN - label" or None. About half the agents, and at least one, have a draft, saved
    after their latest published version; some drafts are saved after ``t0_us``, so they appear
    as the clock reaches them. The agent without versions is named after the next agent name and never handles
    a call.
    """
    unnamed = rng.randrange(len(agents))
    # At least one agent is being edited, so a world always lists a draft.
    editing = rng.randrange(len(agents))
    described = []
    for index, agent in enumerate(agents):
        versions = tuple(
            AgentVersion(version.id, version.introduced_at, _version_name(rng, number))
            for number, version in enumerate(agent.versions, start=1)
        )
        draft = None
        if rng.random() < 0.5 or index == editing:
            latest_us = to_us(versions[-1].introduced_at)
            if rng.random() < 0.3:
                saved = t0_us + rng.randint(2, 72) * HOUR_US
            else:
                saved = latest_us + int(rng.uniform(0.2, 0.9) * (t0_us - latest_us))
            draft = AgentVersion(
                uuid_from_int(rng.getrandbits(128)),
                from_us(saved - saved % US),
                _version_name(rng, len(versions) + 1),
                is_draft=True,
            )
        name = None if index == unnamed else agent.name
        described.append(Agent(agent.id, name, versions, agent.weight, draft))
    newcomer = Agent(uuid_from_int(rng.getrandbits(128)), _agent_name(len(agents)), (), 0)
    return tuple(described), newcomer


def _version_name(rng: random.Random, number: int) -> str | None:
    if rng.random() < 0.3:
        return None
    labels = _VERSION_LABELS if number == 1 else _VERSION_LABELS[1:]  # only a first version is the first
    return f"v{number} - {rng.choice(labels)}"


def agents_dropdown(agents: Iterable[Agent], now_us: int) -> list[dict[str, Any]]:
    """``GET /v1/agent/versions-dropdown/dashboard`` at ``now_us`` (AgentWithVersionsDropdownResponse).

    Versions are numbered 1..n in order of introduction and listed in that order; a version
    introduced after ``now_us`` is not listed yet. The latest published version introduced by
    ``now_us`` is the published one; a draft is never published.
    """
    listing = []
    for agent in agents:
        shown = [v for v in agent.versions if to_us(v.introduced_at) <= now_us]
        published = shown[-1] if shown else None
        if agent.draft is not None and to_us(agent.draft.introduced_at) <= now_us:
            shown.append(agent.draft)
        versions = [
            {
                "version_id": version.id,
                "version_name": version.name,
                "version_number": number,
                "is_published": version is published,
                "is_draft": version.is_draft,
            }
            for number, version in enumerate(shown, start=1)
        ]
        listing.append({"agent_id": agent.id, "name": agent.name, "versions": versions})
    return listing


def build_contacts(
    rng: random.Random, size: int, window_start_us: int
) -> tuple[tuple[Contact, ...], tuple[Contact, ...]]:
    """``size`` callers created in the year before the window: (phone callers, web callers)."""
    call_pool, web_pool = [], []
    for _ in range(size):
        created = window_start_us - rng.randrange(1, 365 * DAY_US)
        cid = uuid_from_int(rng.getrandbits(128))
        if rng.random() < 0.2:
            web_pool.append(Contact(cid, created, f"web_{rng.getrandbits(96):024x}", "web"))
        else:
            prefix = rng.choice(["+346", "+346", "+347", "+349"])
            call_pool.append(Contact(cid, created, f"{prefix}{rng.randrange(10**8):08d}", "call"))
    return tuple(call_pool), tuple(web_pool)


class Company:
    """The agents and known callers of one world, and the draws calls make among them."""

    def __init__(self, seed: int, t0_us: int, window_start_us: int, agents: int, contacts: int) -> None:
        routed = build_agents(seeded_random(seed, "agents"), agents, window_start_us, t0_us)
        self.agents, self.agent_without_versions = describe_agents(
            seeded_random(seed, "agent-dashboard"), routed, t0_us
        )
        self._agent_cum_weights = list(_cumulative(a.weight for a in self.agents))
        self._version_intro_us = [[to_us(v.introduced_at) for v in a.versions] for a in self.agents]
        self.call_pool, self.web_pool = build_contacts(seeded_random(seed, "contacts"), contacts, window_start_us)

    def agents_dropdown(self, now_us: int) -> list[dict[str, Any]]:
        """Every agent with the versions the dashboard lists at ``now_us``."""
        return agents_dropdown((*self.agents, self.agent_without_versions), now_us)

    def agent_by_weight(self, draw: int) -> int:
        """The index of the agent that a draw in ``range(1000)`` lands on, by traffic weight."""
        cum_weights = self._agent_cum_weights
        return bisect_right(cum_weights, draw * cum_weights[-1] // 1000)

    def version_index(self, agent_index: int, created_us: int, u_roll: int) -> int:
        """Which of the agent's versions answers a call created at ``created_us``.

        ``u_roll`` is the call's draw in ``range(1000)``; it decides the call's side of a rollout.
        """
        intros = self._version_intro_us[agent_index]
        index = bisect_right(intros, created_us) - 1
        if index <= 0:
            return 0
        # A new version rolls out over 36 hours: early calls still reach the previous one.
        progress = (created_us - intros[index]) * 1000 // (36 * HOUR_US)
        return index - 1 if u_roll >= progress else index


def _cumulative(weights: Iterable[int]) -> Iterator[int]:
    total = 0
    for weight in weights:
        total += weight
        yield total
