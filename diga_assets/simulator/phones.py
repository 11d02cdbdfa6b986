"""The company's phone numbers: their life cycle, their snapshot at any instant, and their listing.

A phone's whole life (reserved, assigned, maybe scheduled for release, released, finished) is
drawn once as a :class:`PhoneSpec`; what the API serves at an instant is derived from it, so
moving the clock moves phones through their life cycle without storing any state. Which agents
answer a phone changes every few days, drawn per (phone, period) on demand.

The ``current`` status model serves the live document's phone (PhoneRegisterResponseSchema),
from a :class:`LivePhone` drawn per phone from its own stream, so the ``seed`` model's pages stay
as they were:

- a purchased number (``netelip``) is ``reserved`` while its checkout is open, with a
  ``checkout_url`` and a ``reservation_expires_at``, and only then; some purchases are paid and
  then wait in ``pending_verification`` for the company's verification before they are assigned;
- an imported number (``custom``) has no checkout: it is listed from the moment it is assigned,
  carries its SIP trunk's ``sip_config`` and may be a SIP identifier instead of a phone number;
- ``region_codes`` are the Spanish regions of a landline's prefix (empty for mobiles,
  non-geographic and foreign numbers, and SIP identifiers).
"""

from __future__ import annotations

import random
from collections.abc import Callable
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

# The life-cycle stages the published page names, and the providers a number comes from.
SEED_PHONE_STATUSES: tuple[str, ...] = ("reserved", "assigned", "released", "finished")
TELEPHONY_PROVIDERS: tuple[str, ...] = ("netelip", "custom")
# The stage the live API adds: a purchased number, paid, waiting for the company's verification.
CURRENT_PHONE_EXTRA_STATUSES: tuple[str, ...] = ("pending_verification",)
SIP_MEDIA_ENCRYPTIONS: tuple[str, ...] = ("disable", "allow", "require")
# How long a purchase holds its number in checkout: longer than any generated checkout stays open.
RESERVATION_HOLD_US = 48 * HOUR_US

# Spanish region codes (ISO 3166-2:ES, without "ES-") of the landline prefixes the simulator
# generates, keyed by the digits after +34. Ceuta and Melilla share their prefixes with Cádiz
# and Málaga, so those map to two regions. A prefix not listed maps to none: mobiles (6, 7),
# non-geographic numbers (80x, 90x) and anything the simulator never generates.
_REGIONS_BY_PREFIX: dict[str, tuple[str, ...]] = {
    "91": ("MD",),
    "93": ("CT",),
    "950": ("AN",), "951": ("AN",), "952": ("AN", "ML"), "953": ("AN",), "954": ("AN",),
    "955": ("AN",), "956": ("AN", "CE"), "957": ("AN",), "958": ("AN",), "959": ("AN",),
    "960": ("VC",), "961": ("VC",), "962": ("VC",), "963": ("VC",), "964": ("VC",),
    "965": ("VC",), "966": ("VC",), "967": ("CM",), "968": ("MC",), "969": ("CM",),
    "841": ("RI",), "842": ("CB",), "843": ("PV",), "844": ("PV",), "845": ("PV",),
    "846": ("PV",), "847": ("CL",), "848": ("NC",), "849": ("CM",),
}  # fmt: skip

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
class LivePhone:
    """What the ``current`` model serves of a phone beyond, or instead of, the seed model's fields.

    ``paid_us`` is set for a purchase that was paid and then waited for verification until the
    phone was assigned; without it a purchase stays in checkout until it is assigned.
    """

    provider: str
    number: str
    paid_us: int | None
    checkout_url: str | None
    sip_config: dict[str, Any] | None
    region_codes: tuple[str, ...]


@dataclass(frozen=True)
class PhoneSpec:
    """The whole life of one phone register; its snapshot at any instant is derived from this."""

    index: int
    id: str
    number: str
    nickname: str | None
    provider: str
    reserved_us: int
    assigned_us: int
    schedule_set_us: int | None
    release_us: int | None
    variant: int
    period_us: int
    period_offset_us: int
    outbound_share: int
    live: LivePhone

    @property
    def finished_us(self) -> int | None:
        """When a released number stops being blocked; None while it is not released."""
        # Released numbers stay blocked for 30 days before they can be bought again.
        return None if self.release_us is None else self.release_us + 30 * DAY_US


def spanish_region_codes(number: str) -> tuple[str, ...]:
    """The Spanish regions a number's landline prefix maps to; empty for anything else."""
    if not number.startswith("+34"):
        return ()
    digits = number[3:]
    return _REGIONS_BY_PREFIX.get(digits[:2]) or _REGIONS_BY_PREFIX.get(digits[:3]) or ()


def build_phones(
    rng: random.Random, count: int, t0_us: int, window_start_us: int, live_streams: Callable[[int], random.Random]
) -> tuple[PhoneSpec, ...]:
    """The lives of ``count`` phones around the initial clock ``t0_us``.

    ``rng`` draws what both status models serve; ``live_streams(index)`` is the stream of phone
    ``index``'s :class:`LivePhone`, so the ``current`` model's fields never shift the others.
    """
    t0, ws = t0_us, window_start_us
    window = max(t0 - ws, DAY_US)
    specs = []
    for index in range(count):
        role = _ROLES[index] if index < len(_ROLES) else rng.choice(["stable"] * 4 + ["new_past", "release_past"])
        # Role-bound providers, as the seed model has always served them. The current model
        # makes the "reserve_soon" number a purchase awaiting verification (see _live_phone).
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
        if provider == "netelip":
            number = "+34" + rng.choice(["91", "93", "96", "95"]) + f"{rng.randrange(10**7):07d}"
        else:
            number = rng.choice(["+3490", "+3484", "+4420"]) + f"{rng.randrange(10**7):07d}"
        if provider == "custom":
            # Draws of a former SIP trunk description: kept so every later draw, and so every
            # value the seed model serves, stays where it was.
            rng.choice(["udp", "tcp", "tls"])
            rng.randrange(10**6)
        phone_id = uuid_from_int(rng.getrandbits(128))
        nickname = rng.choice(_NICKNAMES) if rng.random() < 0.6 else None
        reserved_us = reserved - reserved % US
        assigned_us = assigned - assigned % US + rng.randrange(US) * rng.randint(0, 1)
        variant = rng.randrange(N_SPELLINGS)
        rng.getrandbits(64)  # a former checkout token, kept for the same reason
        live = _live_phone(live_streams(index), index, role, provider, number, reserved_us, assigned_us)
        specs.append(
            PhoneSpec(
                index=index,
                id=phone_id,
                number=number,
                nickname=nickname,
                provider=provider,
                reserved_us=reserved_us,
                assigned_us=assigned_us,
                schedule_set_us=schedule_set,
                release_us=release,
                variant=variant,
                period_us=rng.randint(36, 120) * HOUR_US,
                period_offset_us=rng.randrange(DAY_US),
                outbound_share=rng.randint(0, 100),
                live=live,
            )
        )
    return tuple(specs)


def _live_phone(
    rng: random.Random, index: int, role: str, provider: str, number: str, reserved_us: int, assigned_us: int
) -> LivePhone:
    """The ``current`` model's view of one phone, drawn from the phone's own stream."""
    if role == "reserve_soon":
        # The phone in the middle of a purchase at the initial clock: under the current model it
        # is a purchased number waiting for verification, so that stage exists from the start.
        provider = "netelip"
        number = "+34" + rng.choice(["91", "93", "96", "95"]) + f"{rng.randrange(10**7):07d}"
    if provider == "custom":
        if rng.random() < 0.3:
            number = f"sip:{rng.choice(['recepcion', 'centralita', 'ventas'])}{index}@pbx{index}.example.net"
        return LivePhone(provider, number, None, None, _sip_config(rng), spanish_region_codes(number))
    # The phone reserved later in the world's life completes its checkout without verification,
    # so a reserved purchase, with its checkout link, is there to be seen.
    verifying = role == "reserve_soon" or (role != "reserve_future" and rng.random() < 0.4)
    paid_us = reserved_us + rng.randint(3, 25) * MINUTE_US if verifying else None
    checkout_url = f"https://checkout.diga.example/c/pay/cs_{rng.getrandbits(96):024x}"
    assert paid_us is None or paid_us < assigned_us
    return LivePhone(provider, number, paid_us, checkout_url, None, spanish_region_codes(number))


def _sip_config(rng: random.Random) -> dict[str, Any]:
    """An imported number's SIP trunk (SipConfigResponseSchema), on documentation-only addresses."""
    if rng.random() < 0.5:
        termination = f"sip.{rng.choice(['centralita', 'pbx', 'voip'])}{rng.randrange(100)}.example.net"
    else:
        termination = f"203.0.113.{rng.randrange(1, 255)}"
    addresses = [f"198.51.100.{rng.randrange(1, 255)}"]
    if rng.random() < 0.5:
        addresses.append(f"203.0.113.{rng.randrange(0, 256, 16)}/28")
    if rng.random() < 0.2:
        addresses.append("192.0.2.0/24")
    # "allow" is the schema's default, so most trunks keep it.
    inbound, outbound = rng.choices(SIP_MEDIA_ENCRYPTIONS, weights=(1, 3, 2), k=2)
    return {
        "termination_uri": termination,
        # Trunks authenticated by address alone have no digest user.
        "username": f"diga{rng.randrange(10**6):06d}" if rng.random() < 0.8 else None,
        "inbound_media_encryption": inbound,
        "outbound_media_encryption": outbound,
        "allowed_addresses": addresses,
    }


def phone_status(phone: PhoneSpec, now: int, current: bool) -> str | None:
    """The phone's life-cycle stage at ``now`` in a status model; None while it is not listed.

    A phone is listed from its reservation, except an imported one under the current model,
    which is listed from its assignment (it never goes through a checkout).
    """
    if now < phone.reserved_us:
        return None
    finished = phone.finished_us
    if now < phone.assigned_us:
        if not current:
            return "reserved"
        live = phone.live
        if live.provider == "custom":
            return None
        if live.paid_us is not None and now >= live.paid_us:
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
        self.specs = build_phones(
            seeded_random(seed, "phones"),
            count,
            t0_us,
            window_start_us,
            lambda index: seeded_random(seed, "phones-live", index),
        )
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
        live = phone.live if self._current else None
        record: dict[str, Any] = {
            "id": phone.id,
            "nickname": phone.nickname,
            "number": phone.number if live is None else live.number,
            "telephony_provider": phone.provider if live is None else live.provider,
            "status": status,
            "released_at": spell(phone.release_us if status in ("released", "finished") else None),
            "scheduled_release_at": spell(scheduled),
            "assigned_at": spell(phone.assigned_us if now >= phone.assigned_us else None),
            "inbound_agent_id": None if inbound is None else self._agents[inbound].id,
            "outbound_agent_id": None if outbound is None else self._agents[outbound].id,
        }
        if live is not None:
            # The live document's fields, in its order; the checkout ones exist only in checkout.
            in_checkout = status == "reserved"
            sip = live.sip_config
            record["sip_config"] = None if sip is None else {**sip, "allowed_addresses": list(sip["allowed_addresses"])}
            record["checkout_url"] = live.checkout_url if in_checkout else None
            record["reservation_expires_at"] = spell(phone.reserved_us + RESERVATION_HOLD_US if in_checkout else None)
            record["region_codes"] = list(live.region_codes)
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
