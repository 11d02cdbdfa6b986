"""A local directory as the storage root: files written beside their final name, then renamed.

A partition is one file. It is written under a temporary name that does not match
``*.parquet`` and moved into place with ``os.replace`` (atomic on POSIX), so a reader globbing
``*.parquet`` sees the old version or the new one, never half of one, and a killed run leaves
the previous version intact.
"""

from __future__ import annotations

import fcntl
import glob
import os
import uuid
from collections.abc import Iterable
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from diga_assets.storage.store import (
    ANALYSIS_DB_FILE,
    DATA_DIR_VAR,
    Chooser,
    StagedParquetWriter,
    StorageError,
    Store,
    remove_stale_staged_files,
)

TEMP_SUFFIX = ".tmp"


class AtomicParquetWriter(StagedParquetWriter):
    """Stream record batches into a Parquet file that appears only when complete.

    Use as a context manager: on a clean exit the file is flushed, fsynced and renamed over
    ``final_path``; on an exception the temporary file is removed and ``final_path`` is untouched.
    """

    def __init__(self, final_path: Path, schema: pa.Schema, *, compression: str = "zstd") -> None:
        super().__init__(schema, compression=compression)
        self.final_path = final_path

    def _stage(self) -> Path:
        self.final_path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_temp_files(self.final_path.parent)
        return _temp_path_for(self.final_path)

    def _publish(self, staged: Path) -> None:
        _commit(staged, self.final_path)
        # A partition is one file: anything else matching *.parquet is an older layout.
        for other in self.final_path.parent.glob("*.parquet"):
            if other != self.final_path:
                other.unlink(missing_ok=True)


def write_table_atomically(final_path: Path, table: pa.Table) -> int:
    """Write a whole table with the same guarantees as ``AtomicParquetWriter``; return its rows."""
    with AtomicParquetWriter(final_path, table.schema) as writer:
        writer.write_batch(table)
    return table.num_rows


def write_bytes_atomically(final_path: Path, content: bytes) -> None:
    """Write a non-Parquet file (the HTML report) beside its final name, then rename it into place."""
    final_path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temp_files(final_path.parent)
    temp_path = _temp_path_for(final_path)
    try:
        temp_path.write_bytes(content)
        _commit(temp_path, final_path)
    finally:
        temp_path.unlink(missing_ok=True)


def _temp_path_for(final_path: Path) -> Path:
    # Hidden and not ending in the final suffix, so no glob of readers ever matches it.
    return final_path.with_name(f".{final_path.name}.{uuid.uuid4().hex}{TEMP_SUFFIX}")


def _commit(temp_path: Path, final_path: Path) -> None:
    """Make the finished temp file durable, then move it over ``final_path`` in one step."""
    with open(temp_path, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temp_path, final_path)
    _fsync_dir(final_path.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_stale_temp_files(directory: Path) -> None:
    remove_stale_staged_files(directory, f".*{TEMP_SUFFIX}")


class LocalStore(Store):
    """The storage root as a local directory (the default ``data/`` of the project)."""

    def __init__(self, root: Path) -> None:
        self.root = str(root)
        self._root = root

    def __repr__(self) -> str:
        return f"LocalStore({self.root!r})"

    def exists(self, location: str) -> bool:
        return Path(location).exists()

    def existing(self, locations: Iterable[str]) -> list[str]:
        return [location for location in locations if Path(location).exists()]

    def has_match(self, pattern: str) -> bool:
        return next(glob.iglob(pattern), None) is not None

    def folder_names(self, location: str) -> list[str]:
        folder = Path(location)
        return sorted(child.name for child in folder.iterdir() if child.is_dir()) if folder.is_dir() else []

    def read_table(self, location: str, columns: list[str] | None = None) -> pa.Table:
        return pq.read_table(location, columns=columns)

    def read_bytes(self, location: str) -> bytes:
        return Path(location).read_bytes()

    def parquet_writer(self, location: str, schema: pa.Schema) -> AtomicParquetWriter:
        return AtomicParquetWriter(Path(location), schema)

    def write_bytes(self, location: str, content: bytes, content_type: str) -> None:
        write_bytes_atomically(Path(location), content)

    def swap_table(self, location: str, choose: Chooser) -> pa.Table | None:
        path = Path(location)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Writers of the same partition take turns on a lock file beside it, so each decides on
        # what is stored when it writes; os.replace alone would let the later writer win blindly.
        with open(path.with_name(f".{path.name}.lock"), "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            stored = pq.read_table(path) if path.exists() else None
            table = choose(stored)
            if table is not None:
                write_table_atomically(path, table)
            return table

    def check_writable(self) -> None:
        try:
            self._root.mkdir(parents=True, exist_ok=True)
            probe = self._root / f".write-probe-{uuid.uuid4().hex}{TEMP_SUFFIX}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise StorageError(f"{DATA_DIR_VAR}={self.root!r} is not writable: {exc.strerror}") from None

    @property
    def analysis_db(self) -> Path:
        return self._root / ANALYSIS_DB_FILE

    def link(self, location: str) -> str:
        return Path(location).as_uri()

    def register(self, con: duckdb.DuckDBPyConnection) -> None:
        """Nothing to do: DuckDB reads local files itself."""
