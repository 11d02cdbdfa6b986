"""The daily schedules, in the partition time zone, shortly after midnight."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import dagster as dg

from diga_assets.names import CURATED_CALLS

# Public tag names Dagster reads to run one job over a partition range in a single run.
_RANGE_START_TAG = "dagster/asset_partition_range_start"
_RANGE_END_TAG = "dagster/asset_partition_range_end"

DAILY_CRON = "15 0 * * *"
# The transcripts schedule looks every hour whether the calls of the day that ended are curated,
# and runs once per day when they are (run_key): it follows the calls run however long that took.
TRANSCRIPTS_CRON = "45 * * * *"


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


def build_transcripts_schedule(
    transcripts_job: dg.UnresolvedAssetJobDefinition,
    *,
    timezone: str,
    trailing_days: int,
    first_day: date,
    running: bool,
) -> dg.ScheduleDefinition:
    """Transcripts of the days the calls schedule fetched (yesterday plus ``trailing_days``, so a
    call in progress at the first fetch gets its transcript the next day), once the calls run has
    curated yesterday. Stopped unless ``running`` (DIGA_TRANSCRIPTS): transcripts are personal
    data, and nothing fetches them until someone decides to."""

    @dg.schedule(
        name="diga_transcripts_daily",
        job=transcripts_job,
        cron_schedule=TRANSCRIPTS_CRON,
        execution_timezone=timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING if running else dg.DefaultScheduleStatus.STOPPED,
        description=(
            f"Once a day, after diga_calls_daily has curated yesterday: the transcripts of yesterday's calls and "
            f"of the {trailing_days} days before it, then their conversation metrics, in one run."
        ),
    )
    def transcripts_daily(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        scheduled = context.scheduled_execution_time
        start, end = calls_partition_range(scheduled, trailing_days=trailing_days, first_day=first_day)
        if end < first_day.isoformat():
            return dg.SkipReason(f"the first partition ({first_day}) has not ended yet")
        today_began = datetime.combine(scheduled.date(), time(), tzinfo=scheduled.tzinfo)
        curated_since = context.instance.fetch_materializations(
            dg.AssetRecordsFilter(
                asset_key=dg.AssetKey(CURATED_CALLS), asset_partitions=[end], after_timestamp=today_began.timestamp()
            ),
            limit=1,
        )
        if not curated_since.records:
            return dg.SkipReason(f"waiting for the calls of {end}: {CURATED_CALLS} has not run for that day today")
        return dg.RunRequest(
            run_key=f"diga_transcripts_daily:{end}",
            tags={_RANGE_START_TAG: start, _RANGE_END_TAG: end},
        )

    return transcripts_daily
