"""``diga-assets reconcile``: the audit of the stored days of calls, then, through Dagster, the
calls job (calls, curated days, daily metrics) over exactly the days that changed, or over every
day of the range with ``--full``; one line per day says what was found and done.

A count finds deleted calls, calls added late and calls still unfinished when fetched; a finished
call whose fields were edited in place keeps its day's count, so only ``--full`` finds it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import dagster as dg

from diga_assets.api.client import DigaClient
from diga_assets.assets.common import DigaGraph
from diga_assets.assets.raw.audit import REFETCH, DayAudit, audit_call_days, audit_windows, keep_audits
from diga_assets.definitions import build_definitions
from diga_assets.names import CALLS_JOB, DIGA_CALLS, day_stretches
from diga_assets.schedules import range_tags
from diga_assets.settings import Settings
from diga_assets.storage import open_store


class ReconcileError(RuntimeError):
    """Reconciling cannot start or did not finish; the message says why and what to do."""


@dataclass
class DayOutcome:
    """What reconciling did to one day."""

    audit: DayAudit
    refetched: bool = False
    rows: int | None = None
    removed: int = 0

    def line(self) -> str:
        """``2026-11-03  120 stored, 118 in the API: fetched again, 2 removed (2 deleted in Diga)``."""
        audit = self.audit
        api = "?" if audit.api_calls is None else str(audit.api_calls)
        found = f"{audit.window.key}  {audit.stored_calls} stored, {api} in the API"
        if not self.refetched:
            return f"{found}: unchanged"
        done = f"fetched again, now {self.rows} stored"
        if self.removed:
            done += f", {self.removed} removed (no longer in the API)"
        why = f" ({audit.reason})" if audit.reason else ""
        return f"{found}: {done}{why}"


def reconcile(
    settings: Settings,
    *,
    first: date | None = None,
    last: date | None = None,
    full: bool = False,
    instance: dg.DagsterInstance,
    echo: Callable[[str], None] = print,
) -> list[DayOutcome]:
    """Audit the stored days from ``first`` to ``last`` (default: the last ``audit_days`` up to
    yesterday), fetch again those that changed (every one with ``full``) in runs of the calls job
    recorded in ``instance``, and print a line per day. The key is read from the environment, as
    the runs read it."""
    key = os.environ.get(settings.api_key_var)
    if not key:
        raise ReconcileError(f"{settings.api_key_var} is not set: reconciling asks the API about every day")
    graph = DigaGraph(settings)
    store = open_store(str(settings.data_dir))
    today = datetime.now(ZoneInfo(settings.timezone)).date()
    windows = audit_windows(graph, store, today=today, first=first, last=last)
    if not windows:
        echo("no stored day of calls in that range: nothing to reconcile")
        return []
    with DigaClient(key, settings.api_base_url, max_concurrency=settings.max_concurrency) as client:
        audits, failures = audit_call_days(client, store, windows, max_concurrency=settings.max_concurrency)
    if failures:
        failed = ", ".join(f"{failure.key} ({failure.error})" for failure in failures)
        raise ReconcileError(f"the API could not be asked about {len(failures)} day(s): {failed}")
    keep_audits(store, audits)
    outcomes = {audit.window.key: DayOutcome(audit) for audit in audits}
    days = [audit.window.day for audit in audits if full or audit.action == REFETCH]
    job = build_definitions(settings).resolve_job_def(graph.names.name(CALLS_JOB))
    for start, end in day_stretches(days):
        result = job.execute_in_process(
            instance=instance, tags=range_tags(start.isoformat(), end.isoformat()), raise_on_error=False
        )
        for event in result.get_asset_materialization_events():
            materialization = event.event_specific_data.materialization  # type: ignore[union-attr]
            if materialization.asset_key == graph.key(DIGA_CALLS) and materialization.partition in outcomes:
                outcome = outcomes[materialization.partition]
                outcome.refetched = True
                outcome.rows = int(materialization.metadata["dagster/row_count"].value)  # type: ignore[arg-type]
                outcome.removed = int(materialization.metadata["removed_since_last_fetch"].value)  # type: ignore[arg-type]
        if not result.success:
            for outcome in outcomes.values():
                echo(outcome.line())
            raise ReconcileError(
                f"the calls run for {start}...{end} failed (run {result.run_id}); the lines above say which days were "
                "fetched again. Run the command again once the cause is fixed."
            )
    for outcome in outcomes.values():
        echo(outcome.line())
    refetched = [outcome for outcome in outcomes.values() if outcome.refetched]
    if refetched:
        # The call_day_audit view then says what the days are now, not what they were.
        with DigaClient(key, settings.api_base_url, max_concurrency=settings.max_concurrency) as client:
            again, _ = audit_call_days(
                client, store, [o.audit.window for o in refetched], max_concurrency=settings.max_concurrency
            )
        keep_audits(store, again)
    echo(
        f"{len(audits)} day(s) audited, {len(refetched)} fetched again, "
        f"{sum(outcome.removed for outcome in refetched)} call(s) removed"
    )
    return list(outcomes.values())
