"""Every public name of the project in one place: assets, datasets, views, groups, jobs, the pool.

These names are public: they are asset keys in the UI, folder names in the data directory and
view names in ``diga.duckdb``, so users' backfills, files and queries depend on them. Modules
refer to them through these constants, never as string literals, so a name can only be spelled
one way. ``Names`` places them in Dagster for one instance of the graph: under a key prefix when
a project holds several (``DigaComponent``), as they are otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import dagster as dg

# Raw assets: the API as daily snapshots.
DIGA_CALLS = "diga_calls"
DIGA_PHONES = "diga_phones"
DIGA_AGENTS = "diga_agents"
# Opt-in (DIGA_TRANSCRIPTS): the messages of each day's stored calls.
DIGA_CALL_MESSAGES = "diga_call_messages"

# The daily audit of the stored days against the API (how many calls each day has now), and the
# view of its latest results.
CALL_DAY_AUDIT = "call_day_audit"

# Raw datasets: the folders under ``{data_dir}/raw/`` and the views over them.
CALLS_DATASET = "calls"
PHONES_DATASET = "phones"
AGENTS_DATASET = "agents"
MESSAGES_DATASET = "messages"

# The curated layer: each day's calls once, as last fetched, with their day and outcome, under
# ``{data_dir}/curated/calls/``; the analysis database's ``calls`` view reads it.
CURATED_CALLS = "curated_calls"

# Metric assets; each has a view of the same name in the analysis database.
CALL_OUTCOME_RATES = "call_outcome_rates"
CALL_DURATION_STATS = "call_duration_stats"
AGENT_VERSION_OUTCOMES = "agent_version_outcomes"
CALL_END_REASONS = "call_end_reasons"
CALL_KPIS = "call_kpis"
REPEAT_CALLERS = "repeat_callers"
CALL_CONCURRENCY = "call_concurrency"
DAILY_METRICS = (
    CALL_OUTCOME_RATES,
    CALL_DURATION_STATS,
    AGENT_VERSION_OUTCOMES,
    CALL_END_REASONS,
    CALL_KPIS,
    REPEAT_CALLERS,
    CALL_CONCURRENCY,
)
PHONE_ASSIGNMENT_TIMELINE = "phone_assignment_timeline"
# Daily metric of the transcripts, computed by its own asset (not part of daily_call_metrics).
CALL_CONVERSATION_STATS = "call_conversation_stats"
CALL_REPORT = "call_report"

# The view over the outcome map CSV, which the calls view joins.
CALL_OUTCOME_MAP_VIEW = "call_outcome_map"
# Every stored raw call row with its day and outcome, before a call's versions are narrowed to one.
STORED_CALLS_VIEW = "stored_calls"
# Every stored message of every transcript, with the day its call is filed under.
CALL_MESSAGES_VIEW = "call_messages"
# The table macro comparing agent versions over a period (Wilson intervals, two-proportion test).
AGENT_VERSION_COMPARISON = "agent_version_comparison"

RAW_GROUP = "diga_raw"
CURATED_GROUP = "diga_curated"
METRICS_GROUP = "diga_metrics"

# The Dagster pool every API-fetching step takes a slot of, so backfills and schedules queue for
# the API instead of multiplying its load.
API_POOL = "diga_api"

CALLS_JOB = "diga_calls_job"
PHONES_JOB = "diga_phones_job"
CALLS_JOB_ASSETS = (DIGA_CALLS, CURATED_CALLS, *DAILY_METRICS)
PHONES_JOB_ASSETS = (DIGA_PHONES, DIGA_AGENTS, PHONE_ASSIGNMENT_TIMELINE)
AUDIT_JOB = "diga_audit_job"
TRANSCRIPTS_JOB = "diga_transcripts_job"
# call_kpis again, once the transcripts show which calls were handed over.
TRANSCRIPTS_JOB_ASSETS = (DIGA_CALL_MESSAGES, CALL_CONVERSATION_STATS, CALL_KPIS)

# The Dagster resource keys of the API client and the storage root (unprefixed).
API_RESOURCE = "diga"
STORAGE_RESOURCE = "storage"

# How a user re-runs days of an asset of the code location diga_assets.definitions (an instance
# of DigaComponent in another project is re-run with ``dg launch``).
MODULE_LAUNCH = "dagster asset materialize -m diga_assets.definitions --select"
DG_LAUNCH = "dg launch --assets"

# What Dagster accepts in an asset key part, a job, schedule, group or resource name.
_NAME = re.compile(r"[A-Za-z0-9_]+")


def is_name(text: str) -> bool:
    """Whether Dagster accepts ``text`` as a key part or a name (letters, digits, underscores)."""
    return isinstance(text, str) and _NAME.fullmatch(text) is not None


@dataclass(frozen=True)
class Names:
    """The names of one instance of the graph in Dagster.

    Asset keys are ``key_prefix + [name]``; jobs, schedules, groups, the pool, op and resource
    keys are the name with the prefix's parts in front (``acme_diga_calls_job``), so two
    instances in one project never clash. With no prefix every name is the plain constant above.
    """

    key_prefix: tuple[str, ...] = ()
    # The command, up to the asset selection, that re-runs days of this instance's assets.
    launch: str = MODULE_LAUNCH

    def __post_init__(self) -> None:
        for part in self.key_prefix:
            if not is_name(part):
                raise ValueError(f"key prefix part {part!r} must be letters, digits and underscores only")

    def key(self, asset: str) -> dg.AssetKey:
        """The asset key of ``asset`` (``diga_calls`` -> ``acme/diga_calls``)."""
        # Imported here: the names are read by commands that never load Dagster (query, report).
        import dagster as dg

        return dg.AssetKey([*self.key_prefix, asset])

    def keys(self, assets: Sequence[str]) -> list[dg.AssetKey]:
        """The asset keys of ``assets``, in order."""
        return [self.key(asset) for asset in assets]

    def name(self, name: str) -> str:
        """A job, schedule, group, pool, op or resource name of this instance."""
        return "_".join([*self.key_prefix, name])

    @property
    def api_pool(self) -> str:
        """The pool every API-fetching step of this instance takes a slot of."""
        return self.name(API_POOL)

    @property
    def api_resource(self) -> str:
        """The resource key of this instance's API client."""
        return self.name(API_RESOURCE)

    @property
    def storage_resource(self) -> str:
        """The resource key of this instance's storage root."""
        return self.name(STORAGE_RESOURCE)

    def selection(self, asset: str) -> str:
        """``asset`` as the command line selects it (``acme/diga_calls``)."""
        return self.key(asset).to_user_string()

    def rerun_commands(self, asset: str, keys: Sequence[str]) -> list[str]:
        """The commands that re-run exactly the days ``keys`` of ``asset`` (one per stretch)."""
        base = f"{self.launch} {self.selection(asset)}"
        return [
            f"{base} --partition {first.isoformat()}"
            if first == last
            else f"{base} --partition-range {first.isoformat()}...{last.isoformat()}"
            for first, last in day_stretches(date.fromisoformat(k) for k in keys)
        ]


def day_stretches(days: Iterable[date]) -> list[tuple[date, date]]:
    """``days`` as (first, last) stretches of consecutive days, in order: what one command or one
    run covers."""
    stretches: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if stretches and day - stretches[-1][1] == timedelta(days=1):
            stretches[-1] = (stretches[-1][0], day)
        else:
            stretches.append((day, day))
    return stretches


# The names of the code location diga_assets.definitions: no prefix.
UNPREFIXED = Names()
