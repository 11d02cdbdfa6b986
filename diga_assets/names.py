"""Every public name of the project in one place: assets, datasets, views, groups, jobs, the pool.

These names are public: they are asset keys in the UI, folder names in the data directory and
view names in ``diga.duckdb``, so users' backfills, files and queries depend on them. Modules
refer to them through these constants, never as string literals, so a name can only be spelled
one way.
"""

from __future__ import annotations

# Raw assets: the API as daily snapshots.
DIGA_CALLS = "diga_calls"
DIGA_PHONES = "diga_phones"
DIGA_AGENTS = "diga_agents"
# Opt-in (DIGA_TRANSCRIPTS): the messages of each day's stored calls.
DIGA_CALL_MESSAGES = "diga_call_messages"

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
DAILY_METRICS = (CALL_OUTCOME_RATES, CALL_DURATION_STATS, AGENT_VERSION_OUTCOMES, CALL_END_REASONS)
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
TRANSCRIPTS_JOB = "diga_transcripts_job"
TRANSCRIPTS_JOB_ASSETS = (DIGA_CALL_MESSAGES, CALL_CONVERSATION_STATS)
