"""``diga-assets demo``: the whole pipeline against a simulator on loopback, no key needed.

It starts the simulator on a free port and, with the project's own definitions:

1. takes three daily snapshots of the phone register and the agents, moving the simulator's
   clock a day between them so the register changes (agents reassigned, numbers released);
2. backfills the last ``days`` days of ``diga_calls`` as one run, with those days curated, the
   daily metrics and every check of those assets in the same run, and rebuilds
   ``phone_assignment_timeline``;
3. prints a summary read back from the analysis database.

Runs are recorded in the project's ``.dagster_home``, so ``dagster dev`` shows them afterwards.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg

from diga_assets.analysis.outcome_map import DEFAULT_OUTCOME_MAP
from diga_assets.analysis.views import ANALYSIS_SQL
from diga_assets.assets.report.data import REPORT_SQL
from diga_assets.definitions import build_definitions
from diga_assets.names import (
    CALL_CONVERSATION_STATS,
    CALL_REPORT,
    CALLS_JOB_ASSETS,
    DIGA_AGENTS,
    DIGA_CALL_MESSAGES,
    DIGA_CALLS,
    DIGA_PHONES,
    PHONE_ASSIGNMENT_TIMELINE,
    TRANSCRIPTS_JOB_ASSETS,
)
from diga_assets.resources import DigaApiResource
from diga_assets.settings import Settings, project_root
from diga_assets.simulator import DigaSimulator, World
from diga_assets.simulator.world import MADE_UP_END_REASON_OUTCOMES
from diga_assets.storage import DigaStorage

DEMO_DAYS = 14
PHONE_SNAPSHOTS = 3
CALLS_PER_DAY = 400
PROJECT_DAGSTER_HOME = project_root() / ".dagster_home"
DEMO_BUCKET = "diga-demo"

# Dagster's console logger at INFO shows the assets' progress lines without the DEBUG event stream.
_QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}

EXAMPLE_QUERIES = (
    "SELECT day, sum(total_calls) AS calls, round(sum(completed) / sum(completed + failed + no_answer"
    " + transferred + voicemail), 3) AS completion FROM call_outcome_rates GROUP BY day ORDER BY day",
    "SELECT agent_name, version_number, ended_calls, round(completion_rate, 3) AS completion,"
    " round(completion_rate_low, 3) AS low, round(completion_rate_high, 3) AS high, differs_from_previous"
    " FROM agent_version_comparison(DATE '2000-01-01', DATE '2100-01-01')",
)
# The summary's per-agent lines: calls and completion over the demo's days, by the agent's name.
SELECT_AGENT_SUMMARY = """
SELECT coalesce(agent_name, left(agent_id, 8), '(no agent)') AS agent, sum(total_calls) AS calls,
       sum(completed) / nullif(sum(completed + failed + no_answer + transferred + voicemail), 0) AS completion
FROM call_outcome_rates
GROUP BY agent_id, agent_name
ORDER BY calls DESC, agent
"""
# The end reasons of completed calls that the outcome map does not name (see call_end_reasons).
SELECT_UNMAPPED_END_REASONS = """
SELECT end_reason, sum(calls) AS calls
FROM call_end_reasons
WHERE status = 'completed' AND end_reason IS NOT NULL AND mapped_by <> 'end_reason'
GROUP BY end_reason
ORDER BY calls DESC, end_reason
"""


def demo_outcome_map(folder: Path) -> Path:
    """Write the demo's outcome map into ``folder`` and return its path: the package's map and a
    line for each of the simulator's made-up end-reason codes, so the demo's rates count a
    transfer, a call nobody answered or an error as what it was (a user's own map does the same
    for their account's codes; README, "Call outcomes")."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "demo_outcomes.csv"
    lines = [f"completed,{code},{outcome}" for code, outcome in MADE_UP_END_REASON_OUTCOMES.items()]
    path.write_text(DEFAULT_OUTCOME_MAP.read_text(encoding="utf-8").rstrip("\n") + "\n" + "\n".join(lines) + "\n")
    return path


class DemoError(RuntimeError):
    """The demo cannot run as asked; the message says what to do."""


@dataclass(frozen=True)
class DemoResult:
    """What the demo left behind, for the summary and for tests."""

    first_day: date
    last_day: date
    data_dir: str
    analysis_db: Path
    report: str
    dagster_home: Path
    headlines: list[tuple[date, int, float | None, float | None]]
    agents: list[tuple[str, int, float | None]]
    unmapped_end_reasons: list[tuple[str, int]]
    conversations: list[tuple[str, int, float | None, float | None, float | None]]


def run_demo(
    days: int = DEMO_DAYS,
    *,
    data_dir: Path | str | None = None,
    s3: bool = False,
    dagster_home: Path = PROJECT_DAGSTER_HOME,
    echo: Callable[[str], None] = print,
) -> DemoResult:
    """Run the demo end to end; raise if any run fails; return where everything landed.

    With ``s3``, the data goes to a bucket of an S3-compatible server on loopback instead of a
    local directory, as a deployment's would (the server stops when the demo ends)."""
    if s3:
        with loopback_bucket(echo) as bucket_root:
            return run_demo(days, data_dir=bucket_root, dagster_home=dagster_home, echo=echo)
    env_settings = Settings.from_env()
    zone = ZoneInfo(env_settings.timezone)
    today = datetime.now(zone).date()
    last_day = today - timedelta(days=1)
    first_day = last_day - timedelta(days=days - 1)
    settings = Settings(
        data_dir=data_dir or env_settings.data_dir,
        start_date=first_day - timedelta(days=PHONE_SNAPSHOTS),
        timezone=env_settings.timezone,
        api_base_url="http://127.0.0.1",
        trailing_days=env_settings.trailing_days,
        # The user's map when they set one, else the simulator's codes mapped (demo_outcome_map).
        outcome_map=env_settings.outcome_map or demo_outcome_map(dagster_home),
    )
    defs = build_definitions(settings)
    graph = list(defs.assets or []) + list(defs.asset_checks or [])
    storage = DigaStorage(data_dir=str(settings.data_dir))
    dagster_home.mkdir(parents=True, exist_ok=True)
    instance = dg.DagsterInstance.from_config(str(dagster_home))

    sim_key = simulator_key()
    # Start the simulated company's clock a few days back, so the phone snapshots can move it on.
    sim_now = datetime.now(zone).replace(microsecond=0) - timedelta(days=PHONE_SNAPSHOTS - 1)
    world = World(
        seed=7, now=sim_now, days=days + PHONE_SNAPSHOTS + 1, calls_per_day=CALLS_PER_DAY, status_model="current"
    )
    with DigaSimulator(world, api_key=sim_key) as sim, _environment(DIGA_API_KEY=sim_key):
        echo(f"Diga API simulator on {sim.base_url} (a synthetic company, {CALLS_PER_DAY} calls a day)")
        # The key by name, as in the code location: a key given as a value is stored in the job
        # snapshot that the instance keeps in runs.db; a dg.EnvVar is stored as its name.
        api = DigaApiResource(api_key=dg.EnvVar("DIGA_API_KEY"), base_url=sim.base_url)
        resources = {"diga": api, "storage": storage}

        def run(title: str, selection: dg.AssetSelection, **kwargs: object) -> None:
            echo(f"\n== {title}")
            dg.materialize(
                graph,
                selection=selection,
                resources=resources,
                instance=instance,
                run_config=_QUIET_RUN_CONFIG,
                **kwargs,
            )

        for n in range(PHONE_SNAPSHOTS):
            day = last_day - timedelta(days=PHONE_SNAPSHOTS - 1 - n)
            if n:
                world.advance(timedelta(days=1))
            run(
                f"{DIGA_PHONES} and {DIGA_AGENTS} {day}: snapshot {n + 1} of {PHONE_SNAPSHOTS}, "
                f"simulator clock {world.now:%Y-%m-%d %H:%M}",
                _with_checks(DIGA_PHONES, DIGA_AGENTS),
                partition_key=day.isoformat(),
            )
        run(
            f"{DIGA_CALLS} {first_day}...{last_day} as one run, curated, with the daily metrics and their checks",
            _with_checks(*CALLS_JOB_ASSETS),
            tags={
                "dagster/asset_partition_range_start": first_day.isoformat(),
                "dagster/asset_partition_range_end": last_day.isoformat(),
            },
        )
        run(
            f"{DIGA_CALL_MESSAGES} (transcripts, opt-in: DIGA_TRANSCRIPTS) of the same days, then "
            f"{CALL_CONVERSATION_STATS}",
            _with_checks(*TRANSCRIPTS_JOB_ASSETS),
            tags={
                "dagster/asset_partition_range_start": first_day.isoformat(),
                "dagster/asset_partition_range_end": last_day.isoformat(),
            },
        )
        run(
            f"{PHONE_ASSIGNMENT_TIMELINE} from every phone snapshot, then {CALL_REPORT}",
            _with_checks(PHONE_ASSIGNMENT_TIMELINE, CALL_REPORT),
        )

    result = DemoResult(
        first_day=first_day,
        last_day=last_day,
        data_dir=storage.root,
        analysis_db=storage.analysis_db,
        report=storage.layout.report_file(CALL_REPORT),
        dagster_home=dagster_home,
        headlines=_headlines(storage, first_day, last_day),
        agents=_query(storage, SELECT_AGENT_SUMMARY),
        unmapped_end_reasons=_query(storage, SELECT_UNMAPPED_END_REASONS),
        conversations=_conversations(storage),
    )
    echo(summary(result))
    return result


def simulator_key() -> str:
    """A key made up per run for the simulator: it is loopback-only and guards nothing."""
    return "sim-" + secrets.token_hex(8)


@contextmanager
def _environment(**variables: str) -> Iterator[None]:
    """Set ``variables`` for the block, then put back what was there (a user's real key included)."""
    previous = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def loopback_bucket(echo: Callable[[str], None]) -> Iterator[str]:
    """An S3-compatible server on 127.0.0.1 (moto's), with the standard AWS chain of this process
    pointed at it and made-up keys, and a bucket on it; yields the data root in that bucket."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        raise DemoError("diga-assets demo --s3 needs moto's server: pip install 'moto[server]'") from None
    import boto3

    # Its HTTP server logs every request at INFO.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    aws = {
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": "demo",
        "AWS_SECRET_ACCESS_KEY": secrets.token_hex(16),
        "AWS_DEFAULT_REGION": "us-east-1",
        # Keys in the environment come first in the chain; never ask for an instance role.
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    try:
        with _environment(**aws):
            boto3.session.Session().client("s3").create_bucket(Bucket=DEMO_BUCKET)
            echo(f"S3-compatible server (moto) on {aws['AWS_ENDPOINT_URL']}, bucket {DEMO_BUCKET}")
            yield f"s3://{DEMO_BUCKET}/demo"
    finally:
        server.stop()


def _with_checks(*assets: str) -> dg.AssetSelection:
    return dg.AssetSelection.assets(*assets) | dg.AssetSelection.checks_for_assets(*assets)


def _headlines(storage: DigaStorage, first: date, last: date) -> list[tuple[date, int, float | None, float | None]]:
    """Per day: total calls, completion rate over ended calls, median duration (from the views)."""
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    with storage.store.connect(str(storage.analysis_db), read_only=True) as con:
        headlines = con.sql(ANALYSIS_SQL("select_daily_headlines"), params={"days": days})
        rows = headlines.select("day, total_calls, completion_rate, median_duration_s").fetchall()
    return [(day, calls, completion, median) for day, calls, completion, median in rows]


def _conversations(storage: DigaStorage) -> list[tuple[str, int, float | None, float | None, float | None]]:
    """Per agent: calls with a transcript, messages per call, first reply, share who left early
    (the report's Conversations table)."""
    columns = "agent_label, calls_with_transcript, messages_per_call_avg, first_reply_median_s"
    with storage.store.connect(str(storage.analysis_db), read_only=True) as con:
        per_agent = con.sql(REPORT_SQL("select_report_conversations"))
        return per_agent.select(f"{columns}, hung_up_after_greeting_share").fetchall()


def _query(storage: DigaStorage, statement: str) -> list[tuple[Any, ...]]:
    with storage.store.connect(str(storage.analysis_db), read_only=True) as con:
        return con.execute(statement).fetchall()


def _percent(rate: float | None) -> str:
    return f"{rate:.1%}" if rate is not None else "-"


def summary(result: DemoResult) -> str:
    """The closing summary a person reads: per-day and per-agent figures, the end reasons the
    outcome map does not name, where things are, what to try next."""
    lines = ["", f"{'day':<12}{'calls':>7}{'completion':>12}{'median s':>10}"]
    for day, calls, completion, median in result.headlines:
        med = f"{median:.0f}" if median is not None else "-"
        lines.append(f"{day!s:<12}{calls:>7}{_percent(completion):>12}{med:>10}")
    lines += ["", f"{'agent':<24}{'calls':>7}{'completion':>12}"]
    lines += [f"{agent:<24}{calls:>7}{_percent(completion):>12}" for agent, calls, completion in result.agents]
    if result.conversations:
        lines += ["", f"{'transcripts':<24}{'calls':>7}{'messages':>10}{'1st reply s':>13}{'left early':>12}"]
        for agent, transcripts, messages, first_reply, left_early in result.conversations:
            shown_messages = f"{messages:.1f}" if messages is not None else "-"
            shown_reply = f"{first_reply:.1f}" if first_reply is not None else "-"
            lines.append(f"{agent:<24}{transcripts:>7}{shown_messages:>10}{shown_reply:>13}{_percent(left_early):>12}")
    if result.unmapped_end_reasons:
        codes = ", ".join(f"{code} ({calls})" for code, calls in result.unmapped_end_reasons)
        lines += [
            "",
            f"End reasons the outcome map does not name, counted as completed: {codes}.",
            "  The WARN check end_reasons_mapped lists the CSV lines to add (README: Call outcomes).",
        ]
    data = result.data_dir
    lines += [
        "",
        f"Parquet:  {data}/raw/{{calls,phones,agents,messages}}/date=YYYY-MM-DD/, {data}/curated/calls/day=YYYY-MM-DD/ "
        f"and {data}/metrics/<metric>/",
        f"DuckDB:   {result.analysis_db}  (views only: calls, call_messages, phones, agents, call_outcome_map, "
        "one per metric)",
        f"Report:   {result.report}  ({'copy it out, then ' if data.startswith('s3://') else ''}open it in a browser; "
        "it works offline)",
        f"UI:       .venv/bin/diga-assets ui   (http://127.0.0.1:3000, a simulator; runs in {result.dagster_home})",
        "Try:",
    ]
    lines += [f'  .venv/bin/diga-assets query "{query}"' for query in EXAMPLE_QUERIES]
    if data.startswith("s3://"):
        lines.append(
            "  (the bucket was on a loopback server that stopped with the demo; against your own bucket the same "
            "commands work with DIGA_DATA_DIR=s3://bucket/prefix and your AWS credentials)"
        )
    else:
        lines.append(f'  (or the duckdb CLI: duckdb -readonly {result.analysis_db} "{EXAMPLE_QUERIES[0]}")')
    return "\n".join(lines)


def run_ui(
    *,
    port: int = 3000,
    dagster_home: Path = PROJECT_DAGSTER_HOME,
    days: int = DEMO_DAYS,
    echo: Callable[[str], None] = print,
) -> int:
    """Run the simulator and ``dagster dev`` together until Ctrl-C (or SIGTERM); return dagster's exit code.

    ``dagster dev`` gets the simulator's URL and a made-up key through its environment only, so
    the UI can materialize, backfill and run checks against the simulator, and the resource
    config it shows holds the variable's name, never a value.
    """
    sim_key = simulator_key()
    env_settings = Settings.from_env()
    today = datetime.now(ZoneInfo(env_settings.timezone)).date()
    world = World(seed=7, days=days + PHONE_SNAPSHOTS + 1, calls_per_day=CALLS_PER_DAY, status_model="current")
    dagster_home.mkdir(parents=True, exist_ok=True)
    # The simulated company keeps taking calls while the UI runs, so today's refresh
    # (diga_calls_intraday) shows the day growing.
    with DigaSimulator(world, api_key=sim_key, live_clock=True) as sim:
        env = {
            **os.environ,
            "DAGSTER_HOME": str(dagster_home),
            "DIGA_API_BASE_URL": sim.base_url,
            "DIGA_API_KEY": sim_key,
        }
        # Partitions from the simulator's first day, unless the user chose a start.
        env.setdefault("DIGA_START_DATE", (today - timedelta(days=days + PHONE_SNAPSHOTS)).isoformat())
        if "DIGA_OUTCOME_MAP" not in env:
            env["DIGA_OUTCOME_MAP"] = str(demo_outcome_map(dagster_home))
        command = [
            str(Path(sys.executable).parent / "dagster"),
            "dev",
            "-m",
            "diga_assets.definitions",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        echo(f"Diga API simulator on {sim.base_url}; Dagster UI on http://127.0.0.1:{port} (Ctrl-C stops both)")
        process = subprocess.Popen(command, env=env, cwd=project_root())  # noqa: S603 (our own fixed command)
        previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
        try:
            return process.wait()
        except KeyboardInterrupt:
            _stop(process)
            return 0  # stopped because the user asked to
        finally:
            signal.signal(signal.SIGTERM, previous)
            echo("Stopping the simulator ...")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop ``dagster dev`` the way it expects (SIGINT), then harder if it hangs."""
    try:
        # Ctrl-C in a terminal reached dagster dev too (same process group): let it finish.
        process.wait(timeout=5)
        return
    except subprocess.TimeoutExpired:
        pass
    # A SIGTERM sent to us alone did not reach it: pass the stop on.
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _raise_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
