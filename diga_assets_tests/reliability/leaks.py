"""Search what runs leave behind for values that must not be there (an API key, a caller's number).

A byte search alone would miss most places a value can hide: Dagster stores job snapshots in
SQLite as zlib-compressed blobs, and Parquet pages are dictionary-encoded and zstd-compressed.
So each file is read raw *and* decoded: every SQLite cell (blobs inflated when they are zlib),
every Parquet column and its schema metadata, every DuckDB view definition and table.
"""

import sqlite3
import zlib
from collections.abc import Iterable
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow.parquet as pq
from dagster._serdes import serialize_value

_SQLITE_MAGIC = b"SQLite format 3\x00"
_PARQUET_MAGIC = b"PAR1"
_DUCKDB_MAGIC = b"DUCK"  # at offset 8 of a DuckDB database file


def decoded_bytes(path: Path) -> bytes:
    """The file's raw bytes followed by whatever text its format hides from a byte search."""
    raw = path.read_bytes()
    parts = [raw]
    if raw.startswith(_SQLITE_MAGIC):
        parts.extend(_sqlite_cells(path))
    elif raw.startswith(_PARQUET_MAGIC) and raw.endswith(_PARQUET_MAGIC):
        table = pq.read_table(path)
        parts.append(table.schema.to_string(show_schema_metadata=True, show_field_metadata=True).encode())
        parts.extend(str(column.to_pylist()).encode() for column in table.columns)
    elif raw[8:12] == _DUCKDB_MAGIC:
        with duckdb.connect(str(path), read_only=True) as con:
            parts.extend(str(row).encode() for row in con.sql("SELECT sql FROM duckdb_views()").fetchall())
            for (name,) in con.sql("SELECT table_name FROM duckdb_tables()").fetchall():
                parts.append(str(con.sql(f'SELECT * FROM "{name}"').fetchall()).encode())
    return b"\n".join(parts)


def _sqlite_cells(path: Path) -> Iterable[bytes]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [name for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for row in con.execute(f'SELECT * FROM "{table}"'):
                for cell in row:
                    if isinstance(cell, bytes):
                        yield cell
                        yield _inflated(cell)
                    elif cell is not None:
                        yield str(cell).encode()
    finally:
        con.close()


def _inflated(blob: bytes) -> bytes:
    """The blob zlib-inflated (how Dagster stores snapshots), or nothing when it is not zlib."""
    try:
        return zlib.decompress(blob)
    except zlib.error:
        return b""


def files_holding(roots: Iterable[Path], needles: Iterable[str]) -> dict[str, list[Path]]:
    """For each needle found, the files under ``roots`` that hold it (raw or decoded)."""
    wanted = {needle: needle.encode() for needle in needles}
    found: dict[str, list[Path]] = {}
    for root in roots:
        for path in sorted(p for p in Path(root).rglob("*") if p.is_file()):
            content = decoded_bytes(path)
            for needle, encoded in wanted.items():
                if encoded in content:
                    found.setdefault(needle, []).append(path)
    return found


def event_log_text(instance: dg.DagsterInstance) -> str:
    """Every run of ``instance`` (config and tags) and every event record of those runs, serialized:
    log messages, materialization and check metadata, error messages and their causes."""
    texts = []
    for run in instance.get_runs():
        texts.append(serialize_value(run))
        texts.extend(serialize_value(entry) for entry in instance.all_logs(run.run_id))
    return "\n".join(texts)


def present(needles: Iterable[str], text: str) -> list[str]:
    """The needles that occur in ``text``."""
    return [needle for needle in needles if needle in text]
