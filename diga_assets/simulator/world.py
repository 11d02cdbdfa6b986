"""A deterministic synthetic company behind the simulated Diga API.

The world is a pure function of ``(seed, now, sizes)``: two worlds built with the same arguments
serve byte-identical pages, so tests can assert exact results and a demo can be replayed. Time is
part of the model: the world has a clock, calls appear once they are created, end a few minutes
later, and phones move through their life cycle as the clock advances.

Calls are the bulk (a benchmark world holds 300,000 of them), so only their sort keys are built
up front: a sorted ``array`` of creation instants (integer microseconds since the epoch), the ids
in the same order and one random integer per call. Every other field is derived from that integer
on demand, and the encoded JSON of a call whose status can no longer change is cached.
"""

from __future__ import annotations

import math
import statistics
import threading
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from diga_assets.api.spec import CALLS_PATH, PHONES_PATH, enum_values
from diga_assets.simulator.company import Agent, AgentVersion, Company, StatusModel, seeded_random
from diga_assets.simulator.instants import (
    DAY_US,
    HOUR_US,
    N_SPELLINGS,
    ONE_US,
    US,
    InstantFormatter,
    canonical_uuid,
    format_instant,
    from_us,
    madrid_offset_us,
    parse_instant_us,
    to_us,
    uuid_from_hex,
    uuid_from_int,
)
from diga_assets.simulator.listing import ListQuery, Page, UnknownCursorError, locate_cursor, select_page
from diga_assets.simulator.phones import (
    CURRENT_PHONE_EXTRA_STATUSES,
    SEED_PHONE_STATUSES,
    TELEPHONY_PROVIDERS,
    PhoneRegister,
    PhoneSpec,
)

__all__ = [
    "CURRENT_CALL_STATUSES",
    "CURRENT_END_REASONS",
    "CURRENT_MODEL_ENUM_ADDITIONS",
    "CURRENT_PHONE_EXTRA_STATUSES",
    "Agent",
    "AgentVersion",
    "ListQuery",
    "Page",
    "StatusModel",
    "UnknownCursorError",
    "World",
    "parse_instant_us",
]

# The newer Diga API (status model "current") reports every finished call as ``completed`` and
# moves the outcome to ``end_reason``; calls waiting for a line are ``in_queue``.
CURRENT_CALL_STATUSES: tuple[str, ...] = ("dialing", "in_queue", "in_progress", "completed")
# Enum values the newer API adds on top of the published spec, keyed by the spec's schema name.
CURRENT_MODEL_ENUM_ADDITIONS: Mapping[str, tuple[str, ...]] = {
    "CallStatus": ("in_queue",),
    "PhoneRegisterStatus": CURRENT_PHONE_EXTRA_STATUSES,
}
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

_MASK64 = (1 << 64) - 1

# Relative call volume per local (Europe/Madrid) hour: quiet nights, a mid-morning peak, the
# Spanish lunch dip and a second peak in the afternoon.
_HOURLY_WEIGHTS: tuple[float, ...] = (
    0.30, 0.15, 0.10, 0.08, 0.08, 0.15, 0.40, 1.20, 3.00, 5.50, 7.00, 7.20,
    6.00, 4.50, 3.20, 4.00, 5.80, 6.20, 5.20, 3.60, 2.20, 1.40, 0.90, 0.50,
)  # fmt: skip
# Monday..Sunday; the mean is 1 so ``calls_per_day`` stays the average daily volume.
_WEEKDAY_FACTORS: tuple[float, ...] = (1.12, 1.15, 1.13, 1.12, 1.08, 0.75, 0.65)

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

_FIRST_NAMES = ("Lucía", "Hugo", "Martina", "Mateo", "Sofía", "Leo", "Julia", "Daniel", "Paula", "Álvaro")
_CLINICS = ("Madrid Centro", "Valencia Ruzafa", "Sevilla Triana", "Bilbao Abando")
_CAMPAIGNS = ("renovacion-2024", "encuesta-satisfaccion", "recordatorio-cita", "impagos-q2")

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


# ----------------------------------------------------------------------------------------------
# Calls: the derived part


class _CallCore:
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


# ----------------------------------------------------------------------------------------------
# The world


class World:
    """A synthetic company whose calls and phones are a deterministic function of seed and clock.

    ``now`` defaults to the current UTC time truncated to the minute, so a demo can backfill real
    dates; tests pass a fixed ``now``. The world holds calls created during the ``days`` days
    before ``now`` and keeps generating new ones as the clock advances. ``encoded_cache_size``
    bounds how many finished calls keep their encoded JSON; the default covers a 30 x 10,000
    benchmark world.
    """

    def __init__(
        self,
        seed: int = 7,
        now: datetime | None = None,
        days: int = 30,
        calls_per_day: int = 200,
        status_model: StatusModel = "seed",
        phones: int = 12,
        agents: int = 4,
        encoded_cache_size: int = 300_000,
    ) -> None:
        if status_model not in ("seed", "current"):
            raise ValueError(f"status_model must be 'seed' or 'current', got {status_model!r}")
        if days < 0 or calls_per_day < 0 or phones < 0 or agents < 1:
            raise ValueError("days, calls_per_day and phones must be >= 0 and agents >= 1")
        if now is None:
            now = datetime.now(UTC).replace(second=0, microsecond=0)
        self.seed = seed
        self.days = days
        self.calls_per_day = calls_per_day
        self.status_model: StatusModel = status_model
        self._lock = threading.RLock()
        self._now_us = to_us(now)
        self._t0_us = self._now_us
        self._window_start_us = self._now_us - days * DAY_US
        self._encoded_cache_size = encoded_cache_size
        self._fmt = InstantFormatter()
        self._check_statuses_against_spec()

        contacts = max(20, min(5000, days * calls_per_day // 6))
        self._company = Company(seed, self._t0_us, self._window_start_us, agents, contacts)
        self._phones = PhoneRegister(
            seed, self._t0_us, self._window_start_us, phones, self._company.agents, status_model
        )

        # Calls with a parseable created_date, sorted by (created instant, id).
        self._ts: array[int] = array("q")
        self._ids: list[str] = []
        self._items: list[int | dict[str, Any]] = []
        self._ts_by_id: dict[str, int] = {}
        # Planted calls whose created_date does not parse: served last, by (raw text, id).
        self._unparsed_calls: list[tuple[str, str, dict[str, Any]]] = []
        self._planted_calls = 0
        self._encoded: dict[str, bytes] = {}
        self._generated_through_day = self._window_start_us // DAY_US - 1
        self._generate_through(self._now_us)

    # -- clock -------------------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        """The world's clock; records created after it are not visible yet."""
        with self._lock:
            return from_us(self._now_us)

    @property
    def now_us(self) -> int:
        """The clock as integer microseconds since the epoch."""
        with self._lock:
            return self._now_us

    @property
    def window_start(self) -> datetime:
        """The earliest instant a generated call can have been created."""
        return from_us(self._window_start_us)

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward (never back: served data must not un-happen)."""
        if delta < timedelta(0):
            raise ValueError(f"the clock only moves forward, got {delta}")
        with self._lock:
            self._now_us += delta // ONE_US
            self._generate_through(self._now_us)
            return from_us(self._now_us)

    # -- stable parts --------------------------------------------------------------------------

    @property
    def agents(self) -> tuple[Agent, ...]:
        """The company's agents and their versions."""
        return self._company.agents

    @property
    def phone_ids(self) -> tuple[str, ...]:
        """Ids of every generated phone, including ones not reserved yet at ``now``."""
        return tuple(p.id for p in self._phones.specs)

    def call_statuses(self) -> frozenset[str]:
        """The call statuses this world's status model can serve."""
        if self.status_model == "current":
            return frozenset(CURRENT_CALL_STATUSES)
        return enum_values(CALLS_PATH, "CallStatus")

    def phone_statuses(self) -> frozenset[str]:
        """The phone statuses this world's status model can serve."""
        base = enum_values(PHONES_PATH, "PhoneRegisterStatus")
        if self.status_model == "current":
            return base | frozenset(CURRENT_PHONE_EXTRA_STATUSES)
        return base

    # -- planting ------------------------------------------------------------------------------

    def add_call(self, record: dict[str, Any]) -> None:
        """Plant a raw call, served exactly as given (it may break the spec on purpose).

        It is ordered and date-filtered by its ``created_date`` when that parses; otherwise it is
        served after every other call, ordered by the raw text, and never matches a date filter.
        """
        raw_id = record.get("id")
        call_id = raw_id if isinstance(raw_id, str) else ("" if raw_id is None else str(raw_id))
        created = record.get("created_date")
        created_us = parse_instant_us(created)
        with self._lock:
            self._planted_calls += 1
            self._encoded.pop(call_id, None)
            if created_us is None:
                raw = created if isinstance(created, str) else ("" if created is None else repr(created))
                entry = (raw, call_id, record)
                keys = [(r, i) for r, i, _ in self._unparsed_calls]
                self._unparsed_calls.insert(bisect_right(keys, (raw, call_id)), entry)
                self._ts_by_id.pop(call_id, None)
                return
            self._insert_call(created_us, call_id, record)

    def add_phone(self, record: dict[str, Any]) -> None:
        """Plant a raw phone, served exactly as given.

        It is ordered by ``assigned_at`` (else ``created_date``) when that parses, and visible once
        the clock has reached that instant; otherwise it is always visible and served last.
        """
        with self._lock:
            self._phones.add(record)

    # -- views used by tests -------------------------------------------------------------------

    def calls_visible(self) -> list[dict[str, Any]]:
        """Every visible call as it would be served now, by (created instant, id) ascending."""
        with self._lock:
            return [self._call_record(pos) for pos in range(self._visible_count())]

    def calls_created_between(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Visible calls created in the half-open interval ``[start, end)``, ascending."""
        with self._lock:
            vis = bisect_right(self._ts, self._now_us)
            lo = bisect_left(self._ts, to_us(start), 0, vis)
            hi = bisect_left(self._ts, to_us(end), 0, vis)
            return [self._call_record(pos) for pos in range(lo, max(lo, hi))]

    def phones_visible(self) -> list[dict[str, Any]]:
        """Every visible phone as it would be served now, by (ordering instant, id) ascending."""
        with self._lock:
            return [record for _, _, _, record in self._phones.rows(self._now_us)]

    def visible_call_count(self) -> int:
        """How many calls a full listing would return now."""
        with self._lock:
            return self._visible_count()

    # -- listing (used by the HTTP layer) ------------------------------------------------------

    def list_calls(self, query: ListQuery) -> Page:
        """One page of calls for an already validated query."""
        with self._lock:
            now = self._now_us
            vis = bisect_right(self._ts, now)
            total = vis + len(self._unparsed_calls)
            lo, hi = 0, total
            if query.start_us is not None:
                lo = bisect_left(self._ts, query.start_us, 0, vis)
                hi = vis
            if query.end_us is not None:
                hi = bisect_left(self._ts, query.end_us, 0, vis)
            cursor = locate_cursor(query, lambda value: self._call_position(value, vis))
            match = self._call_matcher(query.filters) if query.filters else None
            positions, has_more, current_page, total_pages = select_page(query, lo, hi, match, cursor)
            data = [self._encoded_call(pos, vis) for pos in positions]
            first_id = self._call_id_at(positions[0], vis) if positions else None
            last_id = self._call_id_at(positions[-1], vis) if positions else None
        return Page(
            data=data,
            first_id=first_id,
            last_id=last_id,
            has_more=has_more,
            current_page=current_page,
            total_pages=total_pages,
        )

    def list_phones(self, query: ListQuery) -> Page:
        """One page of phones for an already validated query (date bounds apply to assigned_at)."""
        with self._lock:
            return self._phones.page(query, self._now_us)

    def state(self) -> dict[str, Any]:
        """A summary for the admin endpoint and for humans running a demo."""
        with self._lock:
            return {
                "now": format_instant(self._now_us, 0),
                "seed": self.seed,
                "status_model": self.status_model,
                "window_start": format_instant(self._window_start_us, 0),
                "calls_visible": self._visible_count(),
                "phones_visible": len(self._phones.rows(self._now_us)),
                "planted_calls": self._planted_calls,
                "planted_phones": len(self._phones.planted),
            }

    # -- construction --------------------------------------------------------------------------

    def _check_statuses_against_spec(self) -> None:
        """Fail fast if the values this module generates drift from the published enums."""
        generated = {
            (CALLS_PATH, "CallStatus"): {o[0] for o in (*_INBOUND_OUTCOMES, *_OUTBOUND_OUTCOMES)}
            | {"dialing", "in_progress"},
            (CALLS_PATH, "CallType"): {"inbound", "outbound"},
            (CALLS_PATH, "Channel"): {"call", "web"},
            (PHONES_PATH, "PhoneRegisterStatus"): set(SEED_PHONE_STATUSES),
            (PHONES_PATH, "TelephonyProvider"): set(TELEPHONY_PROVIDERS),
        }
        for (path, name), values in generated.items():
            unknown = values - enum_values(path, name)
            if unknown:
                raise AssertionError(f"generated {name} values {sorted(unknown)} are not in the spec")

    def _generate_through(self, until_us: int) -> None:
        last_day = until_us // DAY_US
        while self._generated_through_day < last_day:
            self._generated_through_day += 1
            self._append_day(self._generated_through_day)

    def _append_day(self, day: int) -> None:
        chunk = self._day_calls(day)
        if not chunk:
            return
        day_start = day * DAY_US
        cut = bisect_left(self._ts, day_start)
        # Planted calls created in the future sit at the tail; lift them out and re-insert.
        tail = []
        if cut < len(self._ts):
            tail = list(zip(self._ts[cut:], self._ids[cut:], self._items[cut:], strict=True))
            del self._ts[cut:]
            del self._ids[cut:]
            del self._items[cut:]
        stamps, ids, items = zip(*chunk, strict=True)
        self._ts.extend(stamps)
        self._ids.extend(ids)
        self._items.extend(items)
        self._ts_by_id.update(zip(ids, stamps, strict=True))
        for ts, cid, item in tail:
            self._insert_call(ts, cid, item)

    def _day_calls(self, day: int) -> list[tuple[int, str, int]]:
        """The generated calls of one UTC day, sorted; a function of (seed, day) only."""
        rng = seeded_random(self.seed, "calls", day)
        day_start = day * DAY_US
        offset_hours = madrid_offset_us(day_start + 12 * HOUR_US) // HOUR_US
        local_weekday = from_us(day_start + 12 * HOUR_US).weekday()
        count = round(self.calls_per_day * _WEEKDAY_FACTORS[local_weekday] * rng.uniform(0.92, 1.08))
        weights = [_HOURLY_WEIGHTS[(hour + offset_hours) % 24] for hour in range(24)]
        hours = rng.choices(range(24), weights=weights, k=count)
        getrandbits = rng.getrandbits
        hexes = rng.randbytes(16 * (count + 2)).hex()
        calls = []
        for index, hour in enumerate(hours):
            draw = getrandbits(33)
            ts = day_start + hour * HOUR_US + ((draw >> 1) * HOUR_US >> 32)
            if draw & 1:
                ts -= ts % US
            calls.append((ts, uuid_from_hex(hexes, index), getrandbits(320)))
        # A handful of calls at exactly midnight UTC (two on some days, sharing the instant), so
        # boundary and tie-break cases exist without planting anything.
        if self.calls_per_day and day % 2 == 0:
            for extra in range(2 if day % 4 == 0 else 1):
                calls.append((day_start, uuid_from_hex(hexes, count + extra), getrandbits(320)))
        if day_start < self._window_start_us:
            calls = [c for c in calls if c[0] >= self._window_start_us]
        calls.sort()
        return calls

    # -- call internals ------------------------------------------------------------------------

    def _insert_call(self, created_us: int, call_id: str, item: int | dict[str, Any]) -> None:
        pos = bisect_right(self._ts, created_us)
        while pos > 0 and self._ts[pos - 1] == created_us and self._ids[pos - 1] > call_id:
            pos -= 1
        self._ts.insert(pos, created_us)
        self._ids.insert(pos, call_id)
        self._items.insert(pos, item)
        self._ts_by_id[call_id] = created_us

    def _visible_count(self) -> int:
        return bisect_right(self._ts, self._now_us) + len(self._unparsed_calls)

    def _call_position(self, value: str, vis: int) -> int | None:
        for candidate in dict.fromkeys((value, canonical_uuid(value))):
            if candidate is None:
                continue
            ts = self._ts_by_id.get(candidate)
            if ts is not None:
                pos = bisect_left(self._ts, ts, 0, vis)
                while pos < vis and self._ts[pos] == ts:
                    if self._ids[pos] == candidate:
                        return pos
                    pos += 1
            for index, (_, call_id, _) in enumerate(self._unparsed_calls):
                if call_id == candidate:
                    return vis + index
        return None

    def _call_id_at(self, pos: int, vis: int) -> Any:
        if pos >= vis:
            return self._unparsed_calls[pos - vis][2].get("id")
        item = self._items[pos]
        return item.get("id") if isinstance(item, dict) else self._ids[pos]

    def _item_at(self, pos: int, vis: int) -> int | dict[str, Any]:
        return self._unparsed_calls[pos - vis][2] if pos >= vis else self._items[pos]

    def _call_record(self, pos: int) -> dict[str, Any]:
        vis = bisect_right(self._ts, self._now_us)
        item = self._item_at(pos, vis)
        if isinstance(item, dict):
            return item
        return self._materialize(self._core(self._ts[pos], self._ids[pos], item))

    def _encoded_call(self, pos: int, vis: int) -> bytes:
        item = self._item_at(pos, vis)
        if isinstance(item, dict):
            return orjson.dumps(item, option=orjson.OPT_NON_STR_KEYS)
        call_id = self._ids[pos]
        cached = self._encoded.get(call_id)
        if cached is not None:
            return cached
        core = self._core(self._ts[pos], call_id, item)
        encoded = orjson.dumps(self._materialize(core))
        if core.end_us <= self._now_us and len(self._encoded) < self._encoded_cache_size:
            # Finished calls never change again, so their bytes can be reused. orjson's result
            # keeps a large buffer behind it; an exact-size copy makes caching far cheaper. When
            # the cache is full it stops growing instead of evicting: a client walking the whole
            # listing again then still hits the first ``encoded_cache_size`` calls.
            encoded = memoryview(encoded).tobytes()
            self._encoded[call_id] = encoded
        return encoded

    def _core(self, created_us: int, call_id: str, bits: int) -> _CallCore:
        """Derive a generated call's clock-independent fields from its random integer."""
        core = _CallCore()
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

    def _status_now(self, core: _CallCore) -> str:
        now = self._now_us
        current = self.status_model == "current"
        if now >= core.end_us:
            return "completed" if current else core.outcome_status
        if now < core.queue_end_us or (core.call_type == "inbound" and now < core.connect_us):
            return "in_queue" if current else "dialing"
        if now < core.connect_us:
            return "dialing"
        return "in_progress"

    def _materialize(self, core: _CallCore) -> dict[str, Any]:
        now = self._now_us
        variant = core.variant
        fmt = self._fmt
        ended = now >= core.end_us
        status = self._status_now(core)
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
        if self.status_model == "current":
            # A field the published spec does not name: clients must keep unknown fields.
            rate = 9 if core.call_type == "outbound" else (3 if contact_type == "web" else 6)
            record["cost_cents"] = -(-core.duration // 60) * rate if ended else 0
        return record

    def _call_matcher(self, filters: Mapping[str, str]) -> Callable[[int], bool]:
        vis = bisect_right(self._ts, self._now_us)
        wanted = dict(filters)

        def generated_fields(core: _CallCore, name: str) -> Any:
            if name == "agent_id":
                return core.agent_id
            if name == "status":
                return self._status_now(core)
            if name == "type":
                return core.call_type
            if name == "contact_id":
                return core.contact[0]
            if name == "phone_id":
                return core.phone_id
            return None

        def match(pos: int) -> bool:
            item = self._item_at(pos, vis)
            if isinstance(item, dict):
                return all(_planted_call_field(item, name) == value for name, value in wanted.items())
            core = self._core(self._ts[pos], self._ids[pos], item)
            return all(generated_fields(core, name) == value for name, value in wanted.items())

        return match


# ----------------------------------------------------------------------------------------------
# Helpers


def _planted_call_field(record: dict[str, Any], name: str) -> Any:
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
