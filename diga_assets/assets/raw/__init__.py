"""The raw layer: the API as daily Parquet snapshots, ``diga_calls``, ``diga_phones`` and ``diga_agents``.

Pure fetch-and-write functions (``fetch_calls_day``, ``run_days``, ``fetch_phone_snapshot``) sit
apart from the asset functions that take a Dagster context, so they are tested without Dagster.
"""

from __future__ import annotations

import dagster as dg

from diga_assets.assets.raw.agents import build_agents_asset
from diga_assets.assets.raw.calls import build_calls_asset
from diga_assets.assets.raw.phones import build_phones_asset


def build_raw_assets(
    partitions: dg.DailyPartitionsDefinition, *, pseudonymized: bool = False
) -> list[dg.AssetsDefinition]:
    """The raw assets on the project's daily partitions (built at load time from settings);
    ``pseudonymized``: whether callers' numbers are stored as HMACs (``DIGA_PSEUDONYMIZE_CONTACTS``)."""
    return [
        build_calls_asset(partitions, pseudonymized=pseudonymized),
        build_phones_asset(partitions),
        build_agents_asset(partitions),
    ]
