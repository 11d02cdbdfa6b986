"""The company's phone numbers: their life cycle, their snapshot at any instant, and their listing.

A phone's whole life (reserved, maybe verified, assigned, maybe scheduled for release, released,
finished) is drawn once as a :class:`PhoneSpec`; what the API serves at an instant is derived
from it, so moving the clock moves phones through their life cycle without storing any state.
Which agents answer a phone changes every few days, drawn per (phone, period) on demand.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import orjson

from diga_assets.simulator.company import Agent, StatusModel, seeded_random
from diga_assets.simulator.instants import (
    DAY_US,
    HOUR_US,
    MINUTE_US,
    N_SPELLINGS,
    US,
    canonical_uuid,
    format_instant,
    parse_instant_us,
    uuid_from_int,
)
from diga_assets.simulator.listing import ListQuery, Match, Page, locate_cursor, select_page

# The life-cycle stages the published spec names, and the providers a number comes from.
SEED_PHONE_STATUSES: tuple[str, ...] = ("reserved", "assigned", "released", "finished")
TELEPHONY_PROVIDERS: tuple[str, ...] = ("netelip", "custom")
# Imported (custom) numbers are verified before they are assigned in the newer API.
CURRENT_PHONE_EXTRA_STATUSES: tuple[str, ...] = ("pending_verification",)

_NICKNAMES = (
    "Recepción Madrid",
    "Soporte",
    "Ventas outbound",
    "Citas Valencia",
    "Línea principal",
    "Campaña renovaciones",
    "Atención 24h",
)

# The first roles guarantee that a small world already has every life-cycle stage and that
# something changes within a day of the initial clock.
_ROLES = (
    "stable",
    "release_soon",
    "reserve_soon",
    "finish_soon",
    "new_past",
    "stable",
    "release_past",
    "reserve_future",
    "stable",
    "finished_long_ago",
    "stable",
    "new_past",
)


@dataclass(frozen=True)
class PhoneSpec:
    """The whole life of one phone register; its snapshot at any instant is derived from this."""

    index: int
    id: str
    number: str
    nickname: str | None
    provider: str
    reserved_us: int
    verify_us: int | None
    assigned_us: int
    schedule_set_us: int | None
    release_us: int | None
    variant: int
    region_codes: tuple[str, ...]
    sip_config: dict[str, Any] | None
    checkout_token: str
    period_us: int
    period_offset_us: int
    outbound_share: int

    @property
    def finished_us(self) -> int | None:
        """When a released number stops being blocked; None while it is not released."""
        # Released numbers stay blocked for 30 days before they can be bought again.
        return None if self.release_us is None else self.release_us + 30 * DAY_US


def build_phones(rng: random.Random, count: int, t0_us: int, window_start_us: int) -> tuple[PhoneSpec, ...]:
    """The lives of ``count`` phones around the initial clock ``t0_us``."""
    t0, ws = t0_us, window_start_us
    window = max(t0 - ws, DAY_US)
    specs = []
    for index in range(count):
        role = _ROLES[index] if index < len(_ROLES) else rng.choice(["stable"] * 4 + ["new_past", "release_past"])
        # Role-bound providers: an imported number awaits verification at the initial clock
        # and a purchased one is reserved later (with a checkout link in the newer API).
        if role in ("release_soon", "reserve_soon"):
            provider = "custom"
        elif role == "reserve_future" or index == 0:
            provider = "netelip"
        else:
            provider = "custom" if rng.random() < 0.3 else "netelip"
        schedule_set = release = None
        if role == "reserve_soon":
            reserved = t0 - rng.randint(1, 6) * HOUR_US
            assigned = t0 + rng.randint(2, 18) * HOUR_US
        elif role == "reserve_future":
            reserved = t0 + rng.randint(2, 8) * DAY_US + rng.randrange(DAY_US)
            assigned = reserved + rng.randint(2, 30) * HOUR_US
        elif role == "new_past":
            reserved = ws + int(rng.uniform(0.05, 0.7) * window)
            assigned = reserved + rng.randint(2, 30) * HOUR_US
        else:
            reserved = ws - rng.randint(60, 400) * DAY_US - rng.randrange(DAY_US)
            assigned = reserved + rng.randint(1, 48) * HOUR_US
        if role == "release_soon":
            release = t0 + rng.randint(2, 20) * HOUR_US
            schedule_set = t0 - rng.randint(1, 5) * DAY_US
        elif role == "finish_soon":
            release = t0 - 30 * DAY_US + rng.randint(1, 20) * HOUR_US
            schedule_set = release - rng.randint(3, 10) * DAY_US
        elif role == "release_past":
            release = ws + int(rng.uniform(0.3, 0.8) * window)
            schedule_set = release - rng.randint(2, 10) * DAY_US
        elif role == "finished_long_ago":
            release = ws - rng.randint(40, 90) * DAY_US
            schedule_set = release - rng.randint(2, 10) * DAY_US
        verify = reserved + 30 * MINUTE_US if provider == "custom" else None
        if provider == "netelip":
            number = "+34" + rng.choice(["91", "93", "96", "95"]) + f"{rng.randrange(10**7):07d}"
        else:
            number = rng.choice(["+3490", "+3484", "+4420"]) + f"{rng.randrange(10**7):07d}"
        sip = None
        if provider == "custom":
            sip = {
                "host": f"sip{index}.pbx.example.net",
                "port": 5060,
                "transport": rng.choice(["udp", "tcp", "tls"]),
                "username": f"diga-{rng.randrange(10**6):06d}",
            }
        regions = ("ES",) if number.startswith("+34") else ("GB",)
        if number.startswith(("+3491", "+3493")):
            regions += ("ES-M",) if number.startswith("+3491") else ("ES-B",)
        specs.append(
            PhoneSpec(
                index=index,
                id=uuid_from_int(rng.getrandbits(128)),
                number=number,
                nickname=rng.choice(_NICKNAMES) if rng.random() < 0.6 else None,
                provider=provider,
                reserved_us=reserved - reserved % US,
                verify_us=verify,
                assigned_us=assigned - assigned % US + rng.randrange(US) * rng.randint(0, 1),
                schedule_set_us=schedule_set,
                release_us=release,
                variant=rng.randrange(N_SPELLINGS),
                region_codes=regions,
                sip_config=sip,
                checkout_token=f"{rng.getrandbits(64):016x}",
                period_us=rng.randint(36, 120) * HOUR_US,
                period_offset_us=rng.randrange(DAY_US),
                outbound_share=rng.randint(0, 100),
            )
        )
    return tuple(specs)


def phone_status(phone: PhoneSpec, now: int, current: bool) -> str | None:
    """The phone's life-cycle stage at ``now``; None before it is reserved."""
    if now < phone.reserved_us:
        return None
    finished = phone.finished_us
    if now < phone.assigned_us:
        if current and phone.verify_us is not None and now >= phone.verify_us:
            return "pending_verification"
        return "reserved"
    if phone.release_us is None or now < phone.release_us:
        return "assigned"
    if finished is not None and now < finished:
        return "released"
    return "finished"


# A listed phone: (ordering instant, or None when a planted record's does not parse; the raw
# ordering text of such a record; id; record).
PhoneRow = tuple[int | None, str, str, dict[str, Any]]


class PhoneRegister:
    """The phones of one world, generated and planted, as the API serves them at an instant.

    Not thread-safe: :class:`~diga_assets.simulator.world.World` serializes access.
    """

    def __init__(
        self,
        seed: int,
        t0_us: int,
        window_start_us: int,
        count: int,
        agents: tuple[Agent, ...],
        status_model: StatusModel,
    ) -> None:
        self._seed = seed
        self._agents = agents
        self._current = status_model == "current"
        self.specs = build_phones(seeded_random(seed, "phones"), count, t0_us, window_start_us)
        self.planted: list[dict[str, Any]] = []
        self._agents_cache: dict[tuple[int, int], tuple[int | None, int | None]] = {}
        self._day_cache: dict[int, tuple[PhoneSpec, ...]] = {}

    def agents_at(self, phone: PhoneSpec, at_us: int) -> tuple[int | None, int | None]:
        """The (inbound, outbound) agent indexes of a phone during the period containing ``at_us``."""
        period = (at_us - phone.period_offset_us) // phone.period_us
        key = (phone.index, period)
        cached = self._agents_cache.get(key)
        if cached is None:
            rng = seeded_random(self._seed, "phone-agents", phone.index, period)
            inbound = rng.randrange(len(self._agents))
            outbound = rng.randrange(len(self._agents)) if rng.randrange(100) < phone.outbound_share else None
            cached = self._agents_cache[key] = (inbound, outbound)
        return cached

    def assigned_all_day(self, day: int) -> tuple[PhoneSpec, ...]:
        """The phones assigned from the first to the last microsecond of a UTC day."""
        cached = self._day_cache.get(day)
        if cached is None:
            start, end = day * DAY_US, (day + 1) * DAY_US - 1
            cached = tuple(
                p for p in self.specs if p.assigned_us <= start and (p.release_us is None or p.release_us > end)
            )
            self._day_cache[day] = cached
        return cached

    def add(self, record: dict[str, Any]) -> None:
        """Plant a raw phone, served exactly as given (see ``World.add_phone``)."""
        self.planted.append(record)

    def snapshot(self, phone: PhoneSpec, now: int) -> dict[str, Any] | None:
        """The phone's record as served at ``now``; None before it is reserved."""
        status = phone_status(phone, now, self._current)
        if status is None:
            return None
        variant = phone.variant

        def spell(value: int | None) -> str | None:
            return None if value is None else format_instant(value, variant)

        inbound = outbound = None
        if status == "assigned":
            inbound, outbound = self.agents_at(phone, now)
        scheduled = phone.release_us if phone.schedule_set_us is not None and now >= phone.schedule_set_us else None
        record: dict[str, Any] = {
            "id": phone.id,
            "nickname": phone.nickname,
            "number": phone.number,
            "telephony_provider": phone.provider,
            "status": status,
            "released_at": spell(phone.release_us if status in ("released", "finished") else None),
            "scheduled_release_at": spell(scheduled),
            "assigned_at": spell(phone.assigned_us if now >= phone.assigned_us else None),
            "inbound_agent_id": None if inbound is None else self._agents[inbound].id,
            "outbound_agent_id": None if outbound is None else self._agents[outbound].id,
        }
        if self._current:
            reserving = status in ("reserved", "pending_verification")
            record["reservation_expires_at"] = spell(phone.reserved_us + 48 * HOUR_US if reserving else None)
            record["region_codes"] = list(phone.region_codes)
            record["sip_config"] = dict(phone.sip_config) if phone.sip_config is not None else None
            record["checkout_url"] = (
                f"https://checkout.diga.example/session/{phone.checkout_token}"
                if reserving and phone.provider == "netelip"
                else None
            )
        return record

    def rows(self, now: int) -> list[PhoneRow]:
        """Visible phones, sorted by (ordering instant, id); unparseable planted ones last."""
        parsed: list[tuple[int, str, str, dict[str, Any]]] = []
        unparsed: list[tuple[str, str, dict[str, Any]]] = []
        for phone in self.specs:
            record = self.snapshot(phone, now)
            if record is not None:
                key = phone.assigned_us if now >= phone.assigned_us else phone.reserved_us
                parsed.append((key, "", phone.id, record))
        for record in self.planted:
            raw_id = record.get("id")
            phone_id = raw_id if isinstance(raw_id, str) else ("" if raw_id is None else str(raw_id))
            instant = parse_instant_us(record.get("assigned_at"))
            if instant is None:
                instant = parse_instant_us(record.get("created_date"))
            if instant is None:
                raw = record.get("assigned_at")
                unparsed.append(("" if raw is None else str(raw), phone_id, record))
            elif instant <= now:
                parsed.append((instant, "", phone_id, record))
        parsed.sort(key=lambda row: (row[0], row[2]))
        unparsed.sort(key=lambda row: (row[0], row[1]))
        rows: list[PhoneRow] = list(parsed)
        rows.extend((None, raw, phone_id, record) for raw, phone_id, record in unparsed)
        return rows

    def page(self, query: ListQuery, now: int) -> Page:
        """One page of phones for an already validated query (date bounds apply to assigned_at)."""
        rows = self.rows(now)

        def find(value: str) -> int | None:
            wanted = canonical_uuid(value) or value
            return next((i for i, row in enumerate(rows) if row[2] == value or row[2] == wanted), None)

        cursor = locate_cursor(query, find)
        match = phone_matcher(rows, query)
        positions, has_more, current_page, total_pages = select_page(query, 0, len(rows), match, cursor)
        data = [orjson.dumps(rows[p][3], option=orjson.OPT_NON_STR_KEYS) for p in positions]
        first = rows[positions[0]][3].get("id") if positions else None
        last = rows[positions[-1]][3].get("id") if positions else None
        return Page(data, first, last, has_more, current_page, total_pages)


def phone_matcher(rows: list[PhoneRow], query: ListQuery) -> Match | None:
    """Whether the row at a position passes the query's filters and ``assigned_at`` bounds."""
    wanted = dict(query.filters)
    start, end = query.start_us, query.end_us
    if not wanted and start is None and end is None:
        return None

    def match(pos: int) -> bool:
        record = rows[pos][3]
        for name, value in wanted.items():
            raw = record.get(name)
            if name.endswith("_id"):
                raw = canonical_uuid(raw)
            if raw != value:
                return False
        if start is not None or end is not None:
            assigned = parse_instant_us(record.get("assigned_at"))
            if assigned is None:
                return False
            if start is not None and assigned < start:
                return False
            if end is not None and assigned >= end:
                return False
        return True

    return match
