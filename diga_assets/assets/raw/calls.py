"""``diga_calls``: the calls created on each day, one Parquet file per day."""

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc

from diga_assets.api.client import DigaClient
from diga_assets.api.read_ahead import ReadAhead
from diga_assets.api.records import CALLS, UTC_MICROS, RecordTable
from diga_assets.api.spec import UNFINISHED_CALL_STATUSES
from diga_assets.api.split import split_window, sub_windows
from diga_assets.assets.common import DigaGraph
from diga_assets.assets.raw.common import page_to_batch, raw_spec
from diga_assets.assets.raw.days import run_days
from diga_assets.assets.step import DailyRun, DailyStep, DayFailure, build_daily_asset
from diga_assets.names import CALLS_DATASET, DIGA_CALLS
from diga_assets.partitions import DayWindow
from diga_assets.privacy import stored_calls_schema
from diga_assets.storage import DigaStorage
from diga_assets.storage.suppression import SuppressionList, record_suppressed_calls

# The spec does not say whether start_/end_created_date are inclusive, nor how finely the API
# compares. Asking for a second more on each side and keeping exactly [start, end) on the parsed
# instant is right under every reading.
DATE_FILTER_SLACK = timedelta(seconds=1)
# A day whose calls were bulk-deleted logs this many of their ids, and how many more.
_REMOVED_IDS_SHOWN = 50
# A call still dialing, queued or in progress this long after it was created has surely ended
# since: the audit fetches its stored day again, and today's refresh no longer walks back to it
# (the run after midnight fetches the whole day).
STALE_UNFINISHED_AFTER = timedelta(hours=3)
# A later sub-window of a day keeps every page it fetches until the ones before it are written.
_WAIT_WHOLE = 1 << 30


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
    # Calls the day's previous file held that the API no longer serves (deleted since).
    removed_ids: list[str] = field(default_factory=list)
    # Calls of erased callers (the suppression list) dropped before writing.
    suppressed: int = 0
    value_counts: dict[str, Counter[str]] = field(default_factory=dict)
    # How the day was walked: in how many sub-windows, and the requests that cut it.
    sub_windows: int = 1
    split_requests: int = 0
    # Fetched before the day ended: the day so far.
    partial: bool = False
    # A refresh of the day so far walked only from this instant (calls created since the newest
    # one stored, or since the oldest stored unfinished); the calls before it were kept.
    refreshed_from: datetime | None = None

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
            "sub_windows": self.sub_windows,
            "split_requests": self.split_requests,
            "partial": self.partial,
            "refreshed_from": self.refreshed_from.isoformat() if self.refreshed_from else "whole day",
            "retries": self.retries,
            "seconds": round(self.seconds, 3),
            "retry_wait_seconds": round(self.waited_s, 3),
            "dropped_outside_window": self.dropped_outside_window,
            "dropped_duplicate_ids": self.dropped_duplicates,
            "removed_since_last_fetch": len(self.removed_ids),
            "suppressed_calls": self.suppressed,
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
    suppression: tuple[SuppressionList, str | None] | None = None,
    parts: int = 1,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> DayResult:
    """Fetch every call created in ``window`` and replace that day's partition file atomically.

    With ``parts`` above 1 a day of more than a page is cut into up to ``parts`` sub-windows of
    about as many calls each (:func:`~diga_assets.api.split.split_window`), walked side by side;
    otherwise, and for small days, it is one cursor walk. Pages are converted as they arrive and
    written in order: the first sub-window streams into the Parquet writer (memory holds a few of
    its pages), the later ones wait converted until their turn. Calls of erased callers
    (``suppression``: the list and its key, as the run loaded them) are dropped before writing;
    a caller erased while the day was written is dropped from the file right after.

    A day that has not ended by now (``clock``, which also stamps ``fetched_at``) is partial.
    When it is stored already, only what can have changed is walked: from the oldest call stored
    unfinished (created in the last ``STALE_UNFINISHED_AFTER``), or else from the newest call
    stored, to the end of the day. The calls stored from before that instant are kept as they
    are; the rest are replaced by what the walk finds.
    """
    suppressed, key = suppression if suppression is not None else storage.suppression()
    started = time.monotonic()
    now = clock()
    result = DayResult(
        window=window, path=storage.layout.raw_partition(CALLS_DATASET, window.key), partial=now < window.end
    )
    seen_ids: set[str] = set()
    # What the day held before, to say how many of its calls the API no longer has (and, for a
    # day so far, the calls a refresh keeps).
    columns = None if result.partial else ["id"]
    stored = storage.store.read_table(result.path, columns=columns) if storage.store.exists(result.path) else None
    previous_ids = set(stored.column("id").to_pylist()) if stored is not None else set()
    kept: pa.Table | None = None
    if result.partial and stored is not None and (since := refresh_start(stored, now)) is not None:
        result.refreshed_from = since
        kept = stored.filter(pc.less(stored.column("created_date"), pa.scalar(since, type=UTC_MICROS)))
        if len(suppressed):
            kept = kept.filter(suppressed.keep_mask(kept, key))  # type: ignore[arg-type]
        parts = 1  # what changed is a few pages at most: cutting them would cost more requests than it saves
    cuts: tuple[datetime, ...] = ()
    if parts > 1:
        split = split_window(
            client,
            window.start,
            window.end,
            parts=parts,
            page_size=page_size,
            asked=(window.start - DATE_FILTER_SLACK, window.end + DATE_FILTER_SLACK),
        )
        cuts, result.split_requests = split.cuts, split.requests
    parts_of_day = sub_windows(result.refreshed_from or window.start, window.end, cuts)
    result.sub_windows = len(parts_of_day)
    with ExitStack() as walks, storage.store.parquet_writer(result.path, CALLS.arrow_schema) as writer:
        if kept is not None and kept.num_rows:
            # Stored as they were (already in the stored form: pseudonymized when configured).
            seen_ids.update(kept.column("id").to_pylist())
            for batch in kept.to_batches():
                writer.write_batch(batch)
                _count_values(batch, CALLS.enum_columns, result.value_counts)
        # The first sub-window is converted here as its pages arrive (its walk keeps one page
        # ahead); each later one is walked and converted by a thread of its own now, and waits
        # converted until its turn.
        readers: list[Iterable[_ConvertedPage]] = []
        for index, (low, high) in enumerate(parts_of_day):
            pages = walks.enter_context(closing(_converted_pages(client, window, low, high, page_size, clock)))
            if index:
                pages = walks.enter_context(
                    ReadAhead(pages, depth=_WAIT_WHOLE, name=f"diga-calls-{window.key}-{index}")
                )
            readers.append(pages)
        for reader in readers:
            for converted in reader:
                if cancelled is not None and cancelled.is_set():
                    raise InterruptedError(f"day {window.key} was cancelled")
                result.dropped_outside_window += converted.outside_window
                batch = _drop_seen_ids(converted.batch, seen_ids)
                result.dropped_duplicates += converted.batch.num_rows - batch.num_rows
                if len(suppressed):
                    allowed = batch.filter(suppressed.keep_mask(batch, key))  # type: ignore[arg-type]
                    result.suppressed += batch.num_rows - allowed.num_rows
                    batch = allowed
                batch = storage.calls_to_store(batch)  # contact_identifier as an HMAC when pseudonymizing
                writer.write_batch(batch)
                _count_values(batch, CALLS.enum_columns, result.value_counts)
                result.pages += 1
                result.retries += converted.retries
                result.waited_s += converted.waited_s
        result.rows = writer.rows
    # An erasure that listed callers after the run loaded the list rewrote the days stored then;
    # this day was being written meanwhile, so it is filtered again now (erasure lists first,
    # then rewrites: whichever finishes last, the day ends without those calls).
    latest, key = storage.suppression()
    if len(latest) > len(suppressed):
        rewritten = storage.store.swap_table(result.path, lambda stored: _without(stored, latest, key))
        if rewritten is not None:
            result.suppressed += result.rows - rewritten.num_rows
            result.rows = rewritten.num_rows
    result.removed_ids = sorted(previous_ids - seen_ids)
    if result.suppressed or len(latest):
        record_suppressed_calls(storage.store, window.key, result.suppressed, replace=True)
    result.seconds = time.monotonic() - started
    return result


@dataclass
class _ConvertedPage:
    """One page of a sub-window as Arrow, cut to the sub-window, with what it cost."""

    batch: pa.RecordBatch
    # Calls outside the whole day (in the slack); those outside only the sub-window are its neighbour's.
    outside_window: int
    retries: int
    waited_s: float


def _converted_pages(
    client: DigaClient, window: DayWindow, low: datetime, high: datetime, page_size: int, clock: Callable[[], datetime]
) -> Iterator[_ConvertedPage]:
    """The pages of one sub-window ``[low, high)`` of ``window``, walked with the slack on each
    side and cut exactly on the parsed instant."""
    day_start, day_end = pa.scalar(window.start, type=UTC_MICROS), pa.scalar(window.end, type=UTC_MICROS)
    part_start, part_end = pa.scalar(low, type=UTC_MICROS), pa.scalar(high, type=UTC_MICROS)
    walk = client.iter_call_pages(
        start_created_date=low - DATE_FILTER_SLACK, end_created_date=high + DATE_FILTER_SLACK, limit=page_size
    )
    # The next page is requested while this one is converted: the conversion hides behind the
    # API's latency (still one request in flight per sub-window).
    with ReadAhead(walk, name=f"diga-walk-{window.key}-{low:%H%M%S}") as pages:
        for page in pages:
            batch = page_to_batch(CALLS, page, clock(), where=f" for day {window.key}")
            created = batch.column("created_date")
            in_day = pc.and_(pc.greater_equal(created, day_start), pc.less(created, day_end))
            in_part = pc.and_(pc.greater_equal(created, part_start), pc.less(created, part_end))
            yield _ConvertedPage(
                batch=batch.filter(in_part),
                outside_window=batch.num_rows - (pc.sum(in_day).as_py() or 0),
                retries=page.retries,
                waited_s=page.waited_s,
            )


def refresh_start(stored: pa.Table, now: datetime) -> datetime | None:
    """Where a refresh of the stored day so far walks from: the oldest call stored unfinished
    and created in the last ``STALE_UNFINISHED_AFTER``, or else the newest call stored (calls
    created at its very instant may have arrived since). None for a day stored empty."""
    if stored.num_rows == 0:
        return None
    created = stored.column("created_date")
    recent = pc.greater_equal(created, pa.scalar(now - STALE_UNFINISHED_AFTER, type=UTC_MICROS))
    unfinished = pc.and_(pc.is_in(stored.column("status"), pa.array(sorted(UNFINISHED_CALL_STATUSES))), recent)
    candidates = [pc.max(created).as_py(), pc.min(created.filter(unfinished)).as_py()]
    return min(instant for instant in candidates if instant is not None)


def _without(stored: pa.Table | None, suppressed: SuppressionList, key: str | None) -> pa.Table | None:
    """``stored`` without the calls of listed callers; None (keep it) when it has none."""
    if stored is None:
        return None
    kept = stored.filter(suppressed.keep_mask(stored, key))  # type: ignore[arg-type]
    return kept if kept.num_rows < stored.num_rows else None


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
        if removed := result.removed_ids:
            # Call ids are not personal data; nothing of the calls' contents is logged.
            shown = ", ".join(removed[:_REMOVED_IDS_SHOWN]) + (
                f" and {len(removed) - _REMOVED_IDS_SHOWN} more" if len(removed) > _REMOVED_IDS_SHOWN else ""
            )
            self.log.info(
                f"{DIGA_CALLS}: {result.window.key}: {len(removed)} call(s) stored before are no longer "
                f"in the API (deleted) and were removed: {shown}"
            )
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


CALLS_DESCRIPTION = """Calls created on each partition day (half-open window in the partition time zone),
one Parquet file per day under ``raw/calls/date=YYYY-MM-DD/``.

A range backfill is one run that fetches days concurrently (``max_concurrency``).
Re-materializing a day replaces its file atomically; days that succeed stay written
when others fail, and the failure names the exact command that re-runs the rest."""


def fetch_calls(run: DailyRun) -> None:
    """The work of ``diga_calls``: the run's days fetched concurrently, each written whole."""
    windows = run.windows
    progress = RunProgress(run.log, len(windows))
    diga = run.api
    # Fewer days than requests allowed in flight: each day is cut into sub-windows walked side by
    # side, so one busy day (today's, a day re-fetched alone) is not one long chain of pages.
    parts = max(1, diga.max_concurrency // len(windows))
    with diga.make_client(logger=run.log) as client:
        try:
            suppression = run.storage.suppression()
        except ValueError as exc:
            raise dg.Failure(description=f"{DIGA_CALLS}: {exc}") from None

        def fetch(window: DayWindow, cancelled: threading.Event) -> DayResult:
            return fetch_calls_day(
                client,
                run.storage,
                window,
                page_size=diga.calls_page_size,
                cancelled=cancelled,
                suppression=suppression,
                parts=parts,
            )

        results, failures = run_days(
            windows,
            fetch,
            max_concurrency=min(diga.max_concurrency, len(windows)),
            on_done=progress.day_done,
            on_retry=progress.retrying,
        )
    for result in results:
        run.wrote(result.window.key, result.metadata())
    for failure in failures:
        run.failed(failure.key, failure.error)
    run.total(progress.run_metadata())


def build_calls_asset(graph: DigaGraph) -> dg.AssetsDefinition:
    """``diga_calls`` on the graph's daily partitions; whether the graph pseudonymizes says in the
    UI whether ``contact_identifier`` holds numbers or their HMACs."""
    pseudonymized = graph.settings.pseudonymize_contacts
    spec = raw_spec(
        graph,
        DIGA_CALLS,
        CALLS_DATASET,
        stored_calls_schema(pseudonymized=pseudonymized),
        CALLS_DESCRIPTION,
        metadata={"contact_identifier_pseudonymized": pseudonymized},
    )
    return build_daily_asset(graph, DailyStep(DIGA_CALLS, [spec], fetches=True), fetch_calls)
