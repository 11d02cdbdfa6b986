"""Every call of a world in (creation instant, id) order: generated day by day, planted on demand.

Only the sort keys are kept up front: a sorted ``array`` of creation instants (integer
microseconds since the epoch), the ids in the same order and, per call, either its random integer
(a generated call, derived on demand by :class:`~diga_assets.simulator.calls.CallSynthesizer`)
or the raw record (a planted one). A planted call whose ``created_date`` does not parse has no
place in that order; it is kept apart and served after every other call. The encoded JSON of a
call whose status can no longer change is cached.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Mapping
from typing import Any

import orjson

from diga_assets.simulator.calls import CallCore, CallSynthesizer, planted_call_field
from diga_assets.simulator.company import seeded_random
from diga_assets.simulator.instants import (
    DAY_US,
    HOUR_US,
    US,
    canonical_uuid,
    from_us,
    madrid_offset_us,
    parse_instant_us,
    uuid_from_hex,
)
from diga_assets.simulator.listing import ListQuery, Match, Page, locate_cursor, select_page

# Relative call volume per local (Europe/Madrid) hour: quiet nights, a mid-morning peak, the
# Spanish lunch dip and a second peak in the afternoon.
_HOURLY_WEIGHTS: tuple[float, ...] = (
    0.30, 0.15, 0.10, 0.08, 0.08, 0.15, 0.40, 1.20, 3.00, 5.50, 7.00, 7.20,
    6.00, 4.50, 3.20, 4.00, 5.80, 6.20, 5.20, 3.60, 2.20, 1.40, 0.90, 0.50,
)  # fmt: skip
# Monday..Sunday; the mean is 1 so ``calls_per_day`` stays the average daily volume.
_WEEKDAY_FACTORS: tuple[float, ...] = (1.12, 1.15, 1.13, 1.12, 1.08, 0.75, 0.65)


class CallLog:
    """The calls of one world, generated and planted, listed as the API serves them at an instant.

    Positions below the visible count ``vis`` (calls created at or before the clock) index the
    sorted sequence; positions from ``vis`` on index the planted calls whose ``created_date``
    does not parse. Not thread-safe: :class:`~diga_assets.simulator.world.World` serializes access.
    """

    def __init__(
        self,
        seed: int,
        window_start_us: int,
        calls_per_day: int,
        synthesizer: CallSynthesizer,
        encoded_cache_size: int,
    ) -> None:
        self._seed = seed
        self._window_start_us = window_start_us
        self._calls_per_day = calls_per_day
        self._synth = synthesizer
        self._encoded_cache_size = encoded_cache_size
        # Calls with a parseable created_date, sorted by (created instant, id).
        self._ts: array[int] = array("q")
        self._ids: list[str] = []
        self._items: list[int | dict[str, Any]] = []
        self._ts_by_id: dict[str, int] = {}
        # Planted calls whose created_date does not parse: served last, by (raw text, id).
        self._unparsed: list[tuple[str, str, dict[str, Any]]] = []
        self.planted_count = 0
        self._encoded: dict[str, bytes] = {}
        self._generated_through_day = window_start_us // DAY_US - 1

    # -- generation ------------------------------------------------------------------------------

    def generate_through(self, until_us: int) -> None:
        """Generate every day's calls up to and including the UTC day of ``until_us``."""
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
            self._insert(ts, cid, item)

    def _day_calls(self, day: int) -> list[tuple[int, str, int]]:
        """The generated calls of one UTC day, sorted; a function of (seed, day) only."""
        rng = seeded_random(self._seed, "calls", day)
        day_start = day * DAY_US
        offset_hours = madrid_offset_us(day_start + 12 * HOUR_US) // HOUR_US
        local_weekday = from_us(day_start + 12 * HOUR_US).weekday()
        count = round(self._calls_per_day * _WEEKDAY_FACTORS[local_weekday] * rng.uniform(0.92, 1.08))
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
        if self._calls_per_day and day % 2 == 0:
            for extra in range(2 if day % 4 == 0 else 1):
                calls.append((day_start, uuid_from_hex(hexes, count + extra), getrandbits(320)))
        if day_start < self._window_start_us:
            calls = [c for c in calls if c[0] >= self._window_start_us]
        calls.sort()
        return calls

    # -- planting --------------------------------------------------------------------------------

    def add(self, record: dict[str, Any]) -> None:
        """Plant a raw call, served exactly as given (see ``World.add_call``)."""
        raw_id = record.get("id")
        call_id = raw_id if isinstance(raw_id, str) else ("" if raw_id is None else str(raw_id))
        created = record.get("created_date")
        created_us = parse_instant_us(created)
        self.planted_count += 1
        self._encoded.pop(call_id, None)
        if created_us is None:
            raw = created if isinstance(created, str) else ("" if created is None else repr(created))
            entry = (raw, call_id, record)
            keys = [(r, i) for r, i, _ in self._unparsed]
            self._unparsed.insert(bisect_right(keys, (raw, call_id)), entry)
            self._ts_by_id.pop(call_id, None)
            return
        self._insert(created_us, call_id, record)

    def _insert(self, created_us: int, call_id: str, item: int | dict[str, Any]) -> None:
        pos = bisect_right(self._ts, created_us)
        while pos > 0 and self._ts[pos - 1] == created_us and self._ids[pos - 1] > call_id:
            pos -= 1
        self._ts.insert(pos, created_us)
        self._ids.insert(pos, call_id)
        self._items.insert(pos, item)
        self._ts_by_id[call_id] = created_us

    def delete(self, call_id: str) -> bool:
        """Remove the call ``call_id`` names (in any UUID spelling), generated or planted, as
        ``POST /v1/call/bulk-delete`` does; False when no call has that id. Its day is generated
        once, so it never comes back."""
        everything = len(self._ts)
        pos = self._position(call_id, everything)
        if pos is None:
            return False
        if pos >= everything:
            _, removed, _ = self._unparsed.pop(pos - everything)
        else:
            removed = self._ids[pos]
            del self._ts[pos]
            del self._ids[pos]
            del self._items[pos]
            self._ts_by_id.pop(removed, None)
        self._encoded.pop(removed, None)
        return True

    def replace(self, call_id: str, record: dict[str, Any]) -> bool:
        """Serve the call ``call_id`` names as ``record`` from now on, in its place (its creation
        instant and id keep their order and date filters); False when no call has that id."""
        everything = len(self._ts)
        pos = self._position(call_id, everything)
        if pos is None:
            return False
        if pos >= everything:
            raw, found, _ = self._unparsed[pos - everything]
            self._unparsed[pos - everything] = (raw, found, record)
        else:
            found = self._ids[pos]
            self._items[pos] = record
        self._encoded.pop(found, None)
        return True

    # -- reading ---------------------------------------------------------------------------------

    def visible_count(self, now: int) -> int:
        """How many calls a full listing at ``now`` returns."""
        return bisect_right(self._ts, now) + len(self._unparsed)

    def records(self, now: int) -> list[dict[str, Any]]:
        """Every call visible at ``now`` as it is served then, in listing order."""
        vis = bisect_right(self._ts, now)
        return [self._record(pos, vis, now) for pos in range(vis + len(self._unparsed))]

    def items(self, now: int) -> Iterator[CallCore | dict[str, Any]]:
        """Every call visible at ``now``, in listing order: a generated call's core, a planted
        call's record."""
        vis = bisect_right(self._ts, now)
        for pos in range(vis + len(self._unparsed)):
            item = self._item_at(pos, vis)
            yield item if isinstance(item, dict) else self._synth.core(self._ts[pos], self._ids[pos], item)

    def created_between(self, start_us: int, end_us: int, now: int) -> list[dict[str, Any]]:
        """Calls visible at ``now`` created in ``[start_us, end_us)``, ascending."""
        vis = bisect_right(self._ts, now)
        lo = bisect_left(self._ts, start_us, 0, vis)
        hi = bisect_left(self._ts, end_us, 0, vis)
        return [self._record(pos, vis, now) for pos in range(lo, max(lo, hi))]

    def page(self, query: ListQuery, now: int) -> Page:
        """One page of calls for an already validated query."""
        vis = bisect_right(self._ts, now)
        lo, hi = 0, vis + len(self._unparsed)
        if query.start_us is not None:
            lo = bisect_left(self._ts, query.start_us, 0, vis)
            hi = vis
        if query.end_us is not None:
            hi = bisect_left(self._ts, query.end_us, 0, vis)
        cursor = locate_cursor(query, lambda value: self._position(value, vis))
        match = self._matcher(query.filters, vis, now) if query.filters else None
        positions, has_more, current_page, total_pages = select_page(query, lo, hi, match, cursor)
        data = [self._encoded_call(pos, vis, now) for pos in positions]
        first_id = self._id_at(positions[0], vis) if positions else None
        last_id = self._id_at(positions[-1], vis) if positions else None
        return Page(
            data=data,
            first_id=first_id,
            last_id=last_id,
            has_more=has_more,
            current_page=current_page,
            total_pages=total_pages,
        )

    def find(self, call_id: str, now: int) -> CallCore | dict[str, Any] | None:
        """The visible call ``call_id`` names (in any UUID spelling): a generated call's core, a
        planted call's record, or None when no call visible at ``now`` has that id."""
        vis = bisect_right(self._ts, now)
        pos = self._position(call_id, vis)
        if pos is None:
            return None
        item = self._item_at(pos, vis)
        if isinstance(item, dict):
            return item
        return self._synth.core(self._ts[pos], self._ids[pos], item)

    def _position(self, value: str, vis: int) -> int | None:
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
            for index, (_, call_id, _) in enumerate(self._unparsed):
                if call_id == candidate:
                    return vis + index
        return None

    def _id_at(self, pos: int, vis: int) -> Any:
        if pos >= vis:
            return self._unparsed[pos - vis][2].get("id")
        item = self._items[pos]
        return item.get("id") if isinstance(item, dict) else self._ids[pos]

    def _item_at(self, pos: int, vis: int) -> int | dict[str, Any]:
        return self._unparsed[pos - vis][2] if pos >= vis else self._items[pos]

    def _record(self, pos: int, vis: int, now: int) -> dict[str, Any]:
        item = self._item_at(pos, vis)
        if isinstance(item, dict):
            return item
        return self._synth.record(self._synth.core(self._ts[pos], self._ids[pos], item), now)

    def _encoded_call(self, pos: int, vis: int, now: int) -> bytes:
        item = self._item_at(pos, vis)
        if isinstance(item, dict):
            return orjson.dumps(item, option=orjson.OPT_NON_STR_KEYS)
        call_id = self._ids[pos]
        cached = self._encoded.get(call_id)
        if cached is not None:
            return cached
        core = self._synth.core(self._ts[pos], call_id, item)
        encoded = orjson.dumps(self._synth.record(core, now))
        if core.end_us <= now and len(self._encoded) < self._encoded_cache_size:
            # Finished calls never change again, so their bytes can be reused. orjson's result
            # keeps a large buffer behind it; an exact-size copy makes caching far cheaper. When
            # the cache is full it stops growing instead of evicting: a client walking the whole
            # listing again then still hits the first ``encoded_cache_size`` calls.
            encoded = memoryview(encoded).tobytes()
            self._encoded[call_id] = encoded
        return encoded

    def _matcher(self, filters: Mapping[str, str], vis: int, now: int) -> Match:
        wanted = dict(filters)
        synth = self._synth

        def match(pos: int) -> bool:
            item = self._item_at(pos, vis)
            if isinstance(item, dict):
                return all(planted_call_field(item, name) == value for name, value in wanted.items())
            core = synth.core(self._ts[pos], self._ids[pos], item)
            return all(synth.field(core, name, now) == value for name, value in wanted.items())

        return match
