"""The one place that wires assets, checks, resources, jobs and schedules."""

from __future__ import annotations

import dagster as dg

from diga_assets.analysis_db import DAILY_METRICS, PHONE_ASSIGNMENT_TIMELINE, resolve_outcome_map
from diga_assets.assets.metrics import build_metric_assets
from diga_assets.assets.raw import build_raw_assets
from diga_assets.assets.report import build_report_asset
from diga_assets.checks.metrics import build_metric_checks
from diga_assets.checks.raw import build_raw_checks
from diga_assets.partitions import daily_partitions
from diga_assets.privacy import HASH_KEY_VAR, describe_contacts
from diga_assets.resources import DigaApiResource
from diga_assets.schedules import build_schedules
from diga_assets.settings import Settings
from diga_assets.storage import DigaStorage

CALLS_JOB_ASSETS = ("diga_calls", *DAILY_METRICS)
PHONES_JOB_ASSETS = ("diga_phones", PHONE_ASSIGNMENT_TIMELINE)


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    """Build the code location from ``settings`` (read from ``DIGA_*`` variables by default)."""
    settings = settings or Settings.from_env()
    # A broken DIGA_OUTCOME_MAP fails the load with the variable and line named, not the first run.
    resolve_outcome_map()
    partitions = daily_partitions(settings)
    calls_job = dg.define_asset_job(
        "diga_calls_job",
        selection=dg.AssetSelection.assets(*CALLS_JOB_ASSETS),
        description="Calls for a day or a range of days (one run), then the daily metrics of those days.",
    )
    phones_job = dg.define_asset_job(
        "diga_phones_job",
        selection=dg.AssetSelection.assets(*PHONES_JOB_ASSETS),
        description="The phone register snapshot for a day, then the assignment timeline rebuilt from all snapshots.",
    )
    # diga_calls says in the UI whether contact_identifier holds numbers or their HMACs.
    raw_assets = dg.map_asset_specs(
        lambda spec: (
            describe_contacts(spec, pseudonymized=settings.pseudonymize_contacts)
            if spec.key == dg.AssetKey("diga_calls")
            else spec
        ),
        build_raw_assets(partitions),
    )
    return dg.Definitions(
        assets=[*raw_assets, *build_metric_assets(partitions), build_report_asset(partitions)],
        asset_checks=[*build_raw_checks(partitions), *build_metric_checks(partitions)],
        jobs=[calls_job, phones_job],
        # One process per run, not one per step: steps here are I/O-bound or DuckDB-bound and
        # stream, so a process per step only adds seconds of start-up to each (measured in
        # bench/ingest.py and BENCHMARKS.md); the days of a backfill are fetched concurrently
        # inside the diga_calls step.
        executor=dg.in_process_executor,
        schedules=build_schedules(
            calls_job,
            phones_job,
            timezone=settings.timezone,
            trailing_days=settings.trailing_days,
            first_day=settings.start_date,
        ),
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
