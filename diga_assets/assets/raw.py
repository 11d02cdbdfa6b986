"""The raw layer: ``diga_calls`` and ``diga_phones``, the API as daily Parquet snapshots.

Pure fetch-and-write functions (``fetch_calls_day``, ``run_days``) sit apart from the asset
functions that take a Dagster context, so they are tested without Dagster.
"""

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from diga_assets.api.client import DigaClient, Page
from diga_assets.api.errors import (
    DigaAuthError,
    DigaConnectionError,
    DigaInvalidRequestError,
    DigaProtocolError,
    DigaRateLimitError,
    DigaServerError,
)
from diga_assets.api.read_ahead import ReadAhead
from diga_assets.api.records import CALLS, PHONES, RecordError, RecordTable
from diga_assets.partitions import DayWindow, day_window
from diga_assets.resources import DigaApiResource
from diga_assets.storage import AtomicParquetWriter, DigaStorage

CALLS_DATASET = "calls"
PHONES_DATASET = "phones"
RAW_GROUP = "diga_raw"
API_POOL = "diga_api"

# The spec does not say whether start_/end_created_date are inclusive, nor how finely the API
# compares. Asking for a second more on each side and keeping exactly [start, end) on the parsed
# instant is right under every reading.
_DATE_FILTER_SLACK = timedelta(seconds=1)

# Errors worth one more try of the whole day once the other days are done: the API was
# struggling, not refusing. Auth, invalid requests and bad records fail the day for good.
_RETRYABLE_DAY_ERRORS = (DigaServerError, DigaRateLimitError, DigaConnectionError, DigaProtocolError)
_FATAL_RUN_ERRORS = (DigaAuthError, DigaInvalidRequestError)


class RecordContractError(ValueError):
    """A record the API returned breaks the contract; names the request, the day and the record."""


@dataclass
class DayResult:
    """What fetching and writing one day's calls did."""

    window: DayWindow
    path: Path
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


def _count_values(batch: pa.RecordBatch, columns: Iterable[str], into: dict[str, Counter[str]]) -> None:
    for column in columns:
        counts = into.setdefault(column, Counter())
        for item in pc.value_counts(batch.column(column)).to_pylist():
            counts[item["values"]] += item["counts"]


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
    result = DayResult(window=window, path=storage.raw_partition_file(CALLS_DATASET, window.key))
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
        AtomicParquetWriter(result.path, CALLS.arrow_schema) as writer,
        ReadAhead(walk, name=f"diga-calls-{window.key}") as pages,
    ):
        for page in pages:
            if cancelled is not None and cancelled.is_set():
                raise InterruptedError(f"day {window.key} was cancelled")
            batch = _to_batch(CALLS, page, window)
            created = batch.column("created_date")
            in_window = pc.and_(pc.greater_equal(created, start), pc.less(created, end))
            in_window_batch = batch.filter(in_window)
            result.dropped_outside_window += batch.num_rows - in_window_batch.num_rows
            batch = _drop_seen_ids(in_window_batch, seen_ids)
            result.dropped_duplicates += in_window_batch.num_rows - batch.num_rows
            batch = storage.calls_to_store(batch)  # contact_identifier as an HMAC when pseudonymizing
            writer.write_batch(batch)
            _count_values(batch, CALLS.enum_columns, result.value_counts)
            result.pages += 1
            result.retries += page.retries
            result.waited_s += page.waited_s
        result.rows = writer.rows
    result.seconds = time.monotonic() - started
    return result


def _to_batch(table: RecordTable, page: Page, window: DayWindow | None) -> pa.RecordBatch:
    try:
        return table.to_record_batch(page.data, datetime.now(UTC))
    except RecordError as exc:
        where = f" for day {window.key}" if window else ""
        raise RecordContractError(f"{exc}; in the answer to {page.request_label}{where}") from exc


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


@dataclass
class DayFailure:
    """A day that could not be written, and why."""

    key: str
    error: BaseException


def run_days(
    windows: Sequence[DayWindow],
    fetch_day: Callable[[DayWindow, threading.Event], DayResult],
    *,
    max_concurrency: int,
    on_done: Callable[[DayResult], None] = lambda _: None,
    on_retry: Callable[[DayFailure], None] = lambda _: None,
) -> tuple[list[DayResult], list[DayFailure]]:
    """Fetch days concurrently; retry retryable failures once at the end; stop on fatal errors.

    Returns the successful days (in completion order) and the failures. A fatal error (a
    refused key, an invalid request) cancels the days not yet started and is re-raised.
    """
    cancelled = threading.Event()
    results: list[DayResult] = []
    failures: dict[str, DayFailure] = {}

    def run_round(round_windows: Sequence[DayWindow]) -> None:
        with ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="diga-day") as pool:
            pending: dict[Future[DayResult], DayWindow] = {
                pool.submit(fetch_day, window, cancelled): window for window in round_windows
            }
            fatal: BaseException | None = None
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    window = pending.pop(future)
                    try:
                        result = future.result()
                    except _FATAL_RUN_ERRORS as exc:
                        cancelled.set()
                        for other in pending:
                            other.cancel()
                        fatal = fatal or exc
                    except Exception as exc:
                        failures[window.key] = DayFailure(window.key, exc)
                    else:
                        failures.pop(window.key, None)
                        results.append(result)
                        on_done(result)
            if fatal is not None:
                raise fatal

    run_round(windows)
    retry = [w for w in windows if w.key in failures and isinstance(failures[w.key].error, _RETRYABLE_DAY_ERRORS)]
    for window in retry:
        on_retry(failures[window.key])
    if retry:
        run_round(retry)
    return results, sorted(failures.values(), key=lambda f: f.key)


def rerun_commands(asset_name: str, keys: Sequence[str]) -> list[str]:
    """The ``dagster asset materialize`` commands that re-run exactly ``keys`` (one per stretch)."""
    stretches: list[list[date]] = []
    for day in sorted(date.fromisoformat(k) for k in keys):
        if stretches and day - stretches[-1][-1] == timedelta(days=1):
            stretches[-1].append(day)
        else:
            stretches.append([day])
    base = f"dagster asset materialize -m diga_assets.definitions --select {asset_name}"
    commands = []
    for stretch in stretches:
        if len(stretch) == 1:
            commands.append(f"{base} --partition {stretch[0].isoformat()}")
        else:
            commands.append(f"{base} --partition-range {stretch[0].isoformat()}...{stretch[-1].isoformat()}")
    return commands


def _day_metadata(result: DayResult) -> dict[str, Any]:
    status_counts = result.value_counts.get("status", Counter())
    unknown = result.unknown_values(CALLS)
    metadata: dict[str, Any] = {
        "dagster/row_count": result.rows,
        "pages_fetched": result.pages,
        "retries": result.retries,
        "seconds": round(result.seconds, 3),
        "retry_wait_seconds": round(result.waited_s, 3),
        "dropped_outside_window": result.dropped_outside_window,
        "dropped_duplicate_ids": result.dropped_duplicates,
        "unknown_enum_values": sum(sum(v.values()) for v in unknown.values()),
        "path": dg.MetadataValue.path(str(result.path)),
    }
    for status, count in sorted(status_counts.items()):
        metadata[f"status_{status}"] = count
    if unknown:
        metadata["unknown_values"] = dg.MetadataValue.json(unknown)
    return metadata


def column_schema(table: RecordTable) -> dg.TableSchema:
    """The Dagster column schema of a raw table, from its Arrow schema and the spec's docs."""
    docs = table.column_docs()
    return dg.TableSchema(
        columns=[dg.TableColumn(name=f.name, type=str(f.type), description=docs[f.name]) for f in table.arrow_schema]
    )


def build_raw_assets(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    """The raw assets on the project's daily partitions (built at load time from settings)."""
    timezone = getattr(partitions_def, "timezone", None) or "UTC"
    # Both raw assets fetch from the API: one pool, so backfills and schedules queue for it.
    shared: dict[str, Any] = {
        "group_name": RAW_GROUP,
        "partitions_def": partitions_def,
        "backfill_policy": dg.BackfillPolicy.single_run(),
        "pool": API_POOL,
        "kinds": {"python", "parquet"},
        "owners": ["team:analytics"],
        "tags": {"layer": "raw", "source": "diga_api"},
    }

    @dg.asset(
        name="diga_calls",
        **shared,
        metadata={
            "dagster/column_schema": column_schema(CALLS),
            "layout": "raw/calls/date=YYYY-MM-DD/part-0.parquet",
        },
    )
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
        windows = [day_window(key, timezone) for key in context.partition_keys]
        started = time.monotonic()
        totals = Counter[str]()

        def log_progress(result: DayResult) -> None:
            totals["days"] += 1
            totals["rows"] += result.rows
            totals["pages"] += result.pages
            totals["retries"] += result.retries
            context.log.info(
                f"diga_calls: {totals['days']}/{len(windows)} days done ({result.window.key}: {result.rows} rows, "
                f"{result.pages} pages, {result.retries} retries); {totals['rows']} rows, {totals['pages']} pages "
                f"in {time.monotonic() - started:.1f}s"
            )

        def log_retry(failure: DayFailure) -> None:
            context.log.warning(f"diga_calls: retrying day {failure.key} once more after: {failure.error}")

        with diga.make_client(logger=context.log) as client:

            def fetch(window: DayWindow, cancelled: threading.Event) -> DayResult:
                return fetch_calls_day(client, storage, window, page_size=diga.calls_page_size, cancelled=cancelled)

            try:
                results, failures = run_days(
                    windows,
                    fetch,
                    max_concurrency=min(diga.max_concurrency, len(windows)),
                    on_done=log_progress,
                    on_retry=log_retry,
                )
            except _FATAL_RUN_ERRORS as exc:
                raise dg.Failure(
                    description=f"diga_calls stopped: {exc}. Partitions already stored were left as they were.",
                ) from exc

        if failures:
            # The days that did succeed are on disk: record them so the UI does not lie about them.
            for result in results:
                context.log_event(
                    dg.AssetMaterialization(
                        asset_key=context.asset_key,
                        partition=result.window.key,
                        metadata=_day_metadata(result),
                    )
                )
            lines = [f"  {f.key}: {type(f.error).__name__}: {f.error}" for f in failures]
            commands = "\n".join(f"  {c}" for c in rerun_commands("diga_calls", [f.key for f in failures]))
            raise dg.Failure(
                description=(
                    f"{len(failures)} of {len(windows)} days failed; the other {len(results)} were written "
                    "and recorded, and the failed days kept their previous files.\n"
                    + "\n".join(lines)
                    + f"\nRe-run just the failed days with:\n{commands}"
                ),
                metadata={"failed_days": [f.key for f in failures]},
            )

        for result in results:
            context.add_asset_metadata(_day_metadata(result), partition_key=result.window.key)
        return dg.MaterializeResult(
            metadata={
                "days": len(results),
                "run_rows": totals["rows"],
                "run_pages": totals["pages"],
                "run_retries": totals["retries"],
                "run_seconds": round(time.monotonic() - started, 3),
            }
        )

    @dg.asset(
        name="diga_phones",
        **shared,
        metadata={
            "dagster/column_schema": column_schema(PHONES),
            "layout": "raw/phones/date=YYYY-MM-DD/part-0.parquet",
        },
    )
    def diga_phones(
        context: dg.AssetExecutionContext, diga: DigaApiResource, storage: DigaStorage
    ) -> dg.MaterializeResult:
        """The phone register as observed: the full listing with the real ``observed_at``.

        The API only knows phones as they are now, so a past day's partition holds what was
        observed when it ran, and its metadata says how long after the day ended that was. A
        partition that already holds an observation closer to its day is kept, not overwritten
        by a later one.
        """
        storage.check_writable()
        with diga.make_client(logger=context.log) as client:
            snapshot, pages, retries = fetch_phone_snapshot(client, page_size=diga.phones_page_size)
        observed_at: datetime = snapshot.column("observed_at")[0].as_py() if snapshot.num_rows else datetime.now(UTC)
        kept = written = 0
        for key in context.partition_keys:
            window = day_window(key, timezone)
            path = storage.raw_partition_file(PHONES_DATASET, key)
            existing = existing_observation(path)
            lag_hours = (observed_at - window.end).total_seconds() / 3600
            if existing is not None and abs(existing - window.end) < abs(observed_at - window.end):
                kept += 1
                context.log.warning(
                    f"diga_phones {key}: kept the stored snapshot observed at {existing.isoformat()}, which is "
                    f"closer to the day's end than this run's ({observed_at.isoformat()})"
                )
                metadata = _phones_metadata(pq.read_table(path), existing, window, path, kept_existing=True)
            else:
                with AtomicParquetWriter(path, PHONES.arrow_schema) as writer:
                    writer.write_batch(snapshot)
                written += 1
                metadata = _phones_metadata(snapshot, observed_at, window, path, kept_existing=False)
                if lag_hours > 24:
                    context.log.warning(
                        f"diga_phones {key}: observed {lag_hours:.1f} hours after the day ended; it shows the "
                        "register as it was then, not as it was on that day"
                    )
            context.add_asset_metadata(metadata, partition_key=key)
        return dg.MaterializeResult(
            metadata={
                "partitions_written": written,
                "partitions_kept": kept,
                "pages_fetched": pages,
                "retries": retries,
            }
        )

    return [diga_calls, diga_phones]


def fetch_phone_snapshot(client: DigaClient, *, page_size: int) -> tuple[pa.Table, int, int]:
    """The whole phone listing as one table stamped with a single ``observed_at``."""
    observed_at = datetime.now(UTC)
    batches = []
    pages = retries = 0
    for page in client.iter_phone_pages(limit=page_size):
        try:
            batches.append(PHONES.to_record_batch(page.data, observed_at))
        except RecordError as exc:
            raise RecordContractError(f"{exc}; in the answer to {page.request_label}") from exc
        pages += 1
        retries += page.retries
    return pa.Table.from_batches(batches, schema=PHONES.arrow_schema), pages, retries


def existing_observation(path: Path) -> datetime | None:
    """The ``observed_at`` of a stored phone snapshot, or ``None`` when there is none."""
    if not path.exists():
        return None
    column = pq.read_table(path, columns=["observed_at"]).column("observed_at")
    return pc.min(column).as_py() if len(column) else None


def _phones_metadata(
    table: pa.Table, observed_at: datetime, window: DayWindow, path: Path, *, kept_existing: bool
) -> dict[str, Any]:
    statuses = Counter[str]()
    for item in pc.value_counts(table.column("status")).to_pylist():
        statuses[item["values"]] = item["counts"]
    unknown = {s: n for s, n in statuses.items() if s not in (PHONES.enum_values("status") or frozenset())}
    metadata: dict[str, Any] = {
        "dagster/row_count": table.num_rows,
        "observed_at": dg.MetadataValue.timestamp(observed_at),
        "observed_hours_after_day_end": round((observed_at - window.end).total_seconds() / 3600, 3),
        "kept_existing_snapshot": kept_existing,
        "unknown_enum_values": sum(unknown.values()),
        "path": dg.MetadataValue.path(str(path)),
    }
    for status, count in sorted(statuses.items()):
        metadata[f"status_{status}"] = count
    return metadata
