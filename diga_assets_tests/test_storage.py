"""Partition files are written beside and renamed into place: readers see the old version or
the new one, never half of one."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from diga_assets.storage import DigaStorage, StorageError
from diga_assets.storage.local import AtomicParquetWriter, write_table_atomically

SCHEMA = pa.schema([pa.field("id", pa.string(), nullable=False)])


def table(*ids: str) -> pa.Table:
    return pa.table({"id": list(ids)}, schema=SCHEMA)


def test_a_failed_write_leaves_the_previous_file_and_no_temp_file(tmp_path):
    path = tmp_path / "date=2026-11-01" / "part-0.parquet"
    write_table_atomically(path, table("a", "b"))

    with pytest.raises(RuntimeError), AtomicParquetWriter(path, SCHEMA) as writer:
        writer.write_batch(table("c"))
        assert pq.read_table(path).column("id").to_pylist() == ["a", "b"], "not visible before the rename"
        raise RuntimeError("network died")

    assert pq.read_table(path).column("id").to_pylist() == ["a", "b"]
    assert sorted(p.name for p in path.parent.iterdir()) == ["part-0.parquet"]


def test_a_successful_write_replaces_the_partition_and_other_parquet_files(tmp_path):
    path = tmp_path / "date=2026-11-01" / "part-0.parquet"
    write_table_atomically(path, table("a"))
    write_table_atomically(path.with_name("legacy.parquet"), table("x"))
    with AtomicParquetWriter(path, SCHEMA) as writer:
        writer.write_batch(table("b"))
        writer.write_batch(table("c"))
    assert writer.rows == 2
    assert [p.name for p in path.parent.glob("*.parquet")] == ["part-0.parquet"]
    assert pq.read_table(path).column("id").to_pylist() == ["b", "c"]


def test_an_empty_partition_keeps_the_schema(tmp_path):
    path = tmp_path / "part-0.parquet"
    with AtomicParquetWriter(path, SCHEMA):
        pass
    assert pq.read_schema(path) == SCHEMA and pq.read_table(path).num_rows == 0


def test_layout_is_hive_style(tmp_path):
    storage = DigaStorage(data_dir=str(tmp_path))
    assert storage.layout.raw_partition("calls", "2026-11-01") == str(
        tmp_path / "raw/calls/date=2026-11-01/part-0.parquet"
    )
    assert storage.layout.raw_glob("calls") == str(tmp_path / "raw/calls/date=*/*.parquet")


def test_an_unwritable_data_dir_is_named(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StorageError, match="DIGA_DATA_DIR"):
        DigaStorage(data_dir=str(blocker / "data")).check_writable()
