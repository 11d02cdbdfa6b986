"""The simulated company's stable parts: its agents (with their versions) and its known callers.

Everything here is drawn once, when the world is built, from streams named after what they
generate, so adding a draw to one part never shifts the values of another. Phones live in
:mod:`diga_assets.simulator.phones` and calls in :mod:`diga_assets.simulator.calls`; both read
the company.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from diga_assets.simulator.instants import DAY_US, HOUR_US, US, from_us, to_us, uuid_from_int

# "seed" serves the published spec's statuses; "current" serves what the newer Diga API does.
StatusModel = Literal["seed", "current"]


def seeded_random(seed: int, *parts: object) -> random.Random:
    """The world's random stream named ``parts``: a function of the seed and the name only."""
    # String seeds are hashed with SHA-512, so streams are stable across processes.
    return random.Random(":".join(["diga-sim", str(seed), *map(str, parts)]))


@dataclass(frozen=True)
class AgentVersion:
    """One published version of an agent; calls after ``introduced_at`` move to it gradually."""

    id: str
    introduced_at: datetime


@dataclass(frozen=True)
class Agent:
    """A voice agent. ``weight`` is its share of traffic that is not routed through a phone."""

    id: str
    name: str
    versions: tuple[AgentVersion, ...]
    weight: int


@dataclass(frozen=True)
class Contact:
    """A caller known before the window starts; repeat callers are drawn from these."""

    id: str
    created_us: int
    identifier: str
    contact_type: str


_AGENT_NAMES = ("Recepción", "Citas", "Cobros", "Encuestas", "Soporte", "Ventas", "Reservas", "Avisos")


def build_agents(rng: random.Random, count: int, window_start_us: int, t0_us: int) -> tuple[Agent, ...]:
    """``count`` agents; the first always has a version that ships during the window."""
    window = t0_us - window_start_us
    agents = []
    for index in range(count):
        n_versions = rng.randint(1, 3) if index else max(2, rng.randint(1, 3))
        intros = [window_start_us - rng.randint(20, 200) * DAY_US - rng.randrange(DAY_US)]
        # Later versions ship during the window, so some days mix old and new versions.
        fractions = sorted(rng.uniform(0.15, 0.9) for _ in range(n_versions - 1))
        intros += [window_start_us + int(f * window) for f in fractions]
        versions = tuple(AgentVersion(uuid_from_int(rng.getrandbits(128)), from_us(t - t % US)) for t in intros)
        name = _AGENT_NAMES[index % len(_AGENT_NAMES)] + ("" if index < len(_AGENT_NAMES) else f" {index}")
        agents.append(Agent(uuid_from_int(rng.getrandbits(128)), name, versions, rng.randint(1, 6)))
    return tuple(agents)


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
        self.agents = build_agents(seeded_random(seed, "agents"), agents, window_start_us, t0_us)
        self._agent_cum_weights = list(_cumulative(a.weight for a in self.agents))
        self._version_intro_us = [[to_us(v.introduced_at) for v in a.versions] for a in self.agents]
        self.call_pool, self.web_pool = build_contacts(seeded_random(seed, "contacts"), contacts, window_start_us)

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
