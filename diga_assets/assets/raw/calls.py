"""``diga_calls``: the calls created on each day, one Parquet file per day."""

import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc

from diga_assets.api.client import DigaClient
from diga_assets.api.read_ahead import ReadAhead
from diga_assets.api.records import CALLS, RecordTable
from diga_assets.assets.raw.common import page_to_batch, raw_asset_options
from diga_assets.assets.raw.days import FATAL_RUN_ERRORS, DayFailure, run_days
from diga_assets.names import CALLS_DATASET, DIGA_CALLS
from diga_assets.partitions import DayWindow, day_window, rerun_commands
from diga_assets.privacy import stored_calls_schema
from diga_assets.resources import DigaApiResource
from diga_assets.storage import DigaStorage

# The spec does not say whether start_/end_created_date are inclusive, nor how finely the API
# compares. Asking for a second more on each side and keeping exactly [start, end) on the parsed
# instant is right under every reading.
_DATE_FILTER_SLACK = timedelta(seconds=1)


@dataclass
class DayResult:
    """What fetching and writing one day's calls did."""

    window: DayWindow
    path: str
    rows: int = 0
    pages: int = 0
    retries: int = 0
    waited_s: float = 0.0
    seconds: float = 0.0
    dropped_outside_window: int = 0
    dropped_duplicates: int = 0
    value_counts: dict[str, Counter[str]] = field(default_factory=dict)

    def unknown_values(self, table: RecordTable) -> dict[str, dict[str, int]]:
        """Values of enum columns that the published spec does not list, with their counts."""
        unknown: dict[str, dict[str, int]] = {}
        for column, counts in self.value_counts.items():
            allowed = table.enum_values(column) or frozenset()
            extra = {value: n for value, n in counts.items() if value not in allowed}
            if extra:
                unknown[column] = extra
        return unknown

    def metadata(self) -> dict[str, Any]:
        """The day's materialization metadata: counts, cost, unknown values, the file."""
        status_counts = self.value_counts.get("status", Counter())
        unknown = self.unknown_values(CALLS)
        metadata: dict[str, Any] = {
            "dagster/row_count": self.rows,
            "pages_fetched": self.pages,
            "retries": self.retries,
            "seconds": round(self.seconds, 3),
            "retry_wait_seconds": round(self.waited_s, 3),
            "dropped_outside_window": self.dropped_outside_window,
            "dropped_duplicate_ids": self.dropped_duplicates,
            "unknown_enum_values": sum(sum(v.values()) for v in unknown.values()),
            "path": dg.MetadataValue.path(self.path),
        }
        for status, count in sorted(status_counts.items()):
            metadata[f"status_{status}"] = count
        if unknown:
            metadata["unknown_values"] = dg.MetadataValue.json(unknown)
        return metadata


def fetch_calls_day(
    client: DigaClient,
    storage: DigaStorage,
    window: DayWindow,
    *,
    page_size: int,
    cancelled: threading.Event | None = None,
) -> DayResult:
    """Fetch every call created in ``window`` and replace that day's partition file atomically.

    Pages stream into the Parquet writer as they arrive, so memory holds two pages at a time:
    the one being written and the next, fetched meanwhile.
    """
    started = time.monotonic()
    result = DayResult(window=window, path=storage.layout.raw_partition(CALLS_DATASET, window.key))
    start = pa.scalar(window.start, type=pa.timestamp("us", tz="UTC"))
    end = pa.scalar(window.end, type=pa.timestamp("us", tz="UTC"))
    seen_ids: set[str] = set()
    walk = client.iter_call_pages(
        start_created_date=window.start - _DATE_FILTER_SLACK,
        end_created_date=window.end + _DATE_FILTER_SLACK,
        limit=page_size,
    )
    # The next page is requested while this one is converted and written (still one request in
    # flight per day): the conversion hides behind the API's latency.
    with (
        storage.store.parquet_writer(result.path, CALLS.arrow_schema) as writer,
        ReadAhead(walk, name=f"diga-calls-{window.key}") as pages,
    ):
        for page in pages:
            if cancelled is not None and cancelled.is_set():
                raise InterruptedError(f"day {window.key} was cancelled")
            batch = page_to_batch(CALLS, page, datetime.now(UTC), where=f" for day {window.key}")
            created = batch.column("created_date")
            in_window = batch.filter(pc.and_(pc.greater_equal(created, start), pc.less(created, end)))
            result.dropped_outside_window += batch.num_rows - in_window.num_rows
            batch = _drop_seen_ids(in_window, seen_ids)
            result.dropped_duplicates += in_window.num_rows - batch.num_rows
            batch = storage.calls_to_store(batch)  # contact_identifier as an HMAC when pseudonymizing
            writer.write_batch(batch)
            _count_values(batch, CALLS.enum_columns, result.value_counts)
            result.pages += 1
            result.retries += page.retries
            result.waited_s += page.waited_s
        result.rows = writer.rows
    result.seconds = time.monotonic() - started
    return result


def _drop_seen_ids(batch: pa.RecordBatch, seen: set[str]) -> pa.RecordBatch:
    """Drop calls already written for this day (a page boundary that moved under the cursor)."""
    ids = batch.column("id").to_pylist()
    if seen.isdisjoint(ids) and len(set(ids)) == len(ids):
        seen.update(ids)  # the common case, decided by set operations rather than a loop
        return batch
    keep = []
    for call_id in ids:
        keep.append(call_id not in seen)
        seen.add(call_id)
    return batch if all(keep) else batch.filter(pa.array(keep))


def _count_values(batch: pa.RecordBatch, columns: Iterable[str], into: dict[str, Counter[str]]) -> None:
    for column in columns:
        counts = into.setdefault(column, Counter())
        for item in pc.value_counts(batch.column(column)).to_pylist():
            counts[item["values"]] += item["counts"]


class RunProgress:
    """The run's running totals, logged as each day is done."""

    def __init__(self, log: dg.DagsterLogManager, days: int) -> None:
        self.log = log
        self.days = days
        self.totals = Counter[str]()
        self.started = time.monotonic()

    def day_done(self, result: DayResult) -> None:
        """Count the day in and log where the run stands."""
        totals = self.totals
        totals.update(days=1, rows=result.rows, pages=result.pages, retries=result.retries)
        self.log.info(
            f"{DIGA_CALLS}: {totals['days']}/{self.days} days done ({result.window.key}: {result.rows} rows, "
            f"{result.pages} pages, {result.retries} retries); {totals['rows']} rows, {totals['pages']} pages "
            f"in {time.monotonic() - self.started:.1f}s"
        )

    def retrying(self, failure: DayFailure) -> None:
        """Say that a failed day gets one more try."""
        self.log.warning(f"{DIGA_CALLS}: retrying day {failure.key} once more after: {failure.error}")

    def run_metadata(self) -> dict[str, Any]:
        """The run's totals, for the step's materialization."""
        return {
            "days": self.totals["days"],
            "run_rows": self.totals["rows"],
            "run_pages": self.totals["pages"],
            "run_retries": self.totals["retries"],
            "run_seconds": round(time.monotonic() - self.started, 3),
        }


def _failed_days(
    context: dg.AssetExecutionContext, results: Sequence[DayResult], failures: Sequence[DayFailure]
) -> dg.Failure:
    """Record the days that were written, then the failure that names the others and how to
    re-run just them."""
    # The days that did succeed are on disk: record them so the UI does not lie about them.
    for result in results:
        context.log_event(
            dg.AssetMaterialization(
                asset_key=context.asset_key, partition=result.window.key, metadata=result.metadata()
            )
        )
    lines = [f"  {f.key}: {type(f.error).__name__}: {f.error}" for f in failures]
    commands = "\n".join(f"  {c}" for c in rerun_commands(DIGA_CALLS, [f.key for f in failures]))
    return dg.Failure(
        description=(
            f"{len(failures)} of {len(results) + len(failures)} days failed; the other {len(results)} were written "
            "and recorded, and the failed days kept their previous files.\n"
            + "\n".join(lines)
            + f"\nRe-run just the failed days with:\n{commands}"
        ),
        metadata={"failed_days": [f.key for f in failures]},
    )


def build_calls_asset(
    partitions: dg.DailyPartitionsDefinition, *, backfill_policy: dg.BackfillPolicy, pseudonymized: bool = False
) -> dg.AssetsDefinition:
    """``diga_calls`` on the project's daily partitions; ``pseudonymized`` says in the UI whether
    ``contact_identifier`` holds numbers or their HMACs."""
    options = raw_asset_options(
        partitions,
        backfill_policy,
        stored_calls_schema(pseudonymized=pseudonymized),
        CALLS_DATASET,
        contact_identifier_pseudonymized=pseudonymized,
    )

    @dg.asset(name=DIGA_CALLS, **options)
    def diga_calls(
        context: dg.AssetExecutionContext, diga: DigaApiResource, storage: DigaStorage
    ) -> dg.MaterializeResult:
        """Calls created on each partition day (half-open window in the partition time zone),
        one Parquet file per day under ``raw/calls/date=YYYY-MM-DD/``.

        A range backfill is one run that fetches days concurrently (``max_concurrency``).
        Re-materializing a day replaces its file atomically; days that succeed stay written
        when others fail, and the failure names the exact command that re-runs the rest.
        """
        storage.check_writable()
        windows = [day_window(partitions, key) for key in context.partition_keys]
        progress = RunProgress(context.log, len(windows))
        with diga.make_client(logger=context.log) as client:

            def fetch(window: DayWindow, cancelled: threading.Event) -> DayResult:
                return fetch_calls_day(client, storage, window, page_size=diga.calls_page_size, cancelled=cancelled)

            try:
                results, failures = run_days(
                    windows,
                    fetch,
                    max_concurrency=min(diga.max_concurrency, len(windows)),
                    on_done=progress.day_done,
                    on_retry=progress.retrying,
                )
            except FATAL_RUN_ERRORS as exc:
                raise dg.Failure(
                    description=f"{DIGA_CALLS} stopped: {exc}. Partitions already stored were left as they were.",
                ) from exc
        if failures:
            raise _failed_days(context, results, failures)
        for result in results:
            context.add_asset_metadata(result.metadata(), partition_key=result.window.key)
        return dg.MaterializeResult(metadata=progress.run_metadata())

    return diga_calls
