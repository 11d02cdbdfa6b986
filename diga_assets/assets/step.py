"""The one daily-partition step: what every daily asset does around its own work.

A daily asset is its work (a function that fetches or computes the run's days and says what it
wrote) plus a declaration (``DailyStep``). The step does the rest, the same way for each:

1. the storage root must be usable, before anything is fetched or computed;
2. days an upstream asset has not stored are refused, naming them and the commands that store
   them (a day read from nothing would be written as a day without calls);
3. each day written gets its own metadata on its partition;
4. when some days fail, the days written are recorded (the UI must not lie about them) and the
   run fails naming the others and the commands that re-run just them; when the API refuses the
   run outright (a bad key, an invalid request), nothing more is tried;
5. the analysis database's views are brought up to date, for steps whose files they read.
"""

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import dagster as dg

from diga_assets.api.errors import DigaAuthError, DigaInvalidRequestError
from diga_assets.assets.common import OWNERS, DigaGraph, refresh_views
from diga_assets.names import (
    CALLS_DATASET,
    CURATED_CALLS,
    DIGA_CALL_MESSAGES,
    DIGA_CALLS,
    MESSAGES_DATASET,
)
from diga_assets.partitions import DayWindow, day_window, partitioned_definitions
from diga_assets.resources import DigaApiResource
from diga_assets.storage import DataLayout, DigaStorage

# Errors that stop a whole run at once: every other day would fail the same way.
FATAL_RUN_ERRORS = (DigaAuthError, DigaInvalidRequestError)


@dataclass(frozen=True)
class Upstream:
    """Days of another asset that a step reads, where each is stored, and what to do when one is
    missing."""

    asset: str
    location: Callable[[DataLayout, str], str]
    advice: str


RAW_CALLS = Upstream(DIGA_CALLS, lambda layout, key: layout.raw_partition(CALLS_DATASET, key), "Fetch them first")
CURATED_CALLS_DAYS = Upstream(
    CURATED_CALLS,
    lambda layout, key: layout.curated_partition(CALLS_DATASET, key),
    "Materialize them first (from the stored raw calls, no API request)",
)
RAW_MESSAGES = Upstream(
    DIGA_CALL_MESSAGES,
    lambda layout, key: layout.raw_partition(MESSAGES_DATASET, key),
    "Fetch their transcripts first",
)


@dataclass(frozen=True)
class DailyStep:
    """A daily asset's declaration: its op name, its assets (one, or several computed together),
    the days it reads from upstream, whether it calls the API (its resource and its pool), and
    whether the analysis database's views read what it writes."""

    name: str
    specs: Sequence[dg.AssetSpec]
    needs: Sequence[Upstream] = ()
    fetches: bool = False
    refreshes_views: bool = False


@dataclass
class WrittenDay:
    """A day a step stored, and that day's metadata."""

    key: str
    asset: str
    metadata: dict[str, Any]


@dataclass
class DayFailure:
    """A day that could not be stored, and why (its previous file, if any, is still there)."""

    key: str
    error: BaseException


@dataclass
class DailyRun:
    """One run of a daily step, as its work sees it: the days, the resources, and where it says
    what it wrote (``wrote``), what failed (``failed``) and the run's totals (``totals``)."""

    context: dg.AssetExecutionContext
    graph: DigaGraph
    step: DailyStep
    storage: DigaStorage
    keys: list[str]
    written: list[WrittenDay] = field(default_factory=list)
    failures: list[DayFailure] = field(default_factory=list)
    # The run's own metadata, per asset name (for a step of one asset: under its name).
    totals: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def log(self) -> dg.DagsterLogManager:
        """The run's log."""
        return self.context.log

    @property
    def days(self) -> list[date]:
        """The run's days, in the order of its partition keys."""
        return [date.fromisoformat(key) for key in self.keys]

    @property
    def windows(self) -> list[DayWindow]:
        """The instants each of the run's days covers."""
        return [day_window(self.graph.partitions_for(self.step.specs[0].key.path[-1]), key) for key in self.keys]

    @property
    def api(self) -> DigaApiResource:
        """The API client resource (a step that ``fetches`` only)."""
        assert self.step.fetches, f"{self.step.name} does not declare that it fetches"
        return self.graph.api(self.context)

    @property
    def selected(self) -> list[str]:
        """The names of the step's assets this run materializes."""
        return [spec.key.path[-1] for spec in self.step.specs if spec.key in self.context.selected_asset_keys]

    def wrote(self, key: str, metadata: dict[str, Any], asset: str | None = None) -> None:
        """Say that the day ``key`` of ``asset`` (the step's only asset by default) is stored."""
        self.written.append(WrittenDay(key, asset or self.step.name, metadata))

    def failed(self, key: str, error: BaseException) -> None:
        """Say that the day ``key`` could not be stored, and why."""
        self.failures.append(DayFailure(key, error))

    def total(self, metadata: dict[str, Any], asset: str | None = None) -> None:
        """Add to the run's own metadata of ``asset`` (the step's only asset by default)."""
        self.totals.setdefault(asset or self.step.name, {}).update(metadata)


DailyWork = Callable[[DailyRun], None]


def build_daily_asset(graph: DigaGraph, step: DailyStep, work: DailyWork) -> dg.AssetsDefinition:
    """The assets of ``step`` on the graph's daily partitions, each run doing ``work`` within the
    step (the module docstring says what the step does around it)."""
    names = graph.names
    resources = {names.storage_resource, *([names.api_resource] if step.fetches else [])}

    # backfill_policy is a beta parameter, used on purpose: a backfill's range runs as one run.
    with partitioned_definitions():

        @dg.multi_asset(
            name=names.name(step.name),
            specs=step.specs,
            partitions_def=graph.partitions_for(step.specs[0].key.path[-1]),
            backfill_policy=graph.backfill_policy,
            # API-fetching steps share one pool, so backfills and schedules queue for the API instead
            # of multiplying its load.
            pool=names.api_pool if step.fetches else None,
            can_subset=len(step.specs) > 1,
            required_resource_keys=resources,
        )
        def daily_step(context: dg.AssetExecutionContext) -> Iterator[dg.MaterializeResult]:
            run = DailyRun(context, graph, step, graph.storage(context), list(context.partition_keys))
            yield from run_daily_step(run, work)

    return daily_step


def run_daily_step(run: DailyRun, work: DailyWork) -> Iterator[dg.MaterializeResult]:
    """Do ``work`` for the run's days within the step; yield each selected asset's result."""
    context, graph, step = run.context, run.graph, run.step
    run.storage.check_writable()
    if failure := missing_upstream_days(run):
        raise failure
    try:
        work(run)
    except FATAL_RUN_ERRORS as exc:
        _record_written_days(run)
        raise dg.Failure(
            description=f"{step.name} stopped: {exc}. Days already stored were left as they were."
        ) from exc
    except BaseException:
        _record_written_days(run)
        raise
    if run.failures:
        _record_written_days(run)
        raise _failed_days(run)
    for day in run.written:
        context.add_asset_metadata(day.metadata, asset_key=graph.key(day.asset), partition_key=day.key)
    views = refresh_views(context, graph, run.storage.store) if step.refreshes_views else {}
    for asset in run.selected:
        yield dg.MaterializeResult(asset_key=graph.key(asset), metadata={**run.totals.get(asset, {}), **views})


def missing_upstream_days(run: DailyRun) -> dg.Failure | None:
    """The failure that refuses the run's days an upstream asset has not stored, naming the days
    and the commands that store them; ``None`` when nothing is missing."""
    layout = run.storage.layout
    for upstream in run.step.needs:
        locations = {key: upstream.location(layout, key) for key in run.keys}
        stored = set(run.storage.store.existing(locations.values()))
        missing = [key for key, location in locations.items() if location not in stored]
        if missing:
            commands = "\n".join(f"  {command}" for command in run.graph.names.rerun_commands(upstream.asset, missing))
            return dg.Failure(
                description=(
                    f"{run.step.name}: {upstream.asset} has no stored partition for {', '.join(missing)}, so nothing "
                    f"was written. {upstream.advice}:\n{commands}"
                ),
                metadata={"missing_days": missing},
            )
    return None


def _record_written_days(run: DailyRun) -> None:
    """Record the days that were stored before the run failed: they are on disk, and the UI must
    show them as materialized."""
    for day in run.written:
        run.context.log_event(
            dg.AssetMaterialization(asset_key=run.graph.key(day.asset), partition=day.key, metadata=day.metadata)
        )


def _failed_days(run: DailyRun) -> dg.Failure:
    """The failure naming the days that failed, and the commands that re-run just them."""
    failed = sorted(run.failures, key=lambda failure: failure.key)
    done = len({day.key for day in run.written})
    lines = [f"  {failure.key}: {type(failure.error).__name__}: {failure.error}" for failure in failed]
    commands = run.graph.names.rerun_commands(run.step.name, [failure.key for failure in failed])
    return dg.Failure(
        description=(
            f"{len(failed)} of {done + len(failed)} days failed; the other {done} were written and recorded, "
            "and the failed days kept their previous files.\n"
            + "\n".join(lines)
            + "\nRe-run just the failed days with:\n"
            + "\n".join(f"  {command}" for command in commands)
        ),
        metadata={"failed_days": [failure.key for failure in failed]},
    )


def daily_spec(
    graph: DigaGraph,
    asset: str,
    *,
    group: str,
    description: str,
    deps: Sequence[str] = (),
    **options: Any,
) -> dg.AssetSpec:
    """The spec of a daily asset of the graph: its key, group and upstream assets under the
    graph's names, on its partitions, owned like every asset of the project."""
    return dg.AssetSpec(
        key=graph.key(asset),
        group_name=graph.names.name(group),
        description=description,
        deps=graph.names.keys(deps),
        partitions_def=graph.partitions_for(asset),
        owners=OWNERS,
        freshness_policy=graph.freshness_policy(asset),
        **options,
    )
