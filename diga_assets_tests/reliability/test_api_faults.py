"""Every API fault the project knows of, injected by the simulator over real HTTP while the real
``diga_calls`` asset runs through ``dagster.materialize`` with real resources.

A fault may end a run one of two ways, and nothing in between: the run succeeds with exactly the
rows the simulated world holds for each day, or it fails with an error that names the request, and
every partition stored before is byte-identical afterwards. The simulator's request log says what
each fault cost, so the retry caps are checked to the request; and the API key never shows up in
what a failing run leaves behind (its error, its event log, its console output).

Runs fetch one day at a time (``max_concurrency=1``) unless a test says otherwise, so scripted
faults land on a known page: the first page of the first day.
"""

import hashlib
import itertools
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import dagster as dg
import pyarrow.parquet as pq
import pytest

from diga_assets.assets.common import DigaGraph
from diga_assets.assets.raw import build_raw_assets
from diga_assets.simulator import DigaSimulator, Fault, RequestRecord, World
from diga_assets_tests.assets.conftest import api_resource, range_tags, settings_for, storage_for, window_of
from diga_assets_tests.conftest import SIM_KEY, SIM_NOW, StartSimulator

CALLS = "/v1/call/"
DAYS = ["2026-11-17", "2026-11-18", "2026-11-19"]  # whole days inside the simulator's 5-day window
STORED_DAY, NEW_DAY = DAYS[0], DAYS[1]
WORLD: dict[str, Any] = {"now": SIM_NOW, "days": 5, "calls_per_day": 40}
PAGE_SIZE = 10  # about four pages a day, so every walk follows several cursors
MAX_ATTEMPTS = 3
# Only the slow-fault cases shorten the read timeout (api_resource's is 10 s): short enough that a
# slow fault costs little, long enough that a loaded machine does not time out on a healthy page,
# which would add a request and break the exact counts.
READ_TIMEOUT_S = 0.5
SLOW_S = 1.5


# ---------------------------------------------------------------- running the asset


@dataclass
class Run:
    """One materialization of ``diga_calls`` and the instance that recorded it."""

    result: dg.ExecuteInProcessResult
    instance: dg.DagsterInstance

    @property
    def failure(self) -> str:
        """The step failure's message (the run must have failed)."""
        [event] = self.result.get_step_failure_events()
        return event.event_specific_data.error.message

    def everything_logged(self) -> str:
        """Every event the run logged (messages, errors with tracebacks, metadata), serialized."""
        return "\n".join(dg.serialize_value(entry) for entry in self.instance.all_logs(self.result.run_id))

    def recorded_partitions(self) -> list[str]:
        """Partitions the instance recorded as materialized, failed runs included."""
        records = self.instance.fetch_materializations(dg.AssetKey("diga_calls"), limit=100).records
        return sorted(record.partition_key for record in records)

    def retries_recorded(self) -> int:
        """The sum of the per-day ``retries`` metadata of a successful run."""
        return sum(
            event.event_specific_data.materialization.metadata["retries"].value
            for event in self.result.get_asset_materialization_events()
        )


def materialize_calls(sim: DigaSimulator, tmp_path: Path, days: list[str], **resource_overrides: Any) -> Run:
    """Materialize ``diga_calls`` for consecutive days against a simulator, into tmp_path/data."""
    diga_calls, *_ = build_raw_assets(DigaGraph(settings_for(tmp_path / "data")))
    config: dict[str, Any] = {
        "calls_page_size": PAGE_SIZE,
        "max_concurrency": 1,
        "max_attempts": MAX_ATTEMPTS,
        **resource_overrides,
    }
    partition: dict[str, Any] = {"tags": range_tags(days[0], days[-1])} if len(days) > 1 else {"partition_key": days[0]}
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [diga_calls],
        resources={"diga": api_resource(sim, **config), "storage": storage_for(tmp_path)},
        raise_on_error=False,
        instance=instance,
        **partition,
    )
    return Run(result, instance)


RunCalls = Callable[..., Run]


@pytest.fixture
def run_calls(tmp_path: Path) -> RunCalls:
    """``run_calls(sim, days, **resource_overrides)``: materialize into this test's tmp_path."""

    def run(sim: DigaSimulator, days: list[str], **resource_overrides: Any) -> Run:
        return materialize_calls(sim, tmp_path, days, **resource_overrides)

    return run


@pytest.fixture(scope="module")
def stored_day(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """STORED_DAY's partition file as a clean run of the asset writes it. Worlds are a pure
    function of their arguments, so it holds exactly the calls of every test's world; one run
    for the module instead of one per test keeps the suite inside its time budget."""
    tmp_path = tmp_path_factory.mktemp("stored-day")
    with DigaSimulator(World(**WORLD), api_key=SIM_KEY) as sim:
        run = materialize_calls(sim, tmp_path, [STORED_DAY])
    assert run.result.success, run.failure
    return partition_file(tmp_path, STORED_DAY).read_bytes()


def store_day(tmp_path: Path, content: bytes) -> Path:
    """Put a previously materialized partition in place, as an earlier run would have left it."""
    path = partition_file(tmp_path, STORED_DAY)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


ReadConsole = Callable[[], str]


@pytest.fixture
def console(capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> Iterator[ReadConsole]:
    """Everything printed, or logged through Python logging, during the test, as one text."""
    caplog.set_level(logging.DEBUG)

    def read() -> str:
        out, err = capfd.readouterr()
        return "\n".join((out, err, caplog.text))

    yield read


def start_world(start_simulator: StartSimulator, *, validate: bool = True) -> DigaSimulator:
    """A simulator over the suite's small world; its served bodies are contract-checked at teardown."""
    sim = start_simulator(**WORLD, validate=validate)
    for key in DAYS:
        assert len(expected_ids(sim.world, key)) > 2 * PAGE_SIZE, f"{key} should take several pages"
    return sim


# ---------------------------------------------------------------- what is stored, what was asked


def partition_file(tmp_path: Path, key: str) -> Path:
    return Path(storage_for(tmp_path).layout.raw_partition("calls", key))


def stored_ids(tmp_path: Path, key: str) -> list[str]:
    return pq.read_table(partition_file(tmp_path, key), columns=["id"]).column("id").to_pylist()


def expected_ids(world: World, key: str) -> list[str]:
    window = window_of(key, "UTC")
    return [call["id"] for call in world.calls_created_between(window.start, window.end)]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def leftovers(tmp_path: Path) -> list[str]:
    """Temporary files of aborted writes left in any partition folder."""
    root = Path(storage_for(tmp_path).layout.raw_dir("calls"))
    return sorted(p.name for p in root.glob("date=*/.*")) if root.exists() else []


def day_of(record: RequestRecord) -> str:
    # The asset asks for a little more than the day on each side; the middle of that is the day.
    start = datetime.fromisoformat(record.query["start_created_date"])
    end = datetime.fromisoformat(record.query["end_created_date"])
    return (start + (end - start) / 2).date().isoformat()


def page_of(record: RequestRecord) -> tuple[str, str | None]:
    """Which page of which day's walk a request asked for."""
    return day_of(record), record.query.get("after")


def request_label(record: RequestRecord) -> str:
    """The request as the client names it in errors: ``GET /v1/call/?start_created_date=...``."""
    return f"GET {record.path}?{urlencode(record.query)}"


def walks(sim: DigaSimulator) -> dict[str, list[int]]:
    """For each day, how many requests each page of its walk took, in walk order."""
    counts = Counter(page_of(record) for record in sim.requests_to(CALLS))
    per_day: dict[str, list[int]] = {}
    for day, after in dict.fromkeys(page_of(record) for record in sim.requests_to(CALLS)):
        per_day.setdefault(day, []).append(counts[day, after])
    return per_day


def faulted(sim: DigaSimulator) -> list[RequestRecord]:
    return [record for record in sim.requests_to(CALLS) if record.fault is not None]


def assert_key_never_leaked(run: Run, console: ReadConsole) -> None:
    text = "\n".join((run.everything_logged(), console()))
    assert "GET /v1/call/?" in text, "the logs should name the requests, or this check looks at nothing"
    assert SIM_KEY not in text


# ---------------------------------------------------------------- faults that pass


@dataclass(frozen=True)
class Transient:
    """Faults that hit the first day's walk and then stop: the run must still be exact.

    ``extra`` is what they must cost, as extra requests per page of the first day's walk (0 is
    its first page); every other page must be asked for exactly once. ``retries`` is what the
    day's metadata must report; ``min_gap_s`` is the least pause the server must see between
    the requests of the faulted page (a Retry-After being honoured).
    """

    faults: tuple[Fault | None, ...]
    extra: dict[int, int]
    retries: int
    min_gap_s: float = 0.0
    overrides: dict[str, Any] = field(default_factory=dict)


TRANSIENT = {
    # The client waits the Retry-After, so two 1-second answers cost two seconds: it is real time.
    "429-storm-retry-after-seconds": Transient(
        (Fault("status", status=429, retry_after="1"),) * 2, extra={0: 2}, retries=2, min_gap_s=1.0
    ),
    # An HTTP-date has whole seconds: "2 s from now" is more than one second away when it arrives.
    "429-retry-after-http-date": Transient(
        (Fault("status", status=429, retry_after="http-date", retry_after_seconds=2),),
        extra={0: 1},
        retries=1,
        min_gap_s=1.0,
    ),
    # Four errors and a success is exactly max_attempts=5: the last allowed attempt is used.
    "5xx-burst-500-502-503-504": Transient(
        tuple(Fault("status", status=s) for s in (500, 502, 503, 504)),
        extra={0: 4},
        retries=4,
        overrides={"max_attempts": 5},
    ),
    "502-html-from-a-proxy": Transient((Fault("status", status=502, html=True),) * 2, extra={0: 2}, retries=2),
    "connection-dropped-mid-body": Transient((Fault("drop_mid_body"),) * 2, extra={0: 2}, retries=2),
    "connection-dropped-before-answering": Transient((Fault("drop"),) * 2, extra={0: 2}, retries=2),
    "truncated-json-body": Transient((Fault("truncate"),) * 2, extra={0: 2}, retries=2),
    "slower-than-the-read-timeout": Transient(
        (Fault("slow", delay_s=SLOW_S),), extra={0: 1}, retries=1, overrides={"read_timeout_s": READ_TIMEOUT_S}
    ),
    # Walk-level faults are not retried in place: the whole day is walked again once the other
    # days are done, so every page up to the faulted one is asked for twice.
    "cursor-that-does-not-advance": Transient((None, Fault("stuck_cursor")), extra={0: 1, 1: 1}, retries=0),
    "has-more-with-empty-data": Transient((Fault("empty_has_more"),), extra={0: 1}, retries=0),
}


@pytest.mark.parametrize("case", TRANSIENT.values(), ids=TRANSIENT.keys())
def test_a_transient_fault_is_survived_with_exactly_the_right_rows_at_a_bounded_cost(
    start_simulator: StartSimulator,
    run_calls: RunCalls,
    console: ReadConsole,
    tmp_path: Path,
    case: Transient,
) -> None:
    """A fault that stops before the caps must not cost a single row, nor more than one request
    per fault (or one walk of the day per walk-level fault)."""
    sim = start_world(start_simulator)
    sim.faults.add(*case.faults)

    run = run_calls(sim, DAYS, **case.overrides)

    assert run.result.success, run.failure
    for key in DAYS:
        assert stored_ids(tmp_path, key) == expected_ids(sim.world, key), key
    assert sim.faults.pending() == [], "every scripted fault should have been served"
    assert len(faulted(sim)) == sum(fault is not None for fault in case.faults)
    per_day = walks(sim)
    assert sorted(per_day) == DAYS
    first, *others = DAYS
    assert per_day[first] == [1 + case.extra.get(i, 0) for i in range(len(per_day[first]))]
    for key in others:
        assert per_day[key] == [1] * len(per_day[key]), f"{key} was never faulted"
    assert run.retries_recorded() == case.retries
    if case.min_gap_s:
        arrivals = [r.at for r in sim.requests_to(CALLS) if page_of(r) == (first, None)]
        gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
        assert gaps and min(gaps) >= case.min_gap_s, f"Retry-After not honoured: {gaps}"
    assert_key_never_leaked(run, console)


def test_a_5xx_burst_across_concurrent_days_costs_one_request_per_error(
    start_simulator: StartSimulator, run_calls: RunCalls, tmp_path: Path
) -> None:
    """With days fetched at once the burst lands on several walks; each error still costs exactly
    one more request of the page it hit, and no page goes past its cap."""
    sim = start_world(start_simulator)
    burst = [Fault("status", status=s) for s in (500, 502, 503, 504, 503, 502)]
    sim.faults.add(*burst)

    run = run_calls(sim, DAYS, max_concurrency=3, max_attempts=len(burst) + 1)

    assert run.result.success, run.failure
    for key in DAYS:
        assert stored_ids(tmp_path, key) == expected_ids(sim.world, key), key
    assert sim.faults.pending() == []
    requests = Counter(page_of(record) for record in sim.requests_to(CALLS))
    errors = Counter(page_of(record) for record in faulted(sim))
    assert sum(errors.values()) == len(burst)
    assert requests == Counter({page: 1 + errors[page] for page in requests})
    assert run.retries_recorded() == len(burst)


# ---------------------------------------------------------------- faults that fail the run


@dataclass(frozen=True)
class Persistent:
    """Faults repeated for as long as the run asks: every day must fail, cleanly.

    Per day and per round (the asset tries a failed day once more at the end), the walk asks for
    ``clean_pages`` pages that are answered and then ``attempts`` times for the page that fails.
    ``error`` is the exception the day fails with and ``says`` what its message must tell.
    """

    faults: tuple[Fault | None, ...]
    error: str
    says: str
    attempts: int = MAX_ATTEMPTS
    clean_pages: int = 0
    overrides: dict[str, Any] = field(default_factory=dict)


PERSISTENT = {
    # A Retry-After past the total wait cap fails at once instead of sleeping in vain.
    "429-retry-after-seconds-past-the-wait-cap": Persistent(
        (Fault("status", status=429, retry_after="120"),),
        error="DigaRateLimitError",
        says="the next wait of 120.0s would pass the total wait cap of 5.0s",
        attempts=1,
        overrides={"max_total_wait_s": 5.0},
    ),
    "429-retry-after-http-date-past-the-wait-cap": Persistent(
        (Fault("status", status=429, retry_after="http-date", retry_after_seconds=120),),
        error="DigaRateLimitError",
        says="would pass the total wait cap of 5.0s",
        attempts=1,
        overrides={"max_total_wait_s": 5.0},
    ),
    "429-storm-past-max-attempts": Persistent(
        (Fault("status", status=429, retry_after="0"),),
        error="DigaRateLimitError",
        says=f"rate limited (429 RATE_LIMIT_EXCEEDED: Too many requests, slow down) on GET {CALLS}?",
    ),
    "5xx-burst-past-max-attempts": Persistent(
        tuple(Fault("status", status=s) for s in (500, 502, 503, 504)),
        error="DigaServerError",
        says=f"gave up after {MAX_ATTEMPTS} attempts",
    ),
    "502-html-from-a-proxy": Persistent(
        (Fault("status", status=502, html=True),),
        error="DigaServerError",
        says="body is not Diga's error JSON (text/html",
    ),
    "connection-dropped-mid-body": Persistent(
        (Fault("drop_mid_body"),), error="DigaConnectionError", says="ChunkedEncodingError"
    ),
    "truncated-json-body": Persistent((Fault("truncate"),), error="DigaProtocolError", says="is not valid JSON"),
    # Every request is slow here, so an even shorter read timeout cannot misfire on a healthy page;
    # with two attempts the eight timeouts of this case cost two seconds.
    "slower-than-the-read-timeout": Persistent(
        (Fault("slow", delay_s=SLOW_S),),
        error="DigaConnectionError",
        says="Read timed out. (read timeout=0.25)",
        attempts=2,
        overrides={"max_attempts": 2, "read_timeout_s": 0.25},
    ),
    "cursor-that-does-not-advance": Persistent(
        (None, Fault("stuck_cursor")),
        error="DigaProtocolError",
        says="the cursor does not advance",
        attempts=1,
        clean_pages=1,
    ),
    "has-more-with-empty-data": Persistent(
        (Fault("empty_has_more"),), error="DigaProtocolError", says="has_more=true with 0 records", attempts=1
    ),
}


@pytest.mark.parametrize("case", PERSISTENT.values(), ids=PERSISTENT.keys())
def test_a_persistent_fault_fails_cleanly_naming_the_request_and_touching_nothing_stored(
    start_simulator: StartSimulator,
    run_calls: RunCalls,
    console: ReadConsole,
    tmp_path: Path,
    stored_day: bytes,
    case: Persistent,
) -> None:
    """A fault that outlasts the caps fails every day it touches, within the caps, with the
    request named; the day stored before keeps its exact bytes and the new day stays absent."""
    sim = start_world(start_simulator)
    stored = store_day(tmp_path, stored_day)
    assert stored_ids(tmp_path, STORED_DAY) == expected_ids(sim.world, STORED_DAY)
    before = sha256(stored)
    script = list(case.faults) * 20  # far more than the run can use: the fault never relents
    sim.faults.add(*script)

    run = run_calls(sim, [STORED_DAY, NEW_DAY], **case.overrides)

    assert not run.result.success
    assert sha256(stored) == before
    assert stored_ids(tmp_path, STORED_DAY) == expected_ids(sim.world, STORED_DAY)
    assert not partition_file(tmp_path, NEW_DAY).exists()
    assert leftovers(tmp_path) == []
    assert run.recorded_partitions() == []

    message = run.failure
    assert "2 of 2 days failed" in message and "kept their previous files" in message
    assert f"--partition-range {STORED_DAY}...{NEW_DAY}" in message
    for key in (STORED_DAY, NEW_DAY):
        [line] = [line for line in message.splitlines() if line.startswith(f"  {key}: ")]
        assert line.startswith(f"  {key}: {case.error}: "), line
        assert case.says in line, line
        last_faulted = [record for record in faulted(sim) if day_of(record) == key][-1]
        assert request_label(last_faulted) in line, "the error names the request that failed"

    per_round = [1] * case.clean_pages + [case.attempts]
    assert walks(sim) == {key: [2 * n for n in per_round] for key in (STORED_DAY, NEW_DAY)}
    assert len(faulted(sim)) == 2 * 2 * case.attempts
    assert len(sim.faults.pending()) == len(script) - len(sim.requests_to(CALLS)), "one script entry per request"
    assert_key_never_leaked(run, console)


# ---------------------------------------------------------------- a record of the wrong type


def test_a_record_with_a_field_of_the_wrong_type_fails_its_day_and_names_the_record(
    start_simulator: StartSimulator,
    run_calls: RunCalls,
    console: ReadConsole,
    tmp_path: Path,
    stored_day: bytes,
) -> None:
    """A 200 with a record that breaks the contract is not a transient fault: the day fails at
    once (no retry would change the record), keeps its previous file, and the error names the
    request, the record, the field and the value; the other days are written exactly."""
    sim = start_world(start_simulator, validate=False)  # the served record breaks the contract on purpose
    stored = store_day(tmp_path, stored_day)
    before = sha256(stored)
    sim.faults.add(Fault("wrong_type", record_field="duration", wrong_value="forty-six"))

    run = run_calls(sim, DAYS)

    assert not run.result.success
    assert sha256(stored) == before
    assert leftovers(tmp_path) == []
    for key in DAYS[1:]:
        assert stored_ids(tmp_path, key) == expected_ids(sim.world, key), key
    assert run.recorded_partitions() == DAYS[1:]

    [bad_request] = faulted(sim)
    assert page_of(bad_request) == (STORED_DAY, None)
    # The fault changed the first record of the page: the first call from the request's own start.
    asked_from = datetime.fromisoformat(bad_request.query["start_created_date"])
    bad_id = sim.world.calls_created_between(asked_from, window_of(STORED_DAY, "UTC").end)[0]["id"]
    message = run.failure
    assert "1 of 3 days failed" in message
    [line] = [line for line in message.splitlines() if line.startswith(f"  {STORED_DAY}: ")]
    assert line.startswith(f"  {STORED_DAY}: RecordContractError: "), line
    assert bad_id in line and "'duration'" in line and "'forty-six'" in line
    assert request_label(bad_request) in line
    assert f"--partition {STORED_DAY}" in message
    per_day = walks(sim)
    assert sorted(per_day) == DAYS
    assert all(n == 1 for pages in per_day.values() for n in pages), f"nothing is asked twice: {per_day}"
    assert_key_never_leaked(run, console)
