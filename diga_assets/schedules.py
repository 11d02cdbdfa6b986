"""When the graph runs by itself: the daily schedules, in the partition time zone shortly after
midnight, the sensor that fetches transcripts once yesterday's calls are curated, and the daily
audit of the stored days with the sensor that fetches again the days it found changed."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import dagster as dg

from diga_assets.assets.common import AUDIT_CRON, DAILY_CRON, DigaGraph
from diga_assets.names import CALL_DAY_AUDIT, CURATED_CALLS

# Public tag names Dagster reads to run one job over a partition range in a single run.
_RANGE_START_TAG = "dagster/asset_partition_range_start"
_RANGE_END_TAG = "dagster/asset_partition_range_end"

CALLS_SCHEDULE = "diga_calls_daily"
PHONES_SCHEDULE = "diga_phones_daily"
TRANSCRIPTS_SENSOR = "diga_transcripts_daily"
AUDIT_SCHEDULE = "diga_call_day_audit_daily"
REFETCH_SENSOR = "diga_refetch_changed_days"
INTRADAY_SCHEDULE = "diga_calls_intraday"
# Marks the runs of the intraday refresh, so a tick can see that the previous one still runs.
INTRADAY_TAG = "diga/intraday"
_IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def calls_partition_range(ended: date, *, trailing_days: int, first_day: date) -> tuple[str, str]:
    """The day that ended (``ended``) and the ``trailing_days`` before it (calls still in progress
    when first fetched are fetched again), never before the first partition."""
    first = max(first_day, ended - timedelta(days=trailing_days))
    return first.isoformat(), ended.isoformat()


def range_tags(start: str, end: str) -> dict[str, str]:
    """Tags that make one run of a job cover the partitions from ``start`` to ``end``."""
    return {_RANGE_START_TAG: start, _RANGE_END_TAG: end}


def build_schedules(
    graph: DigaGraph, calls_job: dg.UnresolvedAssetJobDefinition, phones_job: dg.UnresolvedAssetJobDefinition
) -> list[dg.ScheduleDefinition]:
    """Calls: yesterday plus the trailing days in one run. Phones: yesterday only, because an
    older day's snapshot cannot be observed again."""
    settings = graph.settings
    names = graph.names
    trailing_days = settings.trailing_days

    @dg.schedule(
        name=names.name(CALLS_SCHEDULE),
        job=calls_job,
        cron_schedule=DAILY_CRON,
        execution_timezone=settings.timezone,
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description=f"Fetch yesterday's calls and refresh the {trailing_days} days before it, in one run.",
    )
    def calls_daily(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        ended = context.scheduled_execution_time.date() - timedelta(days=1)
        if ended < settings.start_date:
            return dg.SkipReason(f"the first partition ({settings.start_date}) has not ended yet")
        start, end = calls_partition_range(ended, trailing_days=trailing_days, first_day=settings.start_date)
        return dg.RunRequest(run_key=f"{CALLS_SCHEDULE}:{end}", tags=range_tags(start, end))

    phones_daily = dg.build_schedule_from_partitioned_job(
        phones_job,
        name=names.name(PHONES_SCHEDULE),
        hour_of_day=0,
        minute_of_hour=15,
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description="Snapshot the phone register right after each day ends.",
    )
    return [calls_daily, phones_daily]


def intraday_cron(minutes: int) -> str:
    """Every ``minutes`` minutes of each hour (at the minutes that are multiples of it)."""
    return "0 * * * *" if minutes >= 60 else f"*/{minutes} * * * *"


def build_intraday_schedule(
    graph: DigaGraph, calls_job: dg.UnresolvedAssetJobDefinition
) -> list[dg.ScheduleDefinition]:
    """Today's calls, curated calls and metrics refreshed every ``intraday_minutes`` (none when 0).

    Each tick asks for one run of today's partition, which fetches only what can have changed
    since the last refresh. The first tick of a day also takes yesterday, fetched whole now that
    it has ended, so the day stops being partial even while the daily schedule is stopped. A tick
    while the previous refresh still runs is skipped rather than queued behind it. Runs by
    default: a refresh costs the pages of the calls made since the last one."""
    settings = graph.settings
    minutes = settings.intraday_minutes
    if not minutes:
        return []
    zone = ZoneInfo(settings.timezone)
    job_name = calls_job.name

    @dg.schedule(
        name=graph.names.name(INTRADAY_SCHEDULE),
        job=calls_job,
        cron_schedule=intraday_cron(minutes),
        execution_timezone=settings.timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=(
            f"Refresh today's calls, curated calls and daily metrics every {minutes} minutes (the day so far, "
            "marked partial); the first refresh of a day fetches yesterday whole."
        ),
    )
    def calls_intraday(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        return intraday_request(
            context.instance, job_name, context.scheduled_execution_time.astimezone(zone), minutes, settings.start_date
        )

    return [calls_intraday]


def intraday_request(
    instance: dg.DagsterInstance, job_name: str, now: datetime, minutes: int, first_day: date
) -> dg.RunRequest | dg.SkipReason:
    """The refresh at ``now`` (in the partition time zone): today, or yesterday and today at the
    first tick of a day; a skip while a refresh of ``job_name`` is still in flight."""
    today = now.date()
    if today < first_day:
        return dg.SkipReason(f"the first partition ({first_day}) has not begun yet")
    in_flight = instance.get_run_records(
        dg.RunsFilter(job_name=job_name, tags={INTRADAY_TAG: "true"}, statuses=_IN_FLIGHT), limit=1
    )
    if in_flight:
        return dg.SkipReason(f"the previous refresh (run {in_flight[0].dagster_run.run_id}) is still running")
    tags = {INTRADAY_TAG: "true"}
    first_tick = now - datetime.combine(today, time(), now.tzinfo) < timedelta(minutes=minutes)
    if first_tick and today - timedelta(days=1) >= first_day:
        return dg.RunRequest(tags={**tags, **range_tags((today - timedelta(days=1)).isoformat(), today.isoformat())})
    return dg.RunRequest(partition_key=today.isoformat(), tags=tags)


def transcripts_request(graph: DigaGraph, instance: dg.DagsterInstance, now: datetime) -> dg.RunRequest | dg.SkipReason:
    """At ``now``: the run of the transcripts of yesterday and the trailing days when
    ``curated_calls`` has stored yesterday since today began (the calls run after midnight), else
    why not yet."""
    settings = graph.settings
    zone = ZoneInfo(settings.timezone)
    today = now.astimezone(zone).date()
    ended = today - timedelta(days=1)
    if ended < settings.start_date:
        return dg.SkipReason(f"the first partition ({settings.start_date}) has not ended yet")
    today_began = datetime.combine(today, time(), tzinfo=zone)
    stored_today = instance.fetch_materializations(
        dg.AssetRecordsFilter(
            asset_key=graph.key(CURATED_CALLS),
            asset_partitions=[ended.isoformat()],
            after_timestamp=today_began.timestamp(),
        ),
        limit=1,
    )
    if not stored_today.records:
        return dg.SkipReason(f"waiting for the calls of {ended}: {CURATED_CALLS} has not stored that day today")
    start, end = calls_partition_range(ended, trailing_days=settings.trailing_days, first_day=settings.start_date)
    return dg.RunRequest(run_key=f"{TRANSCRIPTS_SENSOR}:{end}", tags=range_tags(start, end))


def build_transcripts_sensor(graph: DigaGraph, transcripts_job: dg.UnresolvedAssetJobDefinition) -> dg.SensorDefinition:
    """Transcripts of the days the calls schedule fetched (yesterday plus the trailing days, so a
    call in progress at the first fetch gets its transcript the next day), once the calls run has
    curated yesterday: the sensor wakes on each new curated_calls materialization (a range run
    stores several, a backfill old days: what counts is whether yesterday was stored today), and
    asks for one run per day. Running only when the settings switch transcripts on
    (DIGA_TRANSCRIPTS): transcripts are personal data, and nothing fetches them until someone
    decides to."""
    settings = graph.settings

    @dg.asset_sensor(
        asset_key=graph.key(CURATED_CALLS),
        job=transcripts_job,
        name=graph.names.name(TRANSCRIPTS_SENSOR),
        default_status=dg.DefaultSensorStatus.RUNNING if settings.transcripts else dg.DefaultSensorStatus.STOPPED,
        description=(
            f"Once a day, when {CURATED_CALLS} has stored yesterday: the transcripts of yesterday's calls and of "
            f"the {settings.trailing_days} days before it, then their conversation metrics, in one run."
        ),
    )
    def transcripts_daily(
        context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry
    ) -> dg.RunRequest | dg.SkipReason:
        return transcripts_request(graph, context.instance, datetime.fromtimestamp(asset_event.timestamp, UTC))

    return transcripts_daily


def build_audit_automation(
    graph: DigaGraph, audit_job: dg.UnresolvedAssetJobDefinition, calls_job: dg.UnresolvedAssetJobDefinition
) -> tuple[dg.ScheduleDefinition, dg.SensorDefinition]:
    """The daily audit (one request per audited day), and the sensor that, on each audit, asks
    for a calls run (calls, curated day, metrics) for exactly each day it found changed. Both run
    by default when the audit is on (``audit_days`` > 0): the audit is cheap, and a stored day
    that silently drifts from the API is the failure it exists to prevent."""
    settings = graph.settings
    names = graph.names
    running = settings.audit_days > 0
    audit_daily = dg.ScheduleDefinition(
        name=names.name(AUDIT_SCHEDULE),
        job=audit_job,
        cron_schedule=AUDIT_CRON,
        execution_timezone=settings.timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING if running else dg.DefaultScheduleStatus.STOPPED,
        description=(
            f"Compare the last {settings.audit_days} stored days of calls with the API, one request per day "
            f"({CALL_DAY_AUDIT})."
        ),
    )

    @dg.asset_sensor(
        asset_key=graph.key(CALL_DAY_AUDIT),
        job=calls_job,
        name=names.name(REFETCH_SENSOR),
        default_status=dg.DefaultSensorStatus.RUNNING if running else dg.DefaultSensorStatus.STOPPED,
        description=(
            f"After each {CALL_DAY_AUDIT}: one calls run (calls, curated day, daily metrics) per day the audit "
            "found changed (calls deleted or added, or calls unfinished when fetched)."
        ),
    )
    def refetch_changed_days(
        context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry
    ) -> list[dg.RunRequest] | dg.SkipReason:
        return refetch_requests(asset_event)

    return audit_daily, refetch_changed_days


def refetch_requests(asset_event: dg.EventLogEntry) -> list[dg.RunRequest] | dg.SkipReason:
    """One run request per day an audit's materialization lists as changed (``changed_days``)."""
    materialization = asset_event.asset_materialization
    changed = materialization.metadata.get("changed_days") if materialization else None
    days = list(changed.value) if changed is not None else []  # type: ignore[arg-type]
    if not days:
        return dg.SkipReason("the audit found every stored day equal to the API's")
    return [dg.RunRequest(run_key=f"{REFETCH_SENSOR}:{asset_event.run_id}:{day}", partition_key=day) for day in days]
