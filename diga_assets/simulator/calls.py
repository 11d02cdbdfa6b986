"""One generated call: its fields derived from a single random integer, and its record at an instant.

A world can hold hundreds of thousands of calls, so a call is stored as its creation instant, its
id and one random integer. :class:`CallSynthesizer` turns that integer into everything about the
call that does not depend on the clock (a :class:`CallCore`), and a core plus the clock into the
record the API serves: a call is dialing, then in progress, then finished with its outcome.

How a call ends depends on the status model:

- ``seed`` (the published pages): the outcome is the status (``completed``, ``failed``,
  ``transferred``, ``no_answer``), with the end reasons this model has always served.
- ``current`` (Diga's API now): every finished call is ``completed`` and the outcome is in
  ``end_reason``. The only codes Diga documents are those of voicemail and phone-menu detection,
  which runs on outbound calls only: ``voicemail_left``, ``answering_machine_detected``,
  ``mailbox_unavailable``, ``ivr_no_answer`` and ``ivr_unreachable``
  (:data:`DOCUMENTED_END_REASONS`). A machine or a menu answered, so those calls have a duration
  and a recording, counted from pickup. Diga's dashboard shows the other endings only as labels
  ("Customer hung up", "Agent finished", "Transferred") and their codes are not public, so the
  simulator uses codes it made up, prefixed ``sim_`` so that nobody takes them for Diga's
  (:data:`MADE_UP_END_REASONS`): ``sim_customer_hangup``, ``sim_agent_hangup``,
  ``sim_transferred``, ``sim_no_answer`` (an outbound call nobody picked up) and ``sim_error``.
  A client must not rely on them: against the real API those endings arrive under other codes.
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
# The end reasons Diga documents (voicemail and phone-menu detection, outbound calls only).
DOCUMENTED_END_REASONS: tuple[str, ...] = (
    "voicemail_left",
    "answering_machine_detected",
    "mailbox_unavailable",
    "ivr_no_answer",
    "ivr_unreachable",
)
# The simulator's own codes for endings whose real codes are not public (see the module docstring),
# with what each stands for, as an outcome map names outcomes: the demo maps them, so its rates
# count a transfer, a call nobody answered or an error as what it was.
MADE_UP_END_REASON_OUTCOMES: dict[str, str] = {
    "sim_customer_hangup": "completed",
    "sim_agent_hangup": "completed",
    "sim_transferred": "transferred",
    "sim_no_answer": "no_answer",
    "sim_error": "failed",
}
MADE_UP_END_REASONS: tuple[str, ...] = tuple(MADE_UP_END_REASON_OUTCOMES)
CURRENT_END_REASONS: tuple[str, ...] = DOCUMENTED_END_REASONS + MADE_UP_END_REASONS

# Call outcomes: (seed-model status, end_reason, connected?, weight). The seed model's end
# reasons are kept as they have always been served: its pages are pinned byte for byte.
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
# The current model's outcomes, in the same shape (every one is "completed"). A caller reaches the
# agent itself, so voicemail and menus only happen when the agent calls out. Weights per 1000.
CURRENT_INBOUND_OUTCOMES: tuple[_Outcome, ...] = (
    ("completed", "sim_customer_hangup", True, 570),
    ("completed", "sim_agent_hangup", True, 260),
    ("completed", "sim_transferred", True, 110),
    ("completed", "sim_error", False, 60),
)
CURRENT_OUTBOUND_OUTCOMES: tuple[_Outcome, ...] = (
    ("completed", "sim_customer_hangup", True, 380),
    ("completed", "sim_agent_hangup", True, 150),
    ("completed", "sim_transferred", True, 60),
    ("completed", "sim_no_answer", False, 110),
    ("completed", "sim_error", False, 30),
    ("completed", "voicemail_left", True, 80),
    ("completed", "answering_machine_detected", True, 60),
    ("completed", "mailbox_unavailable", True, 40),
    ("completed", "ivr_no_answer", True, 50),
    ("completed", "ivr_unreachable", True, 40),
)
# Seconds from pickup for the documented endings: (shortest, spread). A machine greets and the
# agent leaves a message or hangs up; an "unavailable line" is the network's recorded notice; a
# menu is navigated before it leads nowhere. Answered time is billed, so none of them is zero.
_DETECTION_SECONDS: dict[str, tuple[int, int]] = {
    "voicemail_left": (15, 40),
    "answering_machine_detected": (3, 10),
    "mailbox_unavailable": (4, 12),
    "ivr_no_answer": (20, 70),
    "ivr_unreachable": (30, 90),
}

_OUTCOMES: dict[tuple[bool, bool], tuple[_Outcome, ...]] = {
    # (current model?, outbound?) -> the outcomes to draw from
    (False, False): _INBOUND_OUTCOMES,
    (False, True): _OUTBOUND_OUTCOMES,
    (True, False): CURRENT_INBOUND_OUTCOMES,
    (True, True): CURRENT_OUTBOUND_OUTCOMES,
}
_OUTCOME_TOTALS = {key: sum(o[3] for o in outcomes) for key, outcomes in _OUTCOMES.items()}

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

        key = (self._current, outbound)
        pick = u_outcome * _OUTCOME_TOTALS[key] // 1000
        for outcome in _OUTCOMES[key]:
            if pick < outcome[3]:
                break
            pick -= outcome[3]
        core.outcome_status, core.end_reason, core.connected, _ = outcome
        queue_s = (u_queue % 90) if outbound else 0
        ring_s = 1 + (u_ring % 25 if outbound else u_ring % 8)
        core.queue_end_us = created_us + queue_s * US
        core.connect_us = core.queue_end_us + ring_s * US
        detection = _DETECTION_SECONDS.get(core.end_reason) if self._current else None
        if detection is not None:
            shortest, spread = detection
            core.duration = shortest + u_duration % spread
        elif core.connected:
            core.duration = _DURATION_TABLE[u_duration]
            if core.end_reason == "voicemail_left":
                core.duration = 15 + core.duration % 40
        else:
            core.duration = 0
            core.connect_us += 20 * US if outbound else 0
        core.end_us = core.connect_us + core.duration * US
        core.dynamic_variables = _dynamic_variables(u_dyn, created_us // DAY_US, self._fmt.day_text)
        core.recording = None
        # A detected machine or menu is always recorded from pickup; a conversation almost always.
        if detection is not None or (core.connected and u_recording >= 4):
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
        return {
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
