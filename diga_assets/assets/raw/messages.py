"""``diga_call_messages``: the transcripts of each day's stored calls (opt-in: DIGA_TRANSCRIPTS).

A transcript is one request per call at least (``GET /v1/call/{id}/message``, paged when long),
so a day of 10,000 calls is 10,000 requests: they are sent ``max_concurrency`` at a time through
one client (its retries, its connection pool), and the day's file is written in the order of the
day's calls whatever order the answers come in. Transcripts hold what callers said: nothing of
their content goes to logs, metadata or error messages, only counts and ids.
"""

import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc

from diga_assets.api.client import DigaClient
from diga_assets.api.errors import DigaApiError, DigaAuthError, DigaCallNotFoundError
from diga_assets.api.records import TRANSCRIPTS, RecordError
from diga_assets.api.spec import UNFINISHED_CALL_STATUSES
from diga_assets.assets.common import DigaGraph
from diga_assets.assets.raw.common import raw_spec
from diga_assets.assets.step import RAW_CALLS, DailyRun, DailyStep, build_daily_asset
from diga_assets.names import CALLS_DATASET, DIGA_CALL_MESSAGES, DIGA_CALLS, MESSAGES_DATASET
from diga_assets.storage import DigaStorage

# Transcripts are a few dozen messages each: buffering this many rows before handing them to the
# Parquet writer keeps row groups large without holding a whole day in memory.
_ROWS_PER_WRITE = 64 * 1024
# Answers waiting to be written, per worker: the slowest transcript in flight holds back at most
# this many finished ones behind it.
_AHEAD_PER_WORKER = 4


@dataclass(frozen=True)
class Transcript:
    """One call's messages as Arrow, and what getting them took."""

    call_id: str
    rows: pa.RecordBatch | None  # None: the call is gone (404 CALL_NOT_FOUND)
    requests: int
    retries: int


@dataclass
class MessagesDayResult:
    """What fetching and writing one day's transcripts did (counts only, never content)."""

    key: str
    path: str
    calls_stored: int = 0
    calls_skipped_unfinished: int = 0
    calls_with_messages: int = 0
    calls_without_messages: int = 0
    calls_not_found: int = 0
    messages: int = 0
    requests: int = 0
    retries: int = 0
    seconds: float = 0.0
    roles: Counter[str] = field(default_factory=Counter)

    def add(self, transcript: Transcript) -> None:
        """Count one call's transcript in."""
        self.requests += transcript.requests
        self.retries += transcript.retries
        if transcript.rows is None:
            self.calls_not_found += 1
        elif transcript.rows.num_rows == 0:
            self.calls_without_messages += 1
        else:
            self.calls_with_messages += 1
            self.messages += transcript.rows.num_rows
            # A transcript is a few dozen rows: a Python count beats a compute kernel's call cost.
            self.roles.update(transcript.rows.column("role").to_pylist())

    def metadata(self) -> dict[str, Any]:
        """The day's materialization metadata: how many calls came to what, and the cost."""
        metadata: dict[str, Any] = {
            "dagster/row_count": self.messages,
            "calls_stored": self.calls_stored,
            "calls_with_messages": self.calls_with_messages,
            "calls_without_messages": self.calls_without_messages,
            "calls_not_found": self.calls_not_found,
            "calls_skipped_unfinished": self.calls_skipped_unfinished,
            "requests": self.requests,
            "retries": self.retries,
            "seconds": round(self.seconds, 3),
            "path": dg.MetadataValue.path(self.path),
        }
        for role, count in sorted(self.roles.items()):
            metadata[f"role_{role}"] = count
        return metadata


class CallTranscriptError(RuntimeError):
    """A call's transcript could not be fetched or read: names the day and the call, never what
    was said."""

    def __init__(self, key: str, call_id: str, error: Exception) -> None:
        super().__init__(f"day {key}, call {call_id}: {type(error).__name__}: {error}")
        self.key = key
        self.call_id = call_id


def fetch_transcript(client: DigaClient, call_id: str, stamp: datetime) -> Transcript:
    """One call's whole transcript as Arrow (no rows for 404 ``NO_MESSAGES_FOR_CALL``, ``rows``
    None for 404 ``CALL_NOT_FOUND``); any other error is raised."""
    requests = retries = 0
    records: list[dict[str, Any]] = []
    try:
        for page in client.iter_call_message_pages(call_id):
            requests += page.attempts
            retries += page.retries
            records.extend(page.data)
    except DigaCallNotFoundError as gone:
        return Transcript(call_id, None, requests + gone.attempts, retries + gone.attempts - 1)
    return Transcript(call_id, TRANSCRIPTS.to_record_batch(call_id, records, stamp), requests, retries)


def calls_to_transcribe(storage: DigaStorage, key: str) -> tuple[list[str], int]:
    """The ids of the day's stored calls that are over, in the day's order, and how many are
    still going on (``dialing``, ``in_queue``, ``in_progress``: their transcript is fetched when
    the day is fetched again)."""
    stored = storage.store.read_table(storage.layout.raw_partition(CALLS_DATASET, key), columns=["id", "status"])
    unfinished = pc.is_in(stored.column("status"), pa.array(sorted(UNFINISHED_CALL_STATUSES)))
    over = stored.filter(pc.invert(pc.fill_null(unfinished, False)))
    return over.column("id").to_pylist(), stored.num_rows - over.num_rows


def _in_order(
    pool: ThreadPoolExecutor, fetch: Callable[[str], Transcript], call_ids: Sequence[str], ahead: int
) -> Iterator[tuple[str, Transcript]]:
    """Each call's transcript in the order of ``call_ids``, at most ``ahead`` requested before
    the one being handed out; a failure is raised for the first call (in order) that failed,
    after the calls still queued are cancelled."""
    waiting: deque[tuple[str, Future[Transcript]]] = deque()
    remaining = iter(call_ids)
    try:
        for call_id in remaining:
            waiting.append((call_id, pool.submit(fetch, call_id)))
            if len(waiting) >= ahead:
                call, future = waiting.popleft()
                yield call, future.result()
        while waiting:
            call, future = waiting.popleft()
            yield call, future.result()
    finally:
        for _, future in waiting:
            future.cancel()


def fetch_messages_day(
    client: DigaClient,
    storage: DigaStorage,
    key: str,
    *,
    max_concurrency: int,
) -> MessagesDayResult:
    """Fetch the transcripts of the day ``key``'s stored calls that are over and replace the
    day's messages file atomically (the previous file stays when anything fails).

    Raises ``CallTranscriptError`` naming the call for an answer other than the two documented
    404s, and ``DigaAuthError`` as it is (every other day would fail the same way)."""
    started = time.monotonic()
    result = MessagesDayResult(key=key, path=storage.layout.raw_partition(MESSAGES_DATASET, key))
    call_ids, result.calls_skipped_unfinished = calls_to_transcribe(storage, key)
    result.calls_stored = len(call_ids) + result.calls_skipped_unfinished
    stamp = datetime.now(UTC)

    def fetch(call_id: str) -> Transcript:
        try:
            return fetch_transcript(client, call_id, stamp)
        except DigaAuthError:
            raise
        except (DigaApiError, RecordError) as error:
            raise CallTranscriptError(key, call_id, error) from error

    buffered: list[pa.RecordBatch] = []
    buffered_rows = 0
    with (
        storage.store.parquet_writer(result.path, TRANSCRIPTS.arrow_schema) as writer,
        ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix=f"diga-messages-{key}") as pool,
    ):
        for _, transcript in _in_order(pool, fetch, call_ids, max_concurrency * _AHEAD_PER_WORKER):
            result.add(transcript)
            if transcript.rows is not None and transcript.rows.num_rows:
                buffered.append(transcript.rows)
                buffered_rows += transcript.rows.num_rows
            if buffered_rows >= _ROWS_PER_WRITE:
                writer.write_batch(pa.Table.from_batches(buffered, schema=TRANSCRIPTS.arrow_schema))
                buffered, buffered_rows = [], 0
        if buffered:
            writer.write_batch(pa.Table.from_batches(buffered, schema=TRANSCRIPTS.arrow_schema))
    result.seconds = time.monotonic() - started
    return result


MESSAGES_DESCRIPTION = """The transcripts of each day's stored calls: one row per message (`call_id`, `id`,
`created_date`, `role`, `content`, `tool_call`), one Parquet file per day under
``raw/messages/date=YYYY-MM-DD/``.

Opt-in: not part of diga_calls_job; its own job and sensor (DIGA_TRANSCRIPTS=1 starts
the sensor). Calls still going on are skipped and fetched when their day runs again; a
call without messages (404 NO_MESSAGES_FOR_CALL) or deleted since (404 CALL_NOT_FOUND)
is counted in the day's metadata; any other error fails the day, naming the call, and
keeps its previous file. Requests go `max_concurrency` at a time."""


def fetch_messages(run: DailyRun) -> None:
    """The work of ``diga_call_messages``: the run's days one after the other, each day's
    transcripts ``max_concurrency`` at a time; a day whose transcript fails is left as it was."""
    started = time.monotonic()
    diga = run.api
    done: list[MessagesDayResult] = []
    with diga.make_client(logger=run.log) as client:
        for key in run.keys:
            try:
                result = fetch_messages_day(client, run.storage, key, max_concurrency=diga.max_concurrency)
            except CallTranscriptError as exc:
                run.log.error(f"{DIGA_CALL_MESSAGES}: {exc}")
                run.failed(key, exc)
                continue
            done.append(result)
            run.wrote(key, result.metadata())
            run.log.info(
                f"{DIGA_CALL_MESSAGES}: {len(done) + len(run.failures)}/{len(run.keys)} days done ({key}: "
                f"{result.messages} messages of {result.calls_with_messages} calls, {result.requests} requests, "
                f"{result.calls_skipped_unfinished} calls still going on)"
            )
    run.total(
        {
            "days": len(done),
            "run_messages": sum(r.messages for r in done),
            "run_requests": sum(r.requests for r in done),
            "run_seconds": round(time.monotonic() - started, 3),
        }
    )


def build_call_messages_asset(graph: DigaGraph) -> dg.AssetsDefinition:
    """``diga_call_messages`` on the graph's daily partitions, downstream of ``diga_calls``."""
    spec = raw_spec(
        graph,
        DIGA_CALL_MESSAGES,
        MESSAGES_DATASET,
        TRANSCRIPTS.arrow_schema,
        MESSAGES_DESCRIPTION,
        deps=[DIGA_CALLS],
        metadata={"personal_data": "content holds what callers said (see the README, Personal data)"},
    )
    step = DailyStep(DIGA_CALL_MESSAGES, [spec], needs=[RAW_CALLS], fetches=True)
    return build_daily_asset(graph, step, fetch_messages)
