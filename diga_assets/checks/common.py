"""How a daily check is declared: on the days of one asset that a run covers, with the storage
root of the graph it checks, and a result that names what it found."""

from collections.abc import Callable, Sequence

import dagster as dg

from diga_assets.assets.common import DigaGraph
from diga_assets.partitions import partitioned_definitions
from diga_assets.storage import DigaStorage

# Given the storage root and the partition keys a run covers, the check's result.
DayCheck = Callable[[DigaStorage, Sequence[str]], dg.AssetCheckResult]


def daily_check(
    graph: DigaGraph, asset: str, name: str, description: str, *, blocking: bool = False
) -> Callable[[DayCheck], dg.AssetChecksDefinition]:
    """Declare ``check(storage, keys)`` as the check ``name`` of ``asset``, on the graph's daily
    partitions: a run checks exactly the days it materialized. ``blocking``: a failure stops the
    assets downstream of ``asset`` in the same run."""

    def declare(check: DayCheck) -> dg.AssetChecksDefinition:
        # partitions_def on a check is a preview feature, used on purpose: a run checks its days.
        with partitioned_definitions():

            @dg.asset_check(
                asset=graph.key(asset),
                name=name,
                description=description,
                partitions_def=graph.partitions_for(asset),
                blocking=blocking,
                required_resource_keys={graph.names.storage_resource},
            )
            def daily_asset_check(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
                return check(graph.storage(context), list(context.partition_keys))

        return daily_asset_check

    return declare
