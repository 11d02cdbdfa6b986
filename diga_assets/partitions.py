"""Daily partitions and the half-open instant window each day stands for."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import dagster as dg

from diga_assets.settings import Settings


def daily_partitions(settings: Settings, *, with_today: bool = False) -> dg.DailyPartitionsDefinition:
    """One partition per calendar day in the configured time zone, from ``DIGA_START_DATE``, up to
    yesterday, or up to today (``with_today``: the day so far, refreshed during the day)."""
    return dg.DailyPartitionsDefinition(
        start_date=settings.start_date.isoformat(), timezone=settings.timezone, end_offset=1 if with_today else 0
    )


def backfill_policy(settings: Settings) -> dg.BackfillPolicy:
    """One run for a whole backfill range, or runs of ``DIGA_BACKFILL_DAYS_PER_RUN`` days each, so
    a long backfill spreads over run workers while the ``diga_api`` pool bounds the API's load."""
    if settings.backfill_days_per_run:
        return dg.BackfillPolicy.multi_run(max_partitions_per_run=settings.backfill_days_per_run)
    return dg.BackfillPolicy.single_run()


@dataclass(frozen=True)
class DayWindow:
    """A partition day and the instants it covers: ``start <= t < end``, both in UTC.

    The window is 23 or 25 hours long on daylight-saving days.
    """

    day: date
    start: datetime
    end: datetime

    @property
    def key(self) -> str:
        """The partition key, ``YYYY-MM-DD``."""
        return self.day.isoformat()

    def contains(self, instant: datetime) -> bool:
        """Whether an aware instant falls inside the window."""
        return self.start <= instant < self.end

    def hours_after_end(self, instant: datetime) -> float:
        """How long after the day ended ``instant`` is, in hours (negative: before it ended)."""
        return (instant - self.end).total_seconds() / 3600


def day_window(partitions: dg.TimeWindowPartitionsDefinition, key: str) -> DayWindow:
    """The window of the partition ``key``, as Dagster's partitions define it, in UTC."""
    window = partitions.time_window_for_partition_key(key)
    return DayWindow(day=date.fromisoformat(key), start=window.start.astimezone(UTC), end=window.end.astimezone(UTC))


def with_neighbours(days: Iterable[date]) -> list[date]:
    """The days and the day on either side of each, in order: the span in which a call whose
    created_date moved across midnight may have its other stored copy. ``call_ids_unique``
    checks this span, and a metric run reads it, so the two cannot drift apart."""
    return sorted({day + timedelta(days=step) for day in days for step in (-1, 0, 1)})


@contextmanager
def partitioned_definitions() -> Iterator[None]:
    """Build definitions with the two partition features the project uses on purpose, without
    Dagster's warning about each: ``backfill_policy`` on assets (beta), which runs a backfill's
    range as one run, and ``partitions_def`` on asset checks (preview), which checks exactly the
    days a run wrote. Only those two warnings are filtered; every other one is shown."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", r"Parameter `backfill_policy` of function", dg.BetaWarning)
        warnings.filterwarnings("ignore", r"Specifying a partitions_def on an AssetCheckSpec", dg.PreviewWarning)
        yield
