"""The one place that wires assets, checks, resources, jobs and schedules."""

from __future__ import annotations

import dagster as dg

from diga_assets.assets.raw import build_raw_assets
from diga_assets.checks.raw import build_raw_checks
from diga_assets.partitions import daily_partitions
from diga_assets.resources import DigaApiResource
from diga_assets.schedules import build_schedules
from diga_assets.settings import Settings
from diga_assets.storage import DigaStorage


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    """Build the code location from ``settings`` (read from ``DIGA_*`` variables by default)."""
    settings = settings or Settings.from_env()
    partitions = daily_partitions(settings)
    raw_assets = build_raw_assets(partitions)
    calls_job = dg.define_asset_job(
        "diga_calls_job",
        selection=dg.AssetSelection.assets("diga_calls"),
        description="diga_calls for a day or a range of days (one run).",
    )
    phones_job = dg.define_asset_job(
        "diga_phones_job",
        selection=dg.AssetSelection.assets("diga_phones"),
        description="diga_phones for a day.",
    )
    return dg.Definitions(
        assets=raw_assets,
        asset_checks=build_raw_checks(partitions),
        jobs=[calls_job, phones_job],
        schedules=build_schedules(
            calls_job,
            phones_job,
            timezone=settings.timezone,
            trailing_days=settings.trailing_days,
            first_day=settings.start_date,
        ),
        resources={
            "diga": DigaApiResource(api_key=dg.EnvVar("DIGA_API_KEY"), base_url=settings.api_base_url),
            "storage": DigaStorage(data_dir=str(settings.data_dir)),
        },
    )


defs = build_definitions()
