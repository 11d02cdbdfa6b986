"""The storage root's I/O, one interface for a local directory and an S3-compatible bucket.

Every file the project keeps goes through a ``Store``: written whole or not at all, read back,
listed, and made readable by DuckDB. The assets never know which kind of root they write to;
``diga_assets.storage.open_store`` picks the implementation from ``DIGA_DATA_DIR``.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

DATA_DIR_VAR = "DIGA_DATA_DIR"
ANALYSIS_DB_FILE = "diga.duckdb"
# Staged files older than this are debris of a killed run, not a write in progress.
STALE_STAGED_AGE_S = 6 * 3600


class StorageError(RuntimeError):
    """The storage root cannot be used; the message names DIGA_DATA_DIR and what is wrong."""


class ParquetSink(Protocol):
    """Where a writer's batches go: appended in order, published only when the writer closes."""

    rows: int

    def write_batch(self, batch: pa.RecordBatch | pa.Table) -> None: ...


class StagedParquetWriter(ABC):
    """Stream batches into a local temporary Parquet file that is published (``_publish``) only
    on a clean exit; on an exception, or after publishing, the temporary file is removed. What
    publishing means, and where the temporary file goes, is the store's (``_stage``)."""

    def __init__(self, schema: pa.Schema, *, compression: str = "zstd") -> None:
        self.schema = schema
        self.compression = compression
        self.rows = 0
        self._staged: Path | None = None
        self._writer: pq.ParquetWriter | None = None

    @abstractmethod
    def _stage(self) -> Path:
        """A new local path for the temporary file, in a folder that exists."""

    @abstractmethod
    def _publish(self, staged: Path) -> None:
        """Make the finished temporary file the stored one, whole."""

    def __enter__(self) -> Self:
        self._staged = self._stage()
        self._writer = pq.ParquetWriter(self._staged, self.schema, compression=self.compression)
        return self

    def write_batch(self, batch: pa.RecordBatch | pa.Table) -> None:
        """Append rows (schema must match exactly)."""
        assert self._writer is not None, f"use {type(self).__name__} as a context manager"
        if isinstance(batch, pa.RecordBatch):
            self._writer.write_batch(batch)
        else:
            self._writer.write_table(batch)
        self.rows += batch.num_rows

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._writer is not None and self._staged is not None
        try:
            self._writer.close()
            if exc_type is None:
                self._publish(self._staged)
        finally:
            self._staged.unlink(missing_ok=True)


# Given the stored table (None when there is none), the table to store in its place, or None to
# keep what is stored.
Chooser = Callable[[pa.Table | None], pa.Table | None]


class Store(ABC):
    """I/O on the locations under one storage root (locations come from ``DataLayout``)."""

    root: str

    @abstractmethod
    def exists(self, location: str) -> bool:
        """Whether a file is stored at ``location``."""

    @abstractmethod
    def existing(self, locations: Iterable[str]) -> list[str]:
        """The locations among ``locations`` that hold a file, in the order given."""

    @abstractmethod
    def has_match(self, pattern: str) -> bool:
        """Whether any stored file matches the glob ``pattern`` (a location with ``*``)."""

    @abstractmethod
    def folder_names(self, location: str) -> list[str]:
        """The names of the folders directly under ``location`` (a dataset's partitions, say),
        sorted; none when nothing is stored there."""

    @abstractmethod
    def read_table(self, location: str, columns: list[str] | None = None) -> pa.Table:
        """The Parquet file at ``location``."""

    @abstractmethod
    def read_bytes(self, location: str) -> bytes:
        """The file at ``location``, as stored."""

    @abstractmethod
    def parquet_writer(self, location: str, schema: pa.Schema) -> AbstractContextManager[ParquetSink]:
        """A writer whose file appears at ``location`` whole when the block ends without an
        exception, and not at all otherwise (the previous file, if any, stays)."""

    @abstractmethod
    def write_bytes(self, location: str, content: bytes, content_type: str) -> None:
        """Store ``content`` at ``location``, whole or not at all."""

    @abstractmethod
    def swap_table(self, location: str, choose: Chooser) -> pa.Table | None:
        """Replace the Parquet file at ``location`` by what ``choose`` makes of the stored one,
        as one atomic step even when several processes do it at once: ``choose`` sees what is
        stored at the moment the new table replaces it (it may be called again after a
        concurrent write). Returns the table written, or None when ``choose`` kept the stored one."""

    @abstractmethod
    def check_writable(self) -> None:
        """Raise ``StorageError`` naming DIGA_DATA_DIR when the root cannot be used, writing nothing
        that stays."""

    @property
    @abstractmethod
    def analysis_db(self) -> Path:
        """The local file of the analysis database (views only) over this root."""

    def link(self, location: str) -> str:
        """A URL for ``location``, for metadata the UI shows as a link."""
        return location

    @abstractmethod
    def register(self, con: duckdb.DuckDBPyConnection) -> None:
        """Make ``con`` able to read this root's locations."""

    @contextmanager
    def readable_copies(self, locations: Sequence[str]) -> Iterator[list[str]]:
        """Paths that DuckDB reads ``locations`` from at full speed, in the same order, valid
        for the ``with`` block: a query over a known list of files (a run's days) reads these.
        The locations themselves here; a remote store hands out local copies."""
        yield list(locations)

    def write_table(self, location: str, table: pa.Table) -> int:
        """Store a whole table at ``location``, whole or not at all; return its rows."""
        with self.parquet_writer(location, table.schema) as writer:
            writer.write_batch(table)
        return table.num_rows

    def open_connection(self, database: str = ":memory:", *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection that can read this root, in UTC (days are cut with an explicit zone);
        the caller closes it."""
        # Never download an extension behind the user's back: what DuckDB reads it reads through
        # what register() set up.
        con = duckdb.connect(database, read_only=read_only, config={"autoinstall_known_extensions": False})
        try:
            con.execute("SET TimeZone = 'UTC'")
            self.register(con)
        except BaseException:
            con.close()
            raise
        return con

    @contextmanager
    def connect(self, database: str = ":memory:", *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """``open_connection`` for a ``with`` block: closed when it ends."""
        with self.open_connection(database, read_only=read_only) as con:
            yield con


def remove_stale_staged_files(directory: Path, pattern: str) -> None:
    """Remove the files of ``directory`` matching ``pattern`` that no write has touched for
    ``STALE_STAGED_AGE_S``: what runs killed while writing (out of memory, a pod evicted) left
    behind. A file this process may not remove (another user's, in a sticky temp dir such as
    /tmp) is skipped."""
    cutoff = time.time() - STALE_STAGED_AGE_S
    for staged in directory.glob(pattern):
        try:
            if staged.stat().st_mtime < cutoff:
                staged.unlink()
        except (FileNotFoundError, PermissionError):
            pass
