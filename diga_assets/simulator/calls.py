"""One generated call: its fields derived from a single random integer, and its record at an instant.

A world can hold hundreds of thousands of calls, so a call is stored as its creation instant, its
id and one random integer. :class:`CallSynthesizer` turns that integer into everything about the
call that does not depend on the clock (a :class:`CallCore`), and a core plus the clock into the
record the API serves: a call is dialing, then in progress, then finished with its outcome.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from typing import Any

from diga_assets.simulator.company import Company, StatusModel
from diga_assets.simulator.instants import DAY_US, N_SPELLINGS, US, InstantFormatter, canonical_uuid, uuid_from_int
from diga_assets.simulator.phones import PhoneRegister, PhoneSpec

# The newer Diga API (status model "current") reports every finished call as ``completed`` and
# moves the outcome to ``end_reason``; calls waiting for a line are ``in_queue``.
CURRENT_CALL_STATUSES: tuple[str, ...] = ("dialing", "in_queue", "in_progress", "completed")
CURRENT_END_REASONS: tuple[str, ...] = (
    "hangup",
    "agent_hangup",
    "voicemail_left",
    "answering_machine_detected",
    "mailbox_unavailable",
    "ivr_no_answer",
    "ivr_unreachable",
    "transferred",
    "error",
)

# Call outcomes: (seed-model status, end_reason, connected?, weight). Outbound calls can also
# reach voicemail and IVRs; inbound calls cannot go unanswered in the same ways.
_Outcome = tuple[str, str, bool, int]
_INBOUND_OUTCOMES: tuple[_Outcome, ...] = (
    ("completed", "hangup", True, 560),
    ("completed", "agent_hangup", True, 250),
    ("transferred", "transferred", True, 110),
    ("failed", "error", False, 50),
    ("no_answer", "ivr_no_answer", False, 30),
)
_OUTBOUND_OUTCOMES: tuple[_Outcome, ...] = (
    ("completed", "hangup", True, 420),
    ("completed", "agent_hangup", True, 160),
    ("completed", "voicemail_left", True, 70),
    ("transferred", "transferred", True, 60),
    ("no_answer", "ivr_no_answer", False, 110),
    ("no_answer", "mailbox_unavailable", False, 40),
    ("no_answer", "answering_machine_detected", False, 60),
    ("failed", "ivr_unreachable", False, 40),
    ("failed", "error", False, 40),
)

_OUTCOME_TOTALS = {
    False: sum(o[3] for o in _INBOUND_OUTCOMES),
    True: sum(o[3] for o in _OUTBOUND_OUTCOMES),
}

# Every status the seed model can serve: a live call's, then each outcome's.
SEED_CALL_STATUSES: frozenset[str] = frozenset(
    {"dialing", "in_progress"} | {o[0] for o in (*_INBOUND_OUTCOMES, *_OUTBOUND_OUTCOMES)}
)

# Lognormal-ish talk durations in seconds (median about 95 s, long tail to about 25 minutes),
# tabulated once so a call picks one with a single draw.
_DURATION_TABLE: tuple[int, ...] = tuple(
    max(4, min(1500, round(math.exp(4.55 + 0.85 * _z))))
    for _z in (
        # Inverse normal CDF at (i + 0.5) / 1024: an exact quantile table, no sampling noise.
        statistics.NormalDist().inv_cdf((i + 0.5) / 1024)
        for i in range(1024)
    )
)

_FIRST_NAMES = ("Lucía", "Hugo", "Martina", "Mateo", "Sofía", "Leo", "Julia", "Daniel", "Paula", "Álvaro")
_CLINICS = ("Madrid Centro", "Valencia Ruzafa", "Sevilla Triana", "Bilbao Abando")
_CAMPAIGNS = ("renovacion-2024", "encuesta-satisfaccion", "recordatorio-cita", "impagos-q2")

_MASK64 = (1 << 64) - 1


class CallCore:
    """Everything about a generated call that does not depend on the clock."""

    __slots__ = (
        "agent_id",
        "call_type",
        "connect_us",
        "connected",
        "contact",
        "created_us",
        "duration",
        "dynamic_variables",
        "end_reason",
        "end_us",
        "id",
        "outcome_status",
        "phone_id",
        "queue_end_us",
        "recording",
        "variant",
        "version_id",
    )

    id: str
    created_us: int
    agent_id: str | None
    version_id: str | None
    call_type: str
    contact: tuple[str, int, str, str]
    phone_id: str | None
    outcome_status: str
    end_reason: str
    connected: bool
    queue_end_us: int
    connect_us: int
    duration: int
    end_us: int
    dynamic_variables: dict[str, Any] | None
    variant: int
    recording: str | None


class CallSynthesizer:
    """Derives generated calls from their random integers and serves them at an instant.

    Not thread-safe (it caches texts and phone assignments): the world serializes access.
    """

    def __init__(self, company: Company, phones: PhoneRegister, status_model: StatusModel) -> None:
        self._company = company
        self._phones = phones
        self._current = status_model == "current"
        self._fmt = InstantFormatter()

    def core(self, created_us: int, call_id: str, bits: int) -> CallCore:
        """Derive a generated call's clock-independent fields from its random integer."""
        core = CallCore()
        core.id = call_id
        core.created_us = created_us
        # Three 64-bit words feed the small draws (cheaper than dividing the whole integer); the
        # top 128 bits name a first-time caller.
        word, u_channel = divmod(bits & _MASK64, 100)
        word, u_type = divmod(word, 100)
        word, u_noagent = divmod(word, 100)
        word, u_agent = divmod(word, 1000)
        word, u_roll = divmod(word, 1000)
        u_repeat = word % 100
        word = (bits >> 64) & _MASK64
        u_pool = word & 0xFFFFF
        u_phone = (word >> 20) & 0x3FF
        u_ring = (word >> 30) & 0x3F
        u_queue = (word >> 36) & 0x7F
        u_duration = (word >> 43) & 0x3FF
        u_outcome = (word >> 53) * 1000 >> 11
        word, u_dyn = divmod((bits >> 128) & _MASK64, 1024)
        word, u_variant = divmod(word, N_SPELLINGS)
        word, u_recording = divmod(word, 100)
        u_ident = word % 10**8
        u_sig = (bits >> 150) & _MASK64
        new_contact_bits = bits >> 192

        web = u_channel < 18
        outbound = not web and u_type < 45
        core.call_type = "outbound" if outbound else "inbound"
        core.variant = u_variant

        company = self._company
        phone: PhoneSpec | None = None
        agent_index: int | None = None
        if not web:
            day_phones = self._phones.assigned_all_day(created_us // DAY_US)
            if day_phones:
                phone = day_phones[u_phone % len(day_phones)]
                inbound_agent, outbound_agent = self._phones.agents_at(phone, created_us)
                agent_index = outbound_agent if outbound else inbound_agent
        if agent_index is None:
            agent_index = company.agent_by_weight(u_agent)
        core.phone_id = phone.id if phone is not None else None
        if u_noagent < 2:
            core.agent_id = core.version_id = None
        else:
            agent = company.agents[agent_index]
            core.agent_id = agent.id
            core.version_id = agent.versions[company.version_index(agent_index, created_us, u_roll)].id

        pool = company.web_pool if web else company.call_pool
        if pool and u_repeat < 65:
            contact = pool[u_pool % len(pool)]
            core.contact = (contact.id, contact.created_us, contact.identifier, contact.contact_type)
        elif web:
            ident = f"web_{new_contact_bits & ((1 << 96) - 1):024x}"
            core.contact = (uuid_from_int(new_contact_bits), created_us, ident, "web")
        else:
            core.contact = (uuid_from_int(new_contact_bits), created_us, f"+346{u_ident:08d}", "call")

        outcomes = _OUTBOUND_OUTCOMES if outbound else _INBOUND_OUTCOMES
        pick = u_outcome * _OUTCOME_TOTALS[outbound] // 1000
        for outcome in outcomes:
            if pick < outcome[3]:
                break
            pick -= outcome[3]
        core.outcome_status, core.end_reason, core.connected, _ = outcome
        queue_s = (u_queue % 90) if outbound else 0
        ring_s = 1 + (u_ring % 25 if outbound else u_ring % 8)
        core.queue_end_us = created_us + queue_s * US
        core.connect_us = core.queue_end_us + ring_s * US
        if core.connected:
            core.duration = _DURATION_TABLE[u_duration]
            if core.end_reason == "voicemail_left":
                core.duration = 15 + core.duration % 40
        else:
            core.duration = 0
            core.connect_us += 20 * US if outbound else 0
        core.end_us = core.connect_us + core.duration * US
        core.dynamic_variables = _dynamic_variables(u_dyn, created_us // DAY_US, self._fmt.day_text)
        core.recording = None
        if core.connected and u_recording >= 4:
            expires = core.end_us // US + 7 * 86400
            core.recording = f"https://recordings.diga.example/rec/{call_id}.mp3?exp={expires}&sig={u_sig:016x}"
        return core

    def status(self, core: CallCore, now: int) -> str:
        """The call's status at ``now`` in this world's status model."""
        current = self._current
        if now >= core.end_us:
            return "completed" if current else core.outcome_status
        if now < core.queue_end_us or (core.call_type == "inbound" and now < core.connect_us):
            return "in_queue" if current else "dialing"
        if now < core.connect_us:
            return "dialing"
        return "in_progress"

    def record(self, core: CallCore, now: int) -> dict[str, Any]:
        """The call as the API serves it at ``now``: unfinished calls have no outcome yet."""
        variant = core.variant
        fmt = self._fmt
        ended = now >= core.end_us
        status = self.status(core, now)
        started = ended or status == "in_progress"
        contact_id, contact_created, identifier, contact_type = core.contact
        record: dict[str, Any] = {
            "id": core.id,
            "agent_id": core.agent_id,
            "agent_version_id": core.version_id,
            "status": status,
            "recording_url": core.recording if ended else None,
            "start_time": fmt(core.connect_us, variant) if started else None,
            "end_time": fmt(core.end_us, variant) if ended else None,
            "duration": core.duration if ended else None,
            "type": core.call_type,
            "end_reason": core.end_reason if ended else None,
            "contact": {
                "id": contact_id,
                "created_date": fmt(contact_created, variant),
                "identifier": identifier,
                "contact_type": contact_type,
            },
            "phone_register_id": core.phone_id,
            "dynamic_variables": core.dynamic_variables,
            "created_date": fmt(core.created_us, variant),
        }
        if self._current:
            # A field the published spec does not name: clients must keep unknown fields.
            rate = 9 if core.call_type == "outbound" else (3 if contact_type == "web" else 6)
            record["cost_cents"] = -(-core.duration // 60) * rate if ended else 0
        return record

    def field(self, core: CallCore, name: str, now: int) -> Any:
        """The value a list filter ``name`` compares for a generated call at ``now``."""
        if name == "agent_id":
            return core.agent_id
        if name == "status":
            return self.status(core, now)
        if name == "type":
            return core.call_type
        if name == "contact_id":
            return core.contact[0]
        if name == "phone_id":
            return core.phone_id
        return None


def planted_call_field(record: dict[str, Any], name: str) -> Any:
    """The value a list filter ``name`` compares for a planted call (ids in canonical form)."""
    if name == "contact_id":
        contact = record.get("contact")
        return canonical_uuid(contact.get("id")) if isinstance(contact, dict) else None
    if name == "phone_id":
        return canonical_uuid(record.get("phone_register_id"))
    if name == "agent_id":
        return canonical_uuid(record.get("agent_id"))
    return record.get(name)


def _dynamic_variables(draw: int, day: int, day_text: Callable[[int], str]) -> dict[str, Any] | None:
    kind, rest = divmod(draw, 256)
    if kind == 0:
        return None
    name = _FIRST_NAMES[rest % len(_FIRST_NAMES)]
    if kind == 1:
        appointment = day_text(day + 1 + rest % 9)
        return {"customer_name": name, "appointment_date": appointment, "clinic": _CLINICS[rest % 4]}
    if kind == 2:
        return {"customer_name": name, "campaign": _CAMPAIGNS[rest % 4], "customer_id": 10_000 + rest * 37}
    return {"order_id": f"PED-{rest * 7919 % 100_000:05d}", "amount_eur": round(9.9 + rest * 0.35, 2)}
