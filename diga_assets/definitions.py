"""The one place that wires assets, checks, resources, jobs, schedules and sensors.

``build_definitions(settings)`` builds one instance of the Diga graph from a ``Settings``; the
code location ``diga_assets.definitions`` is the instance the ``DIGA_*`` variables describe
(``defs``, built when Dagster loads it), and ``DigaComponent`` is the same graph added to another
Dagster project by a ``defs.yaml``.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from diga_assets.analysis.outcome_map import resolve_outcome_map
from diga_assets.api.client import DEFAULT_BASE_URL
from diga_assets.assets.common import DigaGraph
from diga_assets.assets.curated import build_curated_calls_asset
from diga_assets.assets.metrics import build_metric_assets
from diga_assets.assets.raw import build_raw_assets
from diga_assets.assets.report import build_report_asset
from diga_assets.checks.curated import build_curated_checks
from diga_assets.checks.metrics import build_metric_checks
from diga_assets.checks.raw import build_raw_checks
from diga_assets.names import (
    AUDIT_JOB,
    CALL_DAY_AUDIT,
    CALLS_JOB,
    CALLS_JOB_ASSETS,
    DG_LAUNCH,
    PHONES_JOB,
    PHONES_JOB_ASSETS,
    TRANSCRIPTS_JOB,
    TRANSCRIPTS_JOB_ASSETS,
    Names,
    is_name,
)
from diga_assets.privacy import HASH_KEY_VAR
from diga_assets.resources import DigaApiResource
from diga_assets.schedules import (
    build_audit_automation,
    build_intraday_schedule,
    build_schedules,
    build_transcripts_sensor,
)
from diga_assets.settings import API_KEY_VAR, DEFAULT_TIMEZONE, Settings, SettingsError
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
            "conversation metrics and call_kpis again (with the transfers they show). Transcripts hold "
            "what callers said."
        ),
    )
    audit_job = dg.define_asset_job(
        names.name(AUDIT_JOB),
        selection=dg.AssetSelection.assets(graph.key(CALL_DAY_AUDIT)),
        description="The stored days of calls compared with the API's counts, one request per day.",
    )
    audit_schedule, refetch_sensor = build_audit_automation(graph, audit_job, calls_job)
    return dg.Definitions(
        assets=assets,
        asset_checks=checks,
        jobs=[calls_job, phones_job, transcripts_job, audit_job],
        # One process per run, not one per step: steps here are I/O-bound or DuckDB-bound and
        # stream, so a process per step only adds seconds of start-up to each (BENCHMARKS.md);
        # the days of a backfill are fetched concurrently inside the diga_calls step.
        executor=dg.in_process_executor,
        schedules=[
            *build_schedules(graph, calls_job, phones_job),
            *build_intraday_schedule(graph, calls_job),
            audit_schedule,
        ],
        sensors=[build_transcripts_sensor(graph, transcripts_job), refetch_sensor],
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


# The attributes of DigaComponent as settings name them in errors: "DigaComponent attribute timezone".
def _attribute(setting: str) -> str:
    return f"DigaComponent attribute {setting}"


class DigaScaffolder(dg.Scaffolder):
    """``dg scaffold defs diga_assets.DigaComponent PATH``: a defs.yaml that loads as written,
    keyed and stored under the folder's name, its partitions from the first of this month."""

    def scaffold(self, request: dg.ScaffoldRequest) -> None:
        name = request.target_path.name
        attributes = {
            "start_date": date.today().replace(day=1).isoformat(),
            "data_dir": f"data/{name}",
            "timezone": DEFAULT_TIMEZONE,
            "api_base_url": DEFAULT_BASE_URL,
            "api_key_env_var": API_KEY_VAR,
            "transcripts": False,
            "key_prefix": [name] if is_name(name) else [],
        }
        dg.scaffold_component(request, attributes)


@dg.scaffold_with(DigaScaffolder)
class DigaComponent(dg.Component, dg.Model, dg.Resolvable):
    """The Diga API as daily Parquet snapshots, curated calls, DuckDB metrics and a report: the
    whole diga-assets graph (assets, checks, jobs, schedules, the transcripts sensor and its
    resources) in your Dagster project.

    The API key is named, never written: ``api_key_env_var`` is the environment variable Dagster
    reads it from when a run starts. Several instances (several Diga accounts) live side by side
    under different ``key_prefix`` values and ``data_dir`` folders.
    """

    start_date: str = Field(description="The first daily partition (YYYY-MM-DD).")
    data_dir: str = Field(
        description=(
            "Where the Parquet files, reports and diga.duckdb go: a folder (relative to the project "
            "root) or s3://bucket/prefix (credentials from the standard AWS chain)."
        )
    )
    timezone: str = Field(default=DEFAULT_TIMEZONE, description="IANA time zone of the daily partitions.")
    api_base_url: str = Field(default=DEFAULT_BASE_URL, description="The Diga API's root URL.")
    api_key_env_var: str = Field(
        default=API_KEY_VAR, description="The name of the environment variable holding the Diga API key."
    )
    transcripts: bool = Field(
        default=False,
        description="Start the transcripts sensor: fetch what callers said on every call (personal data).",
    )
    key_prefix: list[str] = Field(
        default_factory=list,
        description="Prefix of every asset key; also names the jobs, schedules, sensor, groups and pool.",
    )
    trailing_days: int | None = Field(
        default=None, description="Days before yesterday that the daily calls schedule fetches again (default 2)."
    )
    max_concurrency: int | None = Field(default=None, description="Days a backfill fetches at once (default 4).")
    backfill_days_per_run: int | None = Field(
        default=None, description="Split a backfill into runs of this many days (default: one run)."
    )
    audit_days: int | None = Field(
        default=None,
        description="Stored days the daily audit compares with the API, one request each (default 90; 0: off).",
    )
    intraday_minutes: int | None = Field(
        default=None,
        description="Minutes between refreshes of today's calls, curated calls and metrics (default 15; 0: off).",
    )
    concurrency_limit: int | None = Field(
        default=None,
        description="Your plan's cap on concurrent calls: a WARN check flags the hours whose peak reaches it.",
    )
    tariff: str | None = Field(
        default=None,
        description="Your tariff CSV (relative to the project root), for call_kpis's billed minutes and cost.",
    )
    outcome_map: str | None = Field(
        default=None, description="Your call outcome map CSV (relative to the project root); default: the package's."
    )
    pseudonymize_contacts: bool = Field(
        default=False, description="Store an HMAC of each caller's number instead of the number."
    )
    contact_hash_key_env_var: str = Field(
        default=HASH_KEY_VAR, description="The name of the environment variable holding that HMAC's key."
    )

    def settings(self, project_root: Path) -> Settings:
        """These attributes as settings, checked as the ``DIGA_*`` variables are, with errors
        naming the attribute; relative paths are taken from ``project_root``."""
        try:
            names = Names(tuple(self.key_prefix), launch=DG_LAUNCH)
        except ValueError as exc:
            raise SettingsError(f"{_attribute('key_prefix')}: {exc}") from None
        for attribute in ("api_key_env_var", "contact_hash_key_env_var"):
            if not getattr(self, attribute).isidentifier():
                raise SettingsError(f"{_attribute(attribute)}={getattr(self, attribute)!r} is not a variable name")

        def text(value: object) -> str | None:
            return None if value is None else str(value).lower() if isinstance(value, bool) else str(value)

        raw = {
            "data_dir": self.data_dir,
            "start_date": self.start_date,
            "timezone": self.timezone,
            "api_base_url": self.api_base_url,
            "trailing_days": text(self.trailing_days),
            "max_concurrency": text(self.max_concurrency),
            "backfill_days_per_run": text(self.backfill_days_per_run),
            "audit_days": text(self.audit_days),
            "intraday_minutes": text(self.intraday_minutes),
            "concurrency_limit": text(self.concurrency_limit),
            "pseudonymize_contacts": text(self.pseudonymize_contacts),
            "transcripts": text(self.transcripts),
            "outcome_map": self.outcome_map,
            "tariff": self.tariff,
        }
        return Settings.parse(
            raw,
            relative_to=project_root,
            # Only its length is looked at, so a missing or short key fails the load, not a run.
            hash_key=os.environ.get(self.contact_hash_key_env_var) if self.pseudonymize_contacts else None,
            label=_attribute,
            names=names,
            api_key_var=self.api_key_env_var,
            contact_hash_key_var=self.contact_hash_key_env_var,
        )

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        """The graph these attributes describe."""
        return build_definitions(self.settings(context.project_root))
