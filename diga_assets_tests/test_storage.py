"""The storage root, a local directory or a bucket, behind one interface: a file appears whole
or not at all, a snapshot swap decides on what is stored at the moment it writes, and a root
that cannot be used is refused before anything is fetched, naming DIGA_DATA_DIR and never a
secret."""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import requests

from diga_assets.settings import Settings, SettingsError
from diga_assets.storage import DigaStorage, StorageError
from diga_assets.storage.local import AtomicParquetWriter, write_table_atomically
from diga_assets.storage.s3 import S3Store
from diga_assets.storage.store import STALE_STAGED_AGE_S
from diga_assets_tests.assets.conftest import storage_for
from diga_assets_tests.object_store import BUCKET, SECRET_ACCESS_KEY, S3Server, stored_names

SCHEMA = pa.schema([pa.field("id", pa.string(), nullable=False)])


def table(*ids: str) -> pa.Table:
    return pa.table({"id": list(ids)}, schema=SCHEMA)


def ids_at(storage: DigaStorage, location: str) -> list[str]:
    return storage.store.read_table(location).column("id").to_pylist()


def folder(location: str) -> str:
    return location.rsplit("/", 1)[0]


# -------------------------------------------------------------------- both kinds of root


@pytest.mark.usefixtures("each_storage")
def test_a_failed_write_leaves_the_previous_file_and_nothing_partial(tmp_path):
    storage = storage_for(tmp_path)
    location = storage.layout.raw_partition("calls", "2026-11-01")
    storage.store.write_table(location, table("a", "b"))

    with pytest.raises(RuntimeError, match="network died"), storage.store.parquet_writer(location, SCHEMA) as writer:
        writer.write_batch(table("c"))
        assert ids_at(storage, location) == ["a", "b"], "nothing of the new file is visible before it is whole"
        raise RuntimeError("network died")

    assert ids_at(storage, location) == ["a", "b"]
    assert stored_names(storage, folder(location)) == ["part-0.parquet"]


@pytest.mark.usefixtures("each_storage")
def test_a_successful_write_replaces_the_partition(tmp_path):
    storage = storage_for(tmp_path)
    location = storage.layout.raw_partition("calls", "2026-11-01")
    storage.store.write_table(location, table("a"))

    with storage.store.parquet_writer(location, SCHEMA) as writer:
        writer.write_batch(table("b"))
        writer.write_batch(table("c"))

    assert writer.rows == 2
    assert ids_at(storage, location) == ["b", "c"]
    assert storage.existing_raw_files("calls", ["2026-10-31", "2026-11-01"]) == [location]


def test_a_write_removes_what_killed_writes_staged_long_ago_and_nothing_in_progress(
    tmp_path, each_storage, monkeypatch
):
    """A run killed while it writes leaves its staged file: beside the partition on a local root,
    in the machine's temp dir before an upload to a bucket. A later write (on a bucket root, the
    first of its process: each run is one) removes the ones no write has touched for six hours,
    and nothing else."""
    machine_tmp = tmp_path / "machine-tmp"
    machine_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(machine_tmp))
    storage = storage_for(tmp_path)
    location = storage.layout.raw_partition("calls", "2026-11-01")
    if each_storage == "local":
        Path(location).parent.mkdir(parents=True)
        killed, in_progress = (Path(location).with_name(f".part-0.parquet.{n}.tmp") for n in ("killed", "writing"))
    else:
        killed, in_progress = (machine_tmp / f"diga-{n}.parquet.part" for n in ("killed", "writing"))
    another_programs = machine_tmp / "report.parquet.part"
    long_ago = time.time() - STALE_STAGED_AGE_S - 60
    for leftover in (killed, in_progress, another_programs):
        leftover.write_bytes(b"PAR1")
    for old in (killed, another_programs):
        os.utime(old, (long_ago, long_ago))

    storage.store.write_table(location, table("b"))

    assert ids_at(storage, location) == ["b"]
    assert not killed.exists()
    assert in_progress.exists() and another_programs.exists()
    # The write's own staged file went with its upload.
    assert sorted(p.name for p in machine_tmp.glob("diga-*")) == ([in_progress.name] if each_storage == "s3" else [])


@pytest.mark.usefixtures("each_storage")
def test_an_empty_partition_keeps_the_schema(tmp_path):
    storage = storage_for(tmp_path)
    location = storage.layout.raw_partition("calls", "2026-11-01")
    with storage.store.parquet_writer(location, SCHEMA):
        pass
    stored = storage.store.read_table(location)
    assert stored.schema == SCHEMA and stored.num_rows == 0


@pytest.mark.usefixtures("each_storage")
def test_globs_and_existence_see_what_is_stored(tmp_path):
    storage = storage_for(tmp_path)
    layout = storage.layout
    assert not storage.store.has_match(layout.raw_glob("calls"))
    storage.store.write_table(layout.raw_partition("calls", "2026-11-02"), table("a"))

    assert storage.store.has_match(layout.raw_glob("calls"))
    assert not storage.store.has_match(layout.raw_glob("phones"))
    assert storage.store.exists(layout.raw_partition("calls", "2026-11-02"))
    assert not storage.store.exists(layout.raw_partition("calls", "2026-11-03"))


@pytest.mark.usefixtures("each_storage")
def test_folder_names_list_a_datasets_partitions(tmp_path):
    storage = storage_for(tmp_path)
    layout = storage.layout
    assert storage.store.folder_names(layout.curated_dir("calls")) == []
    for key in ("2026-11-03", "2026-11-01"):
        storage.store.write_table(layout.curated_partition("calls", key), table("a"))
    storage.store.write_table(layout.raw_partition("calls", "2026-11-02"), table("a"))

    assert storage.store.folder_names(layout.curated_dir("calls")) == ["day=2026-11-01", "day=2026-11-03"]
    assert storage.store.folder_names(layout.raw_dir("calls")) == ["date=2026-11-02"]


@pytest.mark.usefixtures("each_storage")
def test_two_snapshot_writers_at_once_keep_the_closer_observation(tmp_path, each_storage):
    """Two runs observe the same day at once; whichever writes last, the stored snapshot is the
    one closer to the day's end (here: the smaller id). In a bucket both read before either
    writes (a barrier makes sure), so one conditional write fails and its writer decides again
    on what the other stored."""
    storage = storage_for(tmp_path)
    location = storage.layout.raw_partition("phones", "2026-11-01")
    race = threading.Barrier(2, timeout=10) if each_storage == "s3" else None
    calls: list[str] = []
    errors: list[BaseException] = []

    def writer(mine: str) -> None:
        first = True

        def closer(stored: pa.Table | None) -> pa.Table | None:
            nonlocal first
            calls.append(mine)
            if first and race is not None:
                first = False
                race.wait()
            if stored is not None and stored.column("id")[0].as_py() < mine:
                return None
            return table(mine)

        try:
            storage.store.swap_table(location, closer)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(mine,)) for mine in ("1-closer", "5-later")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert ids_at(storage, location) == ["1-closer"]
    if race is not None:
        assert len(calls) == 3, "the writer whose conditional write failed decided once more"


# ------------------------------------------------------------------------- a local root


def test_local_writes_remove_other_parquet_files_of_the_partition(tmp_path):
    path = tmp_path / "date=2026-11-01" / "part-0.parquet"
    write_table_atomically(path, table("a"))
    write_table_atomically(path.with_name("legacy.parquet"), table("x"))
    with AtomicParquetWriter(path, SCHEMA) as writer:
        writer.write_batch(table("b"))
    assert [p.name for p in path.parent.glob("*.parquet")] == ["part-0.parquet"]


def test_layout_is_hive_style(tmp_path):
    storage = DigaStorage(data_dir=str(tmp_path))
    partition = storage.layout.raw_partition("calls", "2026-11-01")
    assert partition == str(tmp_path / "raw/calls/date=2026-11-01/part-0.parquet")
    assert storage.layout.raw_glob("calls") == str(tmp_path / "raw/calls/date=*/*.parquet")
    assert storage.layout.curated_partition("calls", "2026-11-01") == str(
        tmp_path / "curated/calls/day=2026-11-01/part-0.parquet"
    )
    bucket = DigaStorage(data_dir="s3://analytics/diga/prod")
    assert bucket.layout.metric_partition("call_outcome_rates", "2026-11-01") == (
        "s3://analytics/diga/prod/metrics/call_outcome_rates/day=2026-11-01/part-0.parquet"
    )


def test_an_unwritable_data_dir_is_named(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StorageError, match="DIGA_DATA_DIR"):
        DigaStorage(data_dir=str(blocker / "data")).check_writable()


# ------------------------------------------------------------------------- a bucket root


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("gs://diga/prefix", "uses the scheme 'gs'"),
        ("https://storage.example.com/diga", "uses the scheme 'https'"),
        ("s3://Not_A_Bucket/x", "is not a valid bucket name"),
        ("s3://ok-bucket/x?versionId=3", "must not carry a query"),
        ("s3://ok-bucket/team*/diga", "contains '*', which DuckDB reads as a wildcard"),
        ("/srv/diga[prod]", "contains '[', which DuckDB reads as a wildcard"),
    ],
)
def test_a_data_dir_of_another_scheme_a_bad_bucket_name_or_a_wildcard_fails_the_load(raw, says):
    with pytest.raises(SettingsError, match="DIGA_DATA_DIR=") as info:
        Settings.from_env({"DIGA_DATA_DIR": raw})
    assert says in str(info.value)


def test_a_bucket_data_dir_is_kept_as_the_uri():
    assert Settings.from_env({"DIGA_DATA_DIR": "s3://ok-bucket/diga/prod/"}).data_dir == "s3://ok-bucket/diga/prod"


def test_a_missing_bucket_is_named(s3_server: S3Server):
    with pytest.raises(StorageError) as info:
        DigaStorage(data_dir="s3://no-such-bucket/diga").check_writable()
    assert "DIGA_DATA_DIR='s3://no-such-bucket/diga'" in str(info.value)
    assert "bucket 'no-such-bucket' does not exist" in str(info.value)


def test_no_credentials_are_named_without_guessing_at_the_machine(s3_server: S3Server, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(StorageError, match="no AWS credentials found") as info:
        DigaStorage(data_dir=f"s3://{BUCKET}/diga").check_writable()
    assert "DIGA_DATA_DIR" in str(info.value)


def test_wrong_credentials_are_named_and_the_secret_is_not(s3_server: S3Server, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-" + SECRET_ACCESS_KEY)
    with enforced_credentials(s3_server), pytest.raises(StorageError) as info:
        DigaStorage(data_dir=f"s3://{BUCKET}/diga").check_writable()
    assert "cannot access bucket" in str(info.value) and "DIGA_DATA_DIR" in str(info.value)
    assert SECRET_ACCESS_KEY not in str(info.value)


def test_an_unreachable_endpoint_is_named(s3_server: S3Server, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    with pytest.raises(StorageError, match="cannot reach the bucket") as info:
        DigaStorage(data_dir=f"s3://{BUCKET}/diga").check_writable()
    assert "DIGA_DATA_DIR" in str(info.value)


def test_a_failed_multipart_upload_leaves_no_object_and_no_open_upload(s3_server: S3Server, tmp_path: Path):
    """A file above the multipart threshold goes up in parts; when sending a part fails, boto3
    aborts the upload, so neither a partial object nor an upload to clean up remains."""
    store = S3Store(BUCKET, "multipart-test")
    big = tmp_path / "big.bin"
    big.write_bytes(b"\0" * (11 * 1024 * 1024))
    s3 = s3_server.client()

    class Interrupted(Exception):
        pass

    sent = 0

    def fail_after_first_part(transferred: int) -> None:
        nonlocal sent
        sent += transferred
        if sent > 6 * 1024 * 1024:
            raise Interrupted

    with pytest.raises(Interrupted):
        s3.upload_file(
            str(big), BUCKET, "multipart-test/big.parquet", Callback=fail_after_first_part, Config=small_parts()
        )

    assert not store.exists(f"s3://{BUCKET}/multipart-test/big.parquet")
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def small_parts() -> Any:
    from boto3.s3.transfer import TransferConfig

    return TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024, max_concurrency=1)


@contextmanager
def enforced_credentials(server: S3Server) -> Iterator[None]:
    """moto checks credentials only while this block runs (it accepts any key otherwise); no key
    pair is registered with it, so every request is refused as an unknown key would be."""
    requests.post(f"{server.endpoint}/moto-api/reset-auth", data=b"0", timeout=10).raise_for_status()
    try:
        yield
    finally:
        requests.post(f"{server.endpoint}/moto-api/reset-auth", data=b"inf", timeout=10).raise_for_status()
