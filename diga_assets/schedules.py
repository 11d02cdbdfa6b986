"""The daily schedules, in the partition time zone, shortly after midnight."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import dagster as dg

# Public tag names Dagster reads to run one job over a partition range in a single run.
_RANGE_START_TAG = "dagster/asset_partition_range_start"
_RANGE_END_TAG = "dagster/asset_partition_range_end"

DAILY_CRON = "15 0 * * *"


def calls_partition_range(scheduled: datetime, *, trailing_days: int, first_day: date) -> tuple[str, str]:
    """The day that just ended and the ``trailing_days`` before it (calls still in progress when
    first fetched are fetched again), never before the first partition."""
    last = scheduled.date() - timedelta(days=1)
    first = max(first_day, last - timedelta(days=trailing_days))
    return first.isoformat(), last.isoformat()


def build_schedules(
    calls_job: dg.UnresolvedAssetJobDefinition,
    phones_job: dg.UnresolvedAssetJobDefinition,
    *,
    timezone: str,
    trailing_days: int,
    first_day: date,
) -> list[dg.ScheduleDefinition]:
    """Calls: yesterday plus ``trailing_days`` in one run. Phones: yesterday only, because an
    older day's snapshot cannot be observed again."""

    @dg.schedule(
        name="diga_calls_daily",
        job=calls_job,
        cron_schedule=DAILY_CRON,
        execution_timezone=timezone,
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description=f"Fetch yesterday's calls and refresh the {trailing_days} days before it, in one run.",
    )
    def calls_daily(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        scheduled = context.scheduled_execution_time
        start, end = calls_partition_range(scheduled, trailing_days=trailing_days, first_day=first_day)
        if end < first_day.isoformat():
            return dg.SkipReason(f"the first partition ({first_day}) has not ended yet")
        return dg.RunRequest(
            run_key=f"diga_calls_daily:{end}",
            tags={_RANGE_START_TAG: start, _RANGE_END_TAG: end},
        )

    phones_daily = dg.build_schedule_from_partitioned_job(
        phones_job,
        name="diga_phones_daily",
        hour_of_day=0,
        minute_of_hour=15,
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description="Snapshot the phone register right after each day ends.",
    )
    return [calls_daily, phones_daily]
