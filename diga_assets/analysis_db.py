"""The DuckDB side of the project: the SQL statements, the call outcome map, the metric file
layout and the analysis database ``{data_dir}/diga.duckdb``.

The analysis database holds views only (``calls``, ``phones``, ``call_outcome_map`` and one per
metric asset) over the Parquet files, with absolute paths, so it works from any working directory
and can be deleted and rebuilt at any time. Runs never keep it open: the metric assets compute in
in-memory DuckDB connections that create the same views, and only touch the file when a view is
missing or its definition changed. An analyst's open session therefore rarely meets a run at all;
when it does, the run logs a warning naming the file and carries on (the views are already there).

The statements live in ``assets/sql/*.sql``, one per file, each with a header saying why it exists
and what to substitute to run it by hand.
"""

from __future__ import annotations

import csv
import fcntl
import glob
import os
import re
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Protocol

import duckdb

from diga_assets.assets.raw import CALLS_DATASET, PHONES_DATASET
from diga_assets.partitions import with_neighbours
from diga_assets.storage import PARTITION_FILE, DigaStorage

_PACKAGE_DIR = Path(__file__).resolve().parent
SQL_DIR = _PACKAGE_DIR / "assets" / "sql"

ANALYSIS_DB_FILE = "diga.duckdb"
METRICS_DIR = "metrics"

# The metric assets; each has a view of the same name in the analysis database.
CALL_OUTCOME_RATES = "call_outcome_rates"
CALL_DURATION_STATS = "call_duration_stats"
AGENT_VERSION_OUTCOMES = "agent_version_outcomes"
PHONE_ASSIGNMENT_TIMELINE = "phone_assignment_timeline"
DAILY_METRICS = (CALL_OUTCOME_RATES, CALL_DURATION_STATS, AGENT_VERSION_OUTCOMES)

OUTCOME_MAP_ENV = "DIGA_OUTCOME_MAP"
DEFAULT_OUTCOME_MAP = _PACKAGE_DIR / "assets" / "outcomes.csv"
OUTCOME_MAP_HEADER = ("status", "end_reason", "outcome")
# Every outcome a call can get. The metrics count each; the first five are terminal.
OUTCOMES = ("completed", "failed", "no_answer", "transferred", "voicemail", "unfinished", "other")

# A run that finds the file locked tries again briefly, so two of our own runs refreshing at the
# same moment both get their views in; an analyst's session holds it longer and gets a warning.
_LOCK_RETRY_DELAYS_S = (0.1, 0.3, 0.6)
# DuckDB shares one database instance per file within a process, and refuses a second
# connection with another configuration (read-only vs read-write) or concurrent catalog writes:
# runs executing in threads of one process take turns.
_REFRESH_LOCK = threading.Lock()

# What DuckDB says, naming the file, about one that exists without its complete headers: what a
# process killed while DuckDB created the file leaves (it opens with O_CREAT, then writes the main
# header and the two database headers, 4 KiB each, then syncs). Empty, then cut short.
_INVALID_FILE_MESSAGES = ("not a valid DuckDB database file", "Could not read enough bytes from file")

_PLACEHOLDER = re.compile(r"\$([a-z_][a-z0-9_]*)")


class WarningLogger(Protocol):
    """The part of a logger the refresh needs (``context.log`` or ``logging.Logger``)."""

    def warning(self, msg: str) -> None: ...


# ------------------------------------------------------------------------------------- SQL


@cache
def load_sql(name: str) -> str:
    """The text of ``assets/sql/{name}.sql``, header comments included."""
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


def quote_literal(value: str) -> str:
    """``value`` as a SQL string literal (single quotes doubled), for statements DuckDB cannot prepare."""
    return "'" + value.replace("'", "''") + "'"


def inline_parameters(statement: str, values: Mapping[str, str | Sequence[str]]) -> str:
    """Replace each ``$name`` of a DDL statement by the quoted literal of ``values[name]`` (a list
    literal of quoted strings for a sequence).

    DuckDB cannot prepare ``CREATE VIEW``, and a view stored in the analysis database must carry
    its paths anyway. Comment lines are dropped first, so a value can never land in a comment;
    every placeholder must have a value and every value a placeholder.
    """
    body = "\n".join(line for line in statement.splitlines() if not line.lstrip().startswith("--"))
    used = set(_PLACEHOLDER.findall(body))
    if used != set(values):
        raise KeyError(f"statement parameters {sorted(used)} do not match the values given {sorted(values)}")

    def literal(value: str | Sequence[str]) -> str:
        if isinstance(value, str):
            return quote_literal(value)
        return "[" + ", ".join(quote_literal(item) for item in value) + "]"

    return _PLACEHOLDER.sub(lambda match: literal(values[match.group(1)]), body)


# ------------------------------------------------------------------------------ outcome map


class OutcomeMapError(ValueError):
    """The outcome map CSV cannot be used; the message names its source and line."""


def outcome_map_path(env: Mapping[str, str] | None = None) -> Path:
    """The CSV ``DIGA_OUTCOME_MAP`` names (absolute), else the one shipped in the package."""
    env = os.environ if env is None else env
    raw = env.get(OUTCOME_MAP_ENV)
    return Path(raw).expanduser().resolve() if raw else DEFAULT_OUTCOME_MAP


def load_outcome_map(path: Path, *, source: str | None = None) -> dict[tuple[str, str | None], str]:
    """Read and validate an outcome map: ``(status, end_reason or None) -> outcome``.

    The file is CSV with the header ``status,end_reason,outcome``. An empty ``end_reason`` makes
    the row the status's default; a row naming one wins over it for that ``end_reason``. Each
    ``outcome`` must be one of ``OUTCOMES``. Raises ``OutcomeMapError`` naming ``source`` (the
    variable and the file) and the line.
    """
    source = source or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise OutcomeMapError(f"{source}: cannot read the file ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise OutcomeMapError(f"{source}: is not UTF-8 text ({exc.reason})") from None
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if header is None or tuple(header) != OUTCOME_MAP_HEADER:
        raise OutcomeMapError(
            f"{source} line 1: the header must be {','.join(OUTCOME_MAP_HEADER)!r}, found {','.join(header or [])!r}"
        )
    mapping: dict[tuple[str, str | None], str] = {}
    first_line: dict[tuple[str, str | None], int] = {}
    for row in reader:
        line = reader.line_num
        if not row:
            continue
        if len(row) != len(OUTCOME_MAP_HEADER):
            raise OutcomeMapError(f"{source} line {line}: expected 3 fields (status,end_reason,outcome), found {row!r}")
        status, end_reason, outcome = row
        for name, value in zip(OUTCOME_MAP_HEADER, row, strict=True):
            if value != value.strip():
                raise OutcomeMapError(f"{source} line {line}: {name} {value!r} has leading or trailing spaces")
        if not status:
            raise OutcomeMapError(f"{source} line {line}: status is empty")
        if outcome not in OUTCOMES:
            raise OutcomeMapError(f"{source} line {line}: outcome {outcome!r} is not one of {', '.join(OUTCOMES)}")
        key = (status, end_reason or None)
        if key in mapping:
            raise OutcomeMapError(
                f"{source} line {line}: status {status!r} with end_reason {end_reason!r} is already mapped "
                f"on line {first_line[key]}"
            )
        mapping[key] = outcome
        first_line[key] = line
    return mapping


def resolve_outcome_map(env: Mapping[str, str] | None = None) -> Path:
    """The outcome map to use, validated: raises ``OutcomeMapError`` naming ``DIGA_OUTCOME_MAP``."""
    env = os.environ if env is None else env
    path = outcome_map_path(env)
    source = f"{OUTCOME_MAP_ENV}={env[OUTCOME_MAP_ENV]}" if env.get(OUTCOME_MAP_ENV) else f"outcome map {path}"
    load_outcome_map(path, source=source)
    return path


# ------------------------------------------------------------------------------ file layout


def metric_dir(storage: DigaStorage, asset: str) -> Path:
    """``{root}/metrics/{asset}``: everything one metric asset stores."""
    return storage.root / METRICS_DIR / asset


def metric_partition_file(storage: DigaStorage, asset: str, partition_key: str) -> Path:
    """One day of a daily metric: ``metrics/call_outcome_rates/day=2026-11-01/part-0.parquet``."""
    return metric_dir(storage, asset) / f"day={partition_key}" / PARTITION_FILE


def metric_file(storage: DigaStorage, asset: str) -> Path:
    """The one file of an unpartitioned metric: ``metrics/phone_assignment_timeline/part-0.parquet``."""
    return metric_dir(storage, asset) / PARTITION_FILE


def metric_glob(storage: DigaStorage, asset: str) -> str:
    """A glob over every stored file of a metric asset."""
    pattern = "day=*/*.parquet" if asset in DAILY_METRICS else "*.parquet"
    return str(metric_dir(storage, asset) / pattern)


def analysis_db_path(storage: DigaStorage) -> Path:
    """``{root}/diga.duckdb``, the analysis database."""
    return storage.root / ANALYSIS_DB_FILE


# ------------------------------------------------------------------------------------ views


@dataclass(frozen=True)
class View:
    """One view of the analysis database: its statement, its parameters, the files it reads."""

    name: str
    statement: str
    parameters: Mapping[str, str | Sequence[str]]
    sources: str | tuple[str, ...]

    def sql(self) -> str:
        """The ``CREATE OR REPLACE VIEW`` statement with its paths inlined."""
        return inline_parameters(load_sql(self.statement), self.parameters)

    def has_sources(self) -> bool:
        """Whether any file it reads exists (DuckDB binds a view when it is created)."""
        if isinstance(self.sources, str):
            return next(glob.iglob(self.sources), None) is not None
        return bool(self.sources)


def calls_views(
    storage: DigaStorage, timezone: str, outcome_map: Path, *, days: Sequence[date] | None = None
) -> list[View]:
    """``call_outcome_map`` and ``calls``, in creation order (``calls`` joins the map).

    With ``days``, ``calls`` reads only the files of ``with_neighbours(days)`` (the span
    ``call_ids_unique`` checks), so a run over a few days does not scan and dedupe the whole
    history.
    """
    sources: str | tuple[str, ...] = storage.raw_glob(CALLS_DATASET)
    if days is not None:
        span = [day.isoformat() for day in with_neighbours(days)]
        sources = tuple(storage.existing_raw_files(CALLS_DATASET, span))
    map_csv = str(outcome_map)
    return [
        View("call_outcome_map", "create_call_outcome_map_view", {"outcome_map_csv": map_csv}, map_csv),
        View("calls", "create_calls_view", {"calls_files": sources, "timezone": timezone}, sources),
    ]


def phones_view(storage: DigaStorage) -> View:
    """``phones``: every stored snapshot of the phone register."""
    phones_glob = storage.raw_glob(PHONES_DATASET)
    return View("phones", "create_phones_view", {"phones_glob": phones_glob}, phones_glob)


def analysis_views(storage: DigaStorage, timezone: str, outcome_map: Path) -> list[View]:
    """Every view of the analysis database, in creation order."""
    metric_views = [
        View(asset, f"create_{asset}_view", {"metric_glob": metric_glob(storage, asset)}, metric_glob(storage, asset))
        for asset in (*DAILY_METRICS, PHONE_ASSIGNMENT_TIMELINE)
    ]
    return [*calls_views(storage, timezone, outcome_map), phones_view(storage), *metric_views]


def create_views(con: duckdb.DuckDBPyConnection, views: Sequence[View]) -> list[str]:
    """Create (or replace) the views whose files exist; return their names."""
    created = []
    for view in views:
        if view.has_sources():
            con.execute(view.sql())
            created.append(view.name)
    return created


def view_definitions(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """View name to the definition DuckDB stored (normalised, so two equal definitions compare equal)."""
    rows = con.execute("SELECT view_name, sql FROM duckdb_views() WHERE NOT internal").fetchall()
    return dict(rows)


def refresh_analysis_db(storage: DigaStorage, timezone: str, outcome_map: Path, *, log: WarningLogger) -> list[str]:
    """Bring the views of ``diga.duckdb`` up to date; return the names of those (re)created.

    The wanted definitions are built in a scratch in-memory database and compared with the stored
    ones through a read-only connection, which an analyst's read-only session does not block; the
    file is opened for writing only when a view is missing or changed, in one transaction. When
    another process holds the file, the refresh retries briefly, then logs a warning naming the
    file and returns: the metrics are already written, and the views read them at query time. A
    file DuckDB cannot open at all, as a process killed while DuckDB created it leaves it, is moved
    aside with a warning and rebuilt.
    """
    path = analysis_db_path(storage)
    views = [view for view in analysis_views(storage, timezone, outcome_map) if view.has_sources()]
    with duckdb.connect() as scratch:
        create_views(scratch, views)
        wanted = view_definitions(scratch)
    delays = iter(_LOCK_RETRY_DELAYS_S)
    set_aside = False
    with _REFRESH_LOCK:
        while True:
            try:
                return _replace_stale_views(path, views, wanted)
            except (duckdb.IOException, duckdb.ConnectionException) as exc:
                if _is_invalid_file(exc, path) and not set_aside:
                    aside = _set_invalid_file_aside(path)
                    if aside is not None:
                        set_aside = True
                        log.warning(
                            f"analysis database {path} is not a database DuckDB can open (a process killed while "
                            f"DuckDB was creating it leaves such a file); it holds views only, so it was moved to "
                            f"{aside} and is rebuilt now. DuckDB said: {exc}"
                        )
                        continue
                    # Another process holds it or moved it: wait as for any lock conflict.
                elif not _is_lock_conflict(exc):
                    raise
                delay = next(delays, None)
                if delay is None:
                    log.warning(
                        f"analysis database {path} is held by another process, so its views could not be "
                        "brought up to date; the next run that finds it free will do it (the metric files "
                        f"are written either way). DuckDB said: {exc}"
                    )
                    return []
                time.sleep(delay)


def _replace_stale_views(path: Path, views: Sequence[View], wanted: Mapping[str, str]) -> list[str]:
    stored: dict[str, str] = {}
    if path.exists():
        with duckdb.connect(str(path), read_only=True) as con:
            stored = view_definitions(con)
    stale = [view for view in views if stored.get(view.name) != wanted[view.name]]
    if not stale:
        return []
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as con:
        con.execute("BEGIN TRANSACTION")
        for view in stale:
            con.execute(view.sql())
        con.execute("COMMIT")
    return [view.name for view in stale]


def _is_invalid_file(exc: duckdb.Error, path: Path) -> bool:
    message = str(exc)
    return str(path) in message and any(text in message for text in _INVALID_FILE_MESSAGES)


def _set_invalid_file_aside(path: Path) -> Path | None:
    """Move a file DuckDB refused as no database, or cut short, (and its WAL) out of the
    way; return where it went, or ``None`` when another process holds it (DuckDB locks the file
    with ``fcntl`` for as long as it has it open, so a lock we get means nobody is writing it) or
    has moved it already.

    The file is moved aside, not deleted: it holds nothing the views cannot rebuild, but it is
    evidence of what happened.
    """
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return None
        aside = path.with_name(f"{path.name}.invalid-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}")
        wal = path.with_name(f"{path.name}.wal")
        if wal.exists():
            os.replace(wal, aside.with_name(f"{aside.name}.wal"))
        os.replace(path, aside)
        return aside
    finally:
        os.close(fd)


def _is_lock_conflict(exc: duckdb.Error) -> bool:
    # Another process: "Could not set lock on file". This process, another configuration:
    # "Can't open a connection to same database file with a different configuration".
    message = str(exc)
    return "Could not set lock" in message or "different configuration" in message
