"""``diga-assets erase``: callers removed from every stored file on request (GDPR art. 17, the
company's own policy), and kept out of every later fetch.

In this order, so that a run writing a day meanwhile cannot bring a caller back:
1. the callers go on the suppression list (``storage/suppression.py``, HMACs only), which every
   fetch reads before it writes and checks again right after;
2. each stored day whose raw calls hold them is rewritten whole without their calls, with its
   curated day and the transcripts of those calls (each file replaced atomically, as a run
   replaces it; on a bucket a conditional write);
3. the touched days' metrics (from the rewritten curated days), conversation metrics and the
   report are computed again through Dagster (runs recorded in the instance given).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc

from diga_assets.assets.common import DigaGraph
from diga_assets.assets.raw.audit import stored_call_days
from diga_assets.definitions import build_definitions
from diga_assets.names import (
    CALL_CONVERSATION_STATS,
    CALL_REPORT,
    CALLS_DATASET,
    DAILY_METRICS,
    MESSAGES_DATASET,
    day_stretches,
)
from diga_assets.privacy import hash_key_problem
from diga_assets.schedules import range_tags
from diga_assets.settings import Settings
from diga_assets.storage import DataLayout, Store, open_store
from diga_assets.storage.suppression import ErasedCallers, add_to_suppression, record_suppressed_calls

MESSAGES_CALL_ID = "call_id"


class ErasureError(RuntimeError):
    """Erasure cannot start or did not finish; the message says why (never whom)."""


@dataclass
class ErasureResult:
    """What an erasure removed: call ids by day (ids are not personal data; values never kept)."""

    removed: dict[str, list[str]] = field(default_factory=dict)
    messages_removed: int = 0

    @property
    def calls_removed(self) -> int:
        """Calls removed from the raw days."""
        return sum(len(ids) for ids in self.removed.values())


def erase(
    settings: Settings,
    *,
    identifiers: Sequence[str] = (),
    contact_ids: Sequence[str] = (),
    instance: dg.DagsterInstance,
    echo: Callable[[str], None] = print,
) -> ErasureResult:
    """Erase the callers with these ``contact_identifier`` values (numbers, web ids) and
    ``contact_id`` values from every stored file, list them so no fetch stores them again, and
    compute the touched days' metrics and the report again. Prints days touched and calls removed."""
    identifiers = [value.strip() for value in identifiers if value.strip()]
    contact_ids = [value.strip() for value in contact_ids if value.strip()]
    if not identifiers and not contact_ids:
        raise ErasureError("name at least one caller: --contact-identifier VALUE or --contact-id UUID")
    key = os.environ.get(settings.contact_hash_key_var)
    if problem := hash_key_problem(key, settings.contact_hash_key_var, "erasure (the list holds HMACs under it)"):
        raise ErasureError(problem)
    assert key is not None
    store = open_store(str(settings.data_dir))
    store.check_writable()
    listed = add_to_suppression(store, key, identifiers=identifiers, contact_ids=contact_ids)
    result = remove_listed_calls(store, ErasedCallers.of(key, identifiers, contact_ids))
    touched = sorted(result.removed)
    echo(f"suppression list: {len(listed)} caller value(s) listed (as HMACs)")
    for day in touched:
        echo(f"{day}: {len(result.removed[day])} call(s) removed")
    if touched:
        recompute(settings, [date.fromisoformat(day) for day in touched], store, instance)
    echo(
        f"{len(touched)} day(s) touched, {result.calls_removed} call(s) and {result.messages_removed} "
        "transcript message(s) removed; their metrics and the report computed again"
    )
    return result


def remove_listed_calls(store: Store, erased: ErasedCallers) -> ErasureResult:
    """Rewrite every stored day holding calls of the erased callers without them: raw calls, the
    curated day, and the transcripts of those calls. (Callers erased before are gone already;
    every fetch since dropped them.)"""
    result = ErasureResult()
    for day in stored_call_days(store):
        removed, messages_removed = erase_day(store, day.isoformat(), erased)
        # The API still counts them: the audit must not take the day for a changed one.
        record_suppressed_calls(store, day.isoformat(), len(removed), replace=False)
        if removed:
            result.removed[day.isoformat()] = removed
            result.messages_removed += messages_removed
    return result


def erase_day(store: Store, day: str, erased: ErasedCallers) -> tuple[list[str], int]:
    """One day without the listed callers' calls (raw, curated) and their transcripts; each file
    replaced whole, after a re-read, only when it held any. Returns the call ids removed and how
    many messages went with them."""
    layout = DataLayout(store.root)
    removed: set[str] = set()

    def without_listed(stored: pa.Table | None) -> pa.Table | None:
        if stored is None:
            return None
        keep = erased.keep_mask(stored)
        if pc.all(keep).as_py() is not False:
            return None
        removed.update(stored.filter(pc.invert(keep))["id"].to_pylist())
        return stored.filter(keep)

    store.swap_table(layout.raw_partition(CALLS_DATASET, day), without_listed)
    curated = layout.curated_partition(CALLS_DATASET, day)
    if store.exists(curated):
        store.swap_table(curated, without_listed)
    messages = layout.raw_partition(MESSAGES_DATASET, day)
    if not removed or not store.exists(messages):
        return sorted(removed), 0
    gone = pa.array(sorted(removed), pa.string())
    counted = {"before": 0}

    def without_their_messages(stored: pa.Table | None) -> pa.Table | None:
        if stored is None:
            return None
        counted["before"] = stored.num_rows
        keep = pc.invert(pc.is_in(stored[MESSAGES_CALL_ID], value_set=gone))
        return stored.filter(keep) if not pc.all(keep).as_py() else None

    written = store.swap_table(messages, without_their_messages)
    return sorted(removed), (counted["before"] - written.num_rows) if written is not None else 0


def recompute(settings: Settings, days: Sequence[date], store: Store, instance: dg.DagsterInstance) -> None:
    """The touched days' daily metrics (from their curated days, already rewritten), their
    conversation metrics where transcripts are stored, then the report, as Dagster runs."""
    graph = DigaGraph(settings)
    defs = build_definitions(settings)
    layout = DataLayout(store.root)
    daily = dg.AssetSelection.assets(*graph.names.keys(DAILY_METRICS))
    curated = [day for day in days if store.exists(layout.curated_partition(CALLS_DATASET, day.isoformat()))]
    with_messages = [day for day in curated if store.exists(layout.raw_partition(MESSAGES_DATASET, day.isoformat()))]
    conversations = dg.AssetSelection.assets(graph.key(CALL_CONVERSATION_STATS))
    runs = [(daily, first, last) for first, last in day_stretches(curated)]
    runs += [(conversations, first, last) for first, last in day_stretches(with_messages)]
    for selection, first, last in runs:
        job = dg.define_asset_job("diga_erasure_recompute", selection=selection)
        resolved = dg.Definitions.merge(defs, dg.Definitions(jobs=[job])).resolve_job_def(job.name)
        done = resolved.execute_in_process(
            instance=instance, tags=range_tags(str(first), str(last)), raise_on_error=False
        )
        if not done.success:
            raise ErasureError(
                f"the callers are erased from the stored files, but computing {first}...{last} again failed "
                f"(run {done.run_id}); the days: {first}...{last}"
            )
    report = dg.define_asset_job("diga_erasure_report", selection=dg.AssetSelection.assets(graph.key(CALL_REPORT)))
    resolved = dg.Definitions.merge(defs, dg.Definitions(jobs=[report])).resolve_job_def(report.name)
    if not resolved.execute_in_process(instance=instance, raise_on_error=False).success:
        raise ErasureError("the callers are erased from the stored files and metrics, but the report failed")
