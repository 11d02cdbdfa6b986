"""The raw layer: the API as daily Parquet snapshots, ``diga_calls``, ``diga_phones``, ``diga_agents``
and (opt-in) ``diga_call_messages``; and ``call_day_audit``, the stored days of calls compared
with the API's counts.

Pure fetch-and-write functions (``fetch_calls_day``, ``run_days``, ``fetch_phone_snapshot``) sit
apart from each asset's work in the daily step (``assets/step.py``), so they are tested without Dagster.
"""

from __future__ import annotations

import dagster as dg

from diga_assets.assets.common import DigaGraph
from diga_assets.assets.raw.agents import build_agents_asset
from diga_assets.assets.raw.audit import build_call_day_audit_asset
from diga_assets.assets.raw.calls import build_calls_asset
from diga_assets.assets.raw.messages import build_call_messages_asset
from diga_assets.assets.raw.phones import build_phones_asset


def build_raw_assets(graph: DigaGraph) -> list[dg.AssetsDefinition]:
    """The raw assets on the graph's daily partitions, and the audit of the stored calls."""
    return [
        build_calls_asset(graph),
        build_phones_asset(graph),
        build_agents_asset(graph),
        build_call_messages_asset(graph),
        build_call_day_audit_asset(graph),
    ]
