"""The one place that wires assets, checks, resources, jobs and schedules."""

from __future__ import annotations

import dagster as dg

from diga_assets.analysis.outcome_map import resolve_outcome_map
from diga_assets.assets.curated import build_curated_calls_asset
from diga_assets.assets.metrics import build_metric_assets
from diga_assets.assets.raw import build_raw_assets
from diga_assets.assets.report import build_report_asset
from diga_assets.checks.curated import build_curated_checks
from diga_assets.checks.metrics import build_metric_checks
from diga_assets.checks.raw import build_raw_checks
from diga_assets.names import (
    CALLS_JOB,
    CALLS_JOB_ASSETS,
    PHONES_JOB,
    PHONES_JOB_ASSETS,
    TRANSCRIPTS_JOB,
    TRANSCRIPTS_JOB_ASSETS,
)
from diga_assets.partitions import backfill_policy, daily_partitions
from diga_assets.privacy import HASH_KEY_VAR
from diga_assets.resources import DigaApiResource
from diga_assets.schedules import build_schedules, build_transcripts_schedule
from diga_assets.settings import Settings
from diga_assets.storage import DigaStorage


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    """Build the code location from ``settings`` (read from ``DIGA_*`` variables by default)."""
    settings = settings or Settings.from_env()
    # A broken DIGA_OUTCOME_MAP fails the load with the variable and line named, not the first run.
    resolve_outcome_map()
    partitions = daily_partitions(settings)
    policy = backfill_policy(settings)
    calls_job = dg.define_asset_job(
        CALLS_JOB,
        selection=dg.AssetSelection.assets(*CALLS_JOB_ASSETS),
        description=(
            "Calls for a day or a range of days (one run), then those days curated, then their daily metrics."
        ),
    )
    phones_job = dg.define_asset_job(
        PHONES_JOB,
        selection=dg.AssetSelection.assets(*PHONES_JOB_ASSETS),
        description="The phone register snapshot for a day, then the assignment timeline rebuilt from all snapshots.",
    )
    transcripts_job = dg.define_asset_job(
        TRANSCRIPTS_JOB,
        selection=dg.AssetSelection.assets(*TRANSCRIPTS_JOB_ASSETS),
        description=(
            "Opt-in: the transcripts of the stored calls of a day or a range (one run), then their "
            "conversation metrics. Transcripts hold what callers said."
        ),
    )
    return dg.Definitions(
        assets=[
            *build_raw_assets(partitions, backfill_policy=policy, pseudonymized=settings.pseudonymize_contacts),
            build_curated_calls_asset(partitions, backfill_policy=policy, pseudonymized=settings.pseudonymize_contacts),
            *build_metric_assets(partitions, backfill_policy=policy),
            build_report_asset(partitions),
        ],
        asset_checks=[
            *build_raw_checks(partitions),
            *build_curated_checks(partitions),
            *build_metric_checks(partitions),
        ],
        jobs=[calls_job, phones_job, transcripts_job],
        # One process per run, not one per step: steps here are I/O-bound or DuckDB-bound and
        # stream, so a process per step only adds seconds of start-up to each (BENCHMARKS.md);
        # the days of a backfill are fetched concurrently inside the diga_calls step.
        executor=dg.in_process_executor,
        schedules=[
            *build_schedules(
                calls_job,
                phones_job,
                timezone=settings.timezone,
                trailing_days=settings.trailing_days,
                first_day=settings.start_date,
            ),
            build_transcripts_schedule(
                transcripts_job,
                timezone=settings.timezone,
                trailing_days=settings.trailing_days,
                first_day=settings.start_date,
                running=settings.transcripts,
            ),
        ],
        resources={
            "diga": DigaApiResource(
                api_key=dg.EnvVar("DIGA_API_KEY"),
                base_url=settings.api_base_url,
                max_concurrency=settings.max_concurrency,
            ),
            "storage": DigaStorage(
                data_dir=str(settings.data_dir),
                pseudonymize_contacts=settings.pseudonymize_contacts,
                # Like the API key: run config and the UI show the variable's name, never the secret.
                # Only referenced when switched on, so runs without pseudonymization do not need it.
                contact_hash_key=dg.EnvVar(HASH_KEY_VAR) if settings.pseudonymize_contacts else None,
            ),
        },
    )


defs = build_definitions()
