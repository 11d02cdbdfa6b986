"""Cutting one window of calls into sub-windows of about equal size, so they can be walked at once.

A cursor walk is a chain: page N+1 needs page N's ``last_id``, so one busy day takes its pages
times the API's latency however much else runs beside it. Walking ``k`` disjoint sub-windows
side by side takes about a ``k``-th of that, if the sub-windows hold about as many calls each.

Calls are not spread evenly over a day (nights are quiet), so the cuts are not evenly spaced in
time: they are the creation instants of the calls at the ``i/k`` quantiles, found with ``page``
pagination. ``page=1&limit=1`` answers ``total_pages``, the number of calls ``n``; ``page=p``
with ``limit=1`` and ``order=asc`` is the ``p``-th call, and its ``created_date`` is a cut.

Exactness does not rest on any of this. The cuts only say where one sub-window ends and the
next begins; the sub-windows are half-open, so together they are the window exactly, and each
is walked to its end with the cursor. A count that is off, a call deleted between the probes,
an API that orders ``page`` listings some other way: each makes the sub-windows less even,
never a call missed or stored twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

from diga_assets.api import spec
from diga_assets.api.client import DigaClient
from diga_assets.api.records import parse_instant


@dataclass(frozen=True)
class Split:
    """Where a window was cut, and what finding out cost."""

    cuts: tuple[datetime, ...]  # ascending, strictly inside the window
    requests: int  # the count and the probes: one per sub-window


def split_window(
    client: DigaClient,
    start: datetime,
    end: datetime,
    *,
    parts: int,
    page_size: int,
    asked: tuple[datetime, datetime] | None = None,
) -> Split:
    """Cut ``[start, end)`` into at most ``parts`` sub-windows holding about as many calls each.

    ``asked`` is the window the API is asked about (by default ``[start, end]`` itself): the
    caller's one-second slack, so the count covers every reading of the API's bounds. No cut is
    made when the API does not count, or when the window holds no more than a page
    (``page_size``) of calls: a single walk is then as fast. Costs one request per sub-window
    (the count, then a probe for each cut, the probes concurrently).
    """
    if parts < 1:
        raise ValueError(f"parts must be at least 1, got {parts}")
    low, high = asked or (start, end)
    counted = client.count_calls(start_created_date=low, end_created_date=high)
    if counted is None or parts == 1 or counted <= page_size:
        return Split((), 1)
    parts = min(parts, -(-counted // page_size))  # no sub-window smaller than a page
    positions = sorted({counted * index // parts + 1 for index in range(1, parts)})

    def probe(position: int) -> datetime | None:
        page = client.get_page(
            spec.CALLS_PATH,
            {"start_created_date": low, "end_created_date": high, "page": position, "limit": 1, "order": "asc"},
        )
        created = page.data[0].get("created_date") if page.data else None
        return parse_instant(created) if isinstance(created, str) else None

    with ThreadPoolExecutor(max_workers=len(positions), thread_name_prefix="diga-split") as pool:
        found = list(pool.map(probe, positions))
    return Split(_cuts_inside(found, start, end), 1 + len(positions))


def _cuts_inside(found: Sequence[datetime | None], start: datetime, end: datetime) -> tuple[datetime, ...]:
    """The distinct instants strictly inside ``(start, end)``, ascending: a probe that found
    nothing, or a call in the slack outside the window, makes no cut."""
    return tuple(sorted({instant for instant in found if instant is not None and start < instant < end}))


def sub_windows(start: datetime, end: datetime, cuts: Sequence[datetime]) -> list[tuple[datetime, datetime]]:
    """``[start, end)`` as the half-open sub-windows between consecutive ``cuts``."""
    bounds = [start, *cuts, end]
    return list(pairwise(bounds))
