"""Where the Parquet files live, and the one way they are written: beside, then renamed.

A partition is one file. It is written under a temporary name that does not match
``*.parquet`` and moved into place with ``os.replace`` (atomic on POSIX), so a reader globbing
``*.parquet`` sees the old version or the new one, never half of one, and a killed run leaves
the previous version intact.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import ConfigDict, Field, model_validator

from diga_assets.privacy import HASH_KEY_VAR, PSEUDONYMIZE_VAR, hash_key_problem, pseudonymize_contacts

PARTITION_FILE = "part-0.parquet"
_TEMP_SUFFIX = ".tmp"
# Temp files older than this are debris of a killed run, not a write in progress.
_STALE_TEMP_AGE_S = 6 * 3600


class DigaStorage(dg.ConfigurableResource):
    """The storage root (``DIGA_DATA_DIR``) and the layout of everything under it."""

    # Validation errors must not echo the configured values: one of them is the HMAC key.
    model_config = ConfigDict(hide_input_in_errors=True)

    data_dir: str = Field(description="Root folder for Parquet files, the DuckDB file and reports.")
    pseudonymize_contacts: bool = Field(
        default=False,
        description=f"Store an HMAC of each caller's contact_identifier instead of the value (env {PSEUDONYMIZE_VAR}).",
    )
    contact_hash_key: str | None = Field(
        default=None,
        repr=False,
        description=f"Secret key of that HMAC. Set it with the {HASH_KEY_VAR} environment variable.",
    )

    @model_validator(mode="before")
    @classmethod
    def _hash_key_when_pseudonymizing(cls, data: Any) -> Any:
        # Checked when the run starts its resources, so a run without a usable key fails before
        # it fetches anything. At load the field holds dg.EnvVar (the variable's name), which
        # Dagster resolves only then; Settings.from_env has checked the variable itself.
        if isinstance(data, dict) and data.get("pseudonymize_contacts") is True:
            key = data.get("contact_hash_key")
            if not isinstance(key, dg.EnvVar) and (problem := hash_key_problem(key)):
                raise ValueError(problem)
        return data

    def calls_to_store(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """A page of calls as it may be stored: ``contact_identifier`` pseudonymized when configured."""
        if not self.pseudonymize_contacts:
            return batch
        key = self.contact_hash_key
        if isinstance(key, dg.EnvVar):  # used outside a run, where Dagster has not resolved it
            key = key.get_value()
        if problem := hash_key_problem(key):
            raise ValueError(problem)
        assert key is not None
        return pseudonymize_contacts(batch, key)

    @property
    def root(self) -> Path:
        """The storage root as an absolute path."""
        return Path(self.data_dir).expanduser().resolve()

    def raw_dir(self, dataset: str) -> Path:
        """``{root}/raw/{dataset}``: all partitions of one raw dataset (``calls``, ``phones``)."""
        return self.root / "raw" / dataset

    def raw_partition_file(self, dataset: str, partition_key: str) -> Path:
        """The one file of a raw partition, Hive style: ``raw/calls/date=2026-11-01/part-0.parquet``."""
        return self.raw_dir(dataset) / f"date={partition_key}" / PARTITION_FILE

    def existing_raw_files(self, dataset: str, partition_keys: Iterable[str]) -> list[str]:
        """The stored files of those partitions, as strings for DuckDB; days never stored are skipped."""
        paths = (self.raw_partition_file(dataset, key) for key in partition_keys)
        return [str(path) for path in paths if path.exists()]

    def raw_glob(self, dataset: str) -> str:
        """A glob over every partition of a raw dataset, for DuckDB or pyarrow."""
        return str(self.raw_dir(dataset) / "date=*" / "*.parquet")

    def check_writable(self) -> None:
        """Fail early, naming DIGA_DATA_DIR, when the root cannot be written."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / f".write-probe-{uuid.uuid4().hex}{_TEMP_SUFFIX}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise PermissionError(f"DIGA_DATA_DIR={str(self.root)!r} is not writable: {exc.strerror}") from None


class AtomicParquetWriter:
    """Stream record batches into a Parquet file that appears only when complete.

    Use as a context manager: on a clean exit the file is flushed, fsynced and renamed over
    ``final_path``; on an exception the temporary file is removed and ``final_path`` is untouched.
    """

    def __init__(self, final_path: Path, schema: pa.Schema, *, compression: str = "zstd") -> None:
        self.final_path = final_path
        self.schema = schema
        self.compression = compression
        self.rows = 0
        self._temp_path = _temp_path_for(final_path)
        self._writer: pq.ParquetWriter | None = None

    def __enter__(self) -> AtomicParquetWriter:
        self.final_path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_temp_files(self.final_path.parent)
        self._writer = pq.ParquetWriter(self._temp_path, self.schema, compression=self.compression)
        return self

    def write_batch(self, batch: pa.RecordBatch | pa.Table) -> None:
        """Append rows (schema must match exactly)."""
        assert self._writer is not None, "use AtomicParquetWriter as a context manager"
        if isinstance(batch, pa.RecordBatch):
            self._writer.write_batch(batch)
        else:
            self._writer.write_table(batch)
        self.rows += batch.num_rows

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._writer is not None
        try:
            self._writer.close()
            if exc_type is not None:
                return
            _commit(self._temp_path, self.final_path)
            # A partition is one file: anything else matching *.parquet is an older layout.
            for other in self.final_path.parent.glob("*.parquet"):
                if other != self.final_path:
                    other.unlink(missing_ok=True)
        finally:
            self._temp_path.unlink(missing_ok=True)


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
    return final_path.with_name(f".{final_path.name}.{uuid.uuid4().hex}{_TEMP_SUFFIX}")


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
    cutoff = time.time() - _STALE_TEMP_AGE_S
    for temp in directory.glob(f".*{_TEMP_SUFFIX}"):
        try:
            if temp.stat().st_mtime < cutoff:
                temp.unlink()
        except FileNotFoundError:
            pass
