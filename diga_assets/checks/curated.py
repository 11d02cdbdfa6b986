"""Asset checks on the curated layer (curated_calls)."""

from collections.abc import Sequence

import dagster as dg

from diga_assets.assets.common import DigaGraph
from diga_assets.checks.raw import call_ids_unique_check
from diga_assets.names import CALLS_DATASET, CURATED_CALLS


def build_curated_checks(graph: DigaGraph) -> Sequence[dg.AssetChecksDefinition]:
    """Checks for the curated assets, on the same partitions as the assets.

    ``call_ids_unique`` again, on what the metrics read: ``diga_calls``' own check stops a
    duplicate fetched by a run, this one a duplicate curated without one (days curated again
    after changing the outcome map, from raw days a failed check left behind)."""
    return [
        call_ids_unique_check(
            graph,
            CURATED_CALLS,
            lambda storage, keys: storage.existing_curated_files(CALLS_DATASET, keys),
            "the metrics",
        )
    ]
