"""The views every query reads: in an in-memory DuckDB for a run, and in the analysis database
``{data_dir}/diga.duckdb`` for analysts.

The analysis database holds views only (``calls``, ``stored_calls``, ``call_messages``, ``phones``,
``agents``, ``call_outcome_map``, ``call_day_audit`` and one per metric asset) over the Parquet files, with absolute
paths, so it works from any working directory and can be deleted and rebuilt at any time. Runs
never keep it open: the metric assets compute in in-memory DuckDB connections that create the same
views, and only touch the file when a view is missing or its definition changed. An analyst's
open session therefore rarely meets a run at all; when it does, the run logs a warning naming the
file and carries on (the views are already there).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import duckdb

from diga_assets.analysis.sql import SqlFolder, inline_parameters
from diga_assets.names import (
    AGENT_VERSION_COMPARISON,
    AGENT_VERSION_OUTCOMES,
    AGENTS_DATASET,
    CALL_CONVERSATION_STATS,
    CALL_DAY_AUDIT,
    CALL_MESSAGES_VIEW,
    CALL_OUTCOME_MAP_VIEW,
    CALLS_DATASET,
    CURATED_CALLS,
    DAILY_METRICS,
    MESSAGES_DATASET,
    PHONE_ASSIGNMENT_TIMELINE,
    PHONES_DATASET,
    STORED_CALLS_VIEW,
    UNPREFIXED,
    Names,
)
from diga_assets.storage import DataLayout, Store

# The statements of this layer: the views, and the day headlines read from the calls view.
ANALYSIS_SQL = SqlFolder(Path(__file__).resolve().parent / "sql")

# A run that finds the file locked tries again briefly, so two of our own runs refreshing at the
# same moment both get their views in; an analyst's session holds it longer and gets a warning.
_LOCK_RETRY_DELAYS_S = (0.1, 0.3, 0.6)
# DuckDB shares one database instance per file within a process, and refuses a second
# connection with another configuration (read-only vs read-write) or concurrent catalog writes:
# runs executing in threads of one process take turns.
_REFRESH_LOCK = threading.Lock()

# What DuckDB says, naming the file, about one that exists without its complete headers: what a
# process killed while DuckDB created the file leaves (it opens with O_CREAT, then writes the main
# header and the two database headers, then syncs). Empty, then cut short.
_INVALID_FILE_MESSAGES = ("not a valid DuckDB database file", "Could not read enough bytes from file")


# The comment each view and macro of the analysis database carries: the digest of the statement
# that created it. A refresh compares digests, so it need not build every view a second time (in
# a scratch database, listing every file again) to learn whether the file is up to date. DuckDB
# drops the comment when a view is replaced, so one an analyst replaced by hand is put back.
_DIGEST_PREFIX = "diga-assets statement sha256:"
_COMMENT_TARGETS = {"view": "VIEW", "macro": "MACRO", "table_macro": "MACRO TABLE"}


class WarningLogger(Protocol):
    """The part of a logger the refresh needs (``context.log`` or ``logging.Logger``)."""

    def warning(self, msg: str) -> None: ...


@dataclass(frozen=True)
class View:
    """One entry of the analysis database's catalog, a view or a macro: its statement, its
    parameters, and whether the files it reads exist (DuckDB binds a view when it is created,
    so one over no file cannot be)."""

    name: str
    statement: str
    parameters: Mapping[str, str | Sequence[str]]
    has_sources: bool
    # Created instead while no file exists yet, for a view others join (it is then empty).
    empty_statement: str | None = None

    def sql(self) -> str:
        """The ``CREATE OR REPLACE`` statement with its paths inlined (the empty one without files)."""
        if self.empty_statement is not None and not self.has_sources:
            return ANALYSIS_SQL(self.empty_statement)
        return inline_parameters(ANALYSIS_SQL(self.statement), self.parameters)

    def can_create(self) -> bool:
        """Whether it can be created now: its files exist, or it has an empty stand-in."""
        return self.empty_statement is not None or self.has_sources


def outcome_map_view(outcome_map: Path) -> View:
    """``call_outcome_map``: the outcome map CSV as a table."""
    return View(
        CALL_OUTCOME_MAP_VIEW,
        "create_call_outcome_map_view",
        {"outcome_map_csv": str(outcome_map)},
        outcome_map.exists(),
    )


def stored_calls_view(store: Store, *, files: Sequence[str] | None = None) -> View:
    """``stored_calls``: every stored raw call row with its day and outcome, over every raw call
    file or over ``files``."""
    sources: str | list[str] = DataLayout(store.root).raw_glob(CALLS_DATASET) if files is None else list(files)
    available = store.has_match(sources) if isinstance(sources, str) else bool(sources)
    return View(STORED_CALLS_VIEW, "create_stored_calls_view", {"calls_files": sources}, available)


def calls_views(store: Store, outcome_map: Path) -> list[View]:
    """``call_outcome_map``, ``stored_calls`` and ``calls``, in creation order. ``calls`` reads the
    curated days once any is stored; until then (a project upgraded to the curated layer) it is
    computed from the raw snapshots at every query: each call once, as last fetched."""
    stored = stored_calls_view(store)
    curated = curated_calls_view(store)
    calls = curated if curated.has_sources else View(CALLS_DATASET, "create_calls_view", {}, stored.has_sources)
    return [outcome_map_view(outcome_map), stored, calls]


def curated_calls_view(store: Store, *, files: Sequence[str] | None = None) -> View:
    """``calls`` read from the curated days (every stored one, or ``files``): the columns and
    rows of the view ``calls_views`` makes, already computed."""
    sources: str | list[str] = DataLayout(store.root).curated_glob(CALLS_DATASET) if files is None else list(files)
    available = store.has_match(sources) if isinstance(sources, str) else bool(sources)
    return View(CALLS_DATASET, "create_curated_calls_view", {"curated_files": sources}, available)


def days_not_curated(store: Store) -> list[str]:
    """The days whose raw calls are stored but not curated: missing from the curated ``calls``
    view until ``curated_calls`` is materialized for them (a project upgraded to the curated
    layer, or a day fetched by ``diga_calls`` alone)."""
    layout = DataLayout(store.root)
    raw = {name.removeprefix("date=") for name in store.folder_names(layout.raw_dir(CALLS_DATASET))}
    curated = {name.removeprefix("day=") for name in store.folder_names(layout.curated_dir(CALLS_DATASET))}
    return sorted(raw - curated)


def phones_view(store: Store) -> View:
    """``phones``: every stored snapshot of the phone register."""
    phones_glob = DataLayout(store.root).raw_glob(PHONES_DATASET)
    return View(PHONES_DATASET, "create_phones_view", {"phones_glob": phones_glob}, store.has_match(phones_glob))


def agents_view(store: Store) -> View:
    """``agents``: each agent and version as last observed. The metric views join it for names,
    so before any snapshot is stored it exists, empty."""
    agents_glob = DataLayout(store.root).raw_glob(AGENTS_DATASET)
    return View(
        AGENTS_DATASET,
        "create_agents_view",
        {"agents_glob": agents_glob},
        store.has_match(agents_glob),
        "create_empty_agents_view",
    )


def call_messages_view(store: Store, *, files: Sequence[str] | None = None) -> View:
    """``call_messages``: every stored transcript message with its call's day, over every
    messages file or over ``files`` (created once transcripts are stored)."""
    sources: str | list[str] = DataLayout(store.root).raw_glob(MESSAGES_DATASET) if files is None else list(files)
    available = store.has_match(sources) if isinstance(sources, str) else bool(sources)
    return View(CALL_MESSAGES_VIEW, "create_call_messages_view", {"messages_files": sources}, available)


def call_day_audit_view(store: Store) -> View:
    """``call_day_audit``: the latest audit of each stored day of calls (once an audit ran)."""
    path = DataLayout(store.root).audit_file(CALL_DAY_AUDIT)
    return View(CALL_DAY_AUDIT, "create_call_day_audit_view", {"audit_file": path}, store.exists(path))


def statistics_macros() -> list[View]:
    """The macros the version comparison is computed with, defined once for every connection."""
    return [
        View("wilson_interval", "create_wilson_interval_macro", {}, True),
        View("two_proportion_z", "create_two_proportion_z_macro", {}, True),
    ]


def metric_view(store: Store, asset: str) -> View:
    """The view named like a metric asset, over every file it stored."""
    files = DataLayout(store.root).metric_glob(asset)
    return View(asset, f"create_{asset}_view", {"metric_glob": files}, store.has_match(files))


def analysis_views(store: Store, outcome_map: Path) -> list[View]:
    """Every view and macro of the analysis database, in creation order (each after what it reads)."""
    metric_views = {
        asset: metric_view(store, asset)
        for asset in (*DAILY_METRICS, CALL_CONVERSATION_STATS, PHONE_ASSIGNMENT_TIMELINE)
    }
    comparison = View(
        AGENT_VERSION_COMPARISON,
        "create_agent_version_comparison_macro",
        {},
        metric_views[AGENT_VERSION_OUTCOMES].has_sources,
    )
    return [
        *statistics_macros(),
        *calls_views(store, outcome_map),
        call_messages_view(store),
        call_day_audit_view(store),
        phones_view(store),
        agents_view(store),
        *metric_views.values(),
        comparison,
    ]


def create_views(con: duckdb.DuckDBPyConnection, views: Sequence[View]) -> list[str]:
    """Create (or replace) the views that can be created now; return their names."""
    created = []
    for view in views:
        if view.can_create():
            con.execute(view.sql())
            created.append(view.name)
    return created


@contextmanager
def views_connection(store: Store, views: Sequence[View]) -> Iterator[tuple[duckdb.DuckDBPyConnection, list[str]]]:
    """An in-memory DuckDB that reads ``store``, with ``views`` created; yields it and the names
    of the views created.

    A view over a dataset with no files yet is not created (DuckDB binds views on creation).
    Timestamps come back as UTC whatever the machine's zone; days are computed with an explicit
    zone in the calls view, never with the session's.
    """
    with store.connect() as con:
        yield con, create_views(con, views)


def agent_names(con: duckdb.DuckDBPyConnection) -> dict[str, str | None]:
    """Agent id to its latest known name, from a connection with the ``agents`` view."""
    return dict(con.execute(f"SELECT DISTINCT agent_id, agent_name FROM {AGENTS_DATASET}").fetchall())


def statement_digest(view: View) -> str:
    """The digest of the statement that creates ``view``, as the analysis database records it."""
    return _DIGEST_PREFIX + hashlib.sha256(view.sql().encode()).hexdigest()[:32]


def stored_digests(con: duckdb.DuckDBPyConnection) -> dict[str, str | None]:
    """View and macro name to the digest recorded when the refresh created it (``None`` for one
    created otherwise: by hand, or by a version of the project that recorded none)."""
    views = con.execute("SELECT view_name, comment FROM duckdb_views() WHERE NOT internal").fetchall()
    macros = con.execute(
        "SELECT function_name, comment FROM duckdb_functions() "
        "WHERE NOT internal AND function_type IN ('macro', 'table_macro')"
    ).fetchall()
    return {name: comment or None for name, comment in (*views, *macros)}


def refresh_analysis_db(store: Store, outcome_map: Path, *, log: WarningLogger, names: Names = UNPREFIXED) -> list[str]:
    """Bring the views of ``diga.duckdb`` up to date; return the names of those (re)created.
    (``names``: how the warning about days not curated says to curate them.)

    Each view and macro carries, as its comment, the digest of the statement that created it; the
    digests of the statements wanted now are compared with those through a read-only connection,
    which an analyst's read-only session does not block, and the file is opened for writing only
    when a view is missing or changed, in one transaction. When another process holds the file,
    the refresh retries briefly, then logs a warning naming the file and returns: the metrics are
    already written, and the views read them at query time. A file DuckDB cannot open at all, as
    a process killed while DuckDB created it leaves it, is moved aside with a warning and rebuilt.
    """
    path = store.analysis_db
    views = [view for view in analysis_views(store, outcome_map) if view.can_create()]
    if missing := days_not_curated(store):
        commands = "\n".join(f"  {command}" for command in names.rerun_commands(CURATED_CALLS, missing))
        log.warning(
            f"calls: {len(missing)} day(s) from {missing[0]} to {missing[-1]} have raw calls but are not curated, "
            f"so the calls view does not show them. Materialize {CURATED_CALLS} over them (it reads the stored "
            f"raw calls, no API request):\n{commands}"
        )
    wanted = {view.name: statement_digest(view) for view in views}
    delays = iter(_LOCK_RETRY_DELAYS_S)
    set_aside = False
    with _REFRESH_LOCK:
        while True:
            try:
                return _replace_stale_views(store, path, views, wanted)
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


def _replace_stale_views(store: Store, path: Path, views: Sequence[View], wanted: Mapping[str, str]) -> list[str]:
    stored: dict[str, str | None] = {}
    if path.exists():
        with store.connect(str(path), read_only=True) as con:
            stored = stored_digests(con)
    stale = [view for view in views if stored.get(view.name) != wanted[view.name]]
    if not stale:
        return []
    path.parent.mkdir(parents=True, exist_ok=True)
    with store.connect(str(path)) as con:
        con.execute("BEGIN TRANSACTION")
        for view in stale:
            con.execute(view.sql())
        macro_kinds = dict(
            con.execute(
                "SELECT function_name, function_type FROM duckdb_functions() "
                "WHERE NOT internal AND function_type IN ('macro', 'table_macro')"
            ).fetchall()
        )
        for view in stale:
            kind = _COMMENT_TARGETS[macro_kinds.get(view.name, "view")]
            # The digest is hexadecimal: nothing to quote.
            con.execute(f"COMMENT ON {kind} {view.name} IS '{wanted[view.name]}'")
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
