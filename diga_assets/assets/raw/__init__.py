"""The raw layer: the API as daily Parquet snapshots, ``diga_calls``, ``diga_phones``, ``diga_agents``
and (opt-in) ``diga_call_messages``.

Pure fetch-and-write functions (``fetch_calls_day``, ``run_days``, ``fetch_phone_snapshot``) sit
apart from the asset functions that take a Dagster context, so they are tested without Dagster.
"""

from __future__ import annotations

import dagster as dg

from diga_assets.assets.raw.agents import build_agents_asset
from diga_assets.assets.raw.calls import build_calls_asset
from diga_assets.assets.raw.messages import build_call_messages_asset
from diga_assets.assets.raw.phones import build_phones_asset


def build_raw_assets(
    partitions: dg.DailyPartitionsDefinition,
    *,
    backfill_policy: dg.BackfillPolicy | None = None,
    pseudonymized: bool = False,
) -> list[dg.AssetsDefinition]:
    """The raw assets on the project's daily partitions (built at load time from settings).

    ``backfill_policy``: one run per backfill unless given (``DIGA_BACKFILL_DAYS_PER_RUN``);
    ``pseudonymized``: whether callers' numbers are stored as HMACs (``DIGA_PSEUDONYMIZE_CONTACTS``).
    """
    policy = backfill_policy or dg.BackfillPolicy.single_run()
    return [
        build_calls_asset(partitions, backfill_policy=policy, pseudonymized=pseudonymized),
        build_phones_asset(partitions, policy),
        build_agents_asset(partitions, policy),
        build_call_messages_asset(partitions, backfill_policy=policy),
    ]
