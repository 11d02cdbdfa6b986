"""The one place that wires assets, checks, resources, jobs, schedules and sensors.

``build_definitions(settings)`` builds one instance of the Diga graph from a ``Settings``; the
code location ``diga_assets.definitions`` is the instance the ``DIGA_*`` variables describe
(``defs``, built when Dagster loads it).
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from diga_assets.analysis.outcome_map import resolve_outcome_map
from diga_assets.assets.common import DigaGraph
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
from diga_assets.resources import DigaApiResource
from diga_assets.schedules import build_schedules, build_transcripts_sensor
from diga_assets.settings import Settings
from diga_assets.storage import DigaStorage


def build_definitions(settings: Settings) -> dg.Definitions:
    """One instance of the Diga graph: everything built from ``settings``, nothing read from the
    process environment (the secrets are named, and read by Dagster when a run starts)."""
    # A broken outcome map fails the load, naming its setting and line, not the first run.
    resolve_outcome_map(settings)
    graph = DigaGraph(settings)
    names = graph.names
    assets = [
        *build_raw_assets(graph),
        build_curated_calls_asset(graph),
        *build_metric_assets(graph),
        build_report_asset(graph),
    ]
    checks = [*build_raw_checks(graph), *build_curated_checks(graph), *build_metric_checks(graph)]
    calls_job = dg.define_asset_job(
        names.name(CALLS_JOB),
        selection=dg.AssetSelection.assets(*names.keys(CALLS_JOB_ASSETS)),
        description=(
            "Calls for a day or a range of days (one run), then those days curated, then their daily metrics."
        ),
    )
    phones_job = dg.define_asset_job(
        names.name(PHONES_JOB),
        selection=dg.AssetSelection.assets(*names.keys(PHONES_JOB_ASSETS)),
        description="The phone register snapshot for a day, then the assignment timeline rebuilt from all snapshots.",
    )
    transcripts_job = dg.define_asset_job(
        names.name(TRANSCRIPTS_JOB),
        selection=dg.AssetSelection.assets(*names.keys(TRANSCRIPTS_JOB_ASSETS)),
        description=(
            "Opt-in: the transcripts of the stored calls of a day or a range (one run), then their "
            "conversation metrics. Transcripts hold what callers said."
        ),
    )
    return dg.Definitions(
        assets=assets,
        asset_checks=checks,
        jobs=[calls_job, phones_job, transcripts_job],
        # One process per run, not one per step: steps here are I/O-bound or DuckDB-bound and
        # stream, so a process per step only adds seconds of start-up to each (BENCHMARKS.md);
        # the days of a backfill are fetched concurrently inside the diga_calls step.
        executor=dg.in_process_executor,
        schedules=build_schedules(graph, calls_job, phones_job),
        sensors=[build_transcripts_sensor(graph, transcripts_job)],
        resources=build_resources(settings),
    )


def build_resources(settings: Settings) -> dict[str, Any]:
    """The resources of one instance, under its names: the secrets as ``dg.EnvVar`` of the
    variables the settings name, so run config and the UI show those names, never the values."""
    names = settings.names
    return {
        names.api_resource: DigaApiResource(
            api_key=dg.EnvVar(settings.api_key_var),
            base_url=settings.api_base_url,
            max_concurrency=settings.max_concurrency,
        ),
        names.storage_resource: DigaStorage(
            data_dir=str(settings.data_dir),
            pseudonymize_contacts=settings.pseudonymize_contacts,
            # Only referenced when switched on, so runs without pseudonymization do not need it.
            contact_hash_key=dg.EnvVar(settings.contact_hash_key_var) if settings.pseudonymize_contacts else None,
            contact_hash_key_var=settings.contact_hash_key_var,
        ),
    }


@dg.definitions
def defs() -> dg.Definitions:
    """The code location ``diga_assets.definitions``: the graph the ``DIGA_*`` variables describe.
    Built when Dagster loads the location, so a bad variable fails the load with its name."""
    return build_definitions(Settings.from_env())
