"""An S3-compatible bucket as the storage root (AWS S3, MinIO, Ceph, Cloudflare R2, ...).

Object stores have no rename, so a partition is published by one request that is atomic on its
own: a single PUT, or the completion of a multipart upload (an upload that never completes is
invisible). A file is therefore written whole to a local temporary file first and uploaded when
it is complete; an exception or a killed process before that leaves the previous object in place
and nothing new visible. Streaming Parquet straight into the final key is what not to do:
pyarrow's S3 output stream, for one, publishes what it has when its ``with`` block raises.

Credentials, region and endpoint come from the standard AWS chain and nothing else: the
``AWS_*`` variables (``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_S3`` for stores other than AWS),
profiles, and instance or pod roles. DuckDB reads the bucket through its ``httpfs`` extension
when it is installed, else through pyarrow's S3 filesystem, which DuckDB takes as an fsspec
filesystem (fsspec's ``ArrowFSWrapper``) registered on the connection.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import posixpath
import tempfile
import threading
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import duckdb
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from fsspec.implementations.arrow import ArrowFSWrapper

from diga_assets.settings import parse_s3_uri
from diga_assets.storage.store import (
    ANALYSIS_DB_FILE,
    DATA_DIR_VAR,
    Chooser,
    StagedParquetWriter,
    StorageError,
    Store,
    remove_stale_staged_files,
)

# A writer's file before its upload, in the machine's temp dir.
_STAGED_PREFIX, _STAGED_SUFFIX = "diga-", ".parquet.part"
# Files above this go up as a multipart upload (parallel parts, retried one by one); below it a
# partition is one PUT. Either way the object appears only when the upload completes.
_MULTIPART_THRESHOLD = 64 * 1024 * 1024
# Files downloaded at once for a run's reads (boto3 clients are thread-safe).
_DOWNLOAD_THREADS = 8
# Attempts of one conditional write before giving up: each retry means another writer replaced
# the object in the meantime, which two runs of the same day can do once, not for long.
_SWAP_ATTEMPTS = 10
# Error codes of a failed precondition (S3 answers 412; some stores 409 while another
# conditional write of the key is in flight).
_CONDITION_FAILED = frozenset({"PreconditionFailed", "ConditionalRequestConflict"})


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@dataclass(frozen=True)
class _Stored:
    """An object as read, with the ETag a conditional write must match."""

    table: pa.Table
    etag: str


class S3Store(Store):
    """The storage root as ``s3://bucket/prefix``."""

    def __init__(self, bucket: str, prefix: str) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.root = f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"

    @classmethod
    def from_uri(cls, uri: str) -> S3Store:
        """The store of ``s3://bucket/prefix``."""
        try:
            bucket, prefix = parse_s3_uri(uri)
        except ValueError as exc:
            raise StorageError(f"{DATA_DIR_VAR}: {exc}") from None
        return cls(bucket, prefix)

    def __repr__(self) -> str:
        return f"S3Store({self.root!r})"

    # -------------------------------------------------------------- clients

    @cached_property
    def client(self) -> Any:
        """A boto3 S3 client from the standard AWS chain (thread-safe, shared by the run's days)."""
        config = Config(retries={"mode": "standard", "total_max_attempts": 5}, connect_timeout=10, read_timeout=60)
        session = _aws_session(_aws_environment())
        with _SESSION_LOCK:  # a boto3 session is not thread-safe; its clients are
            return session.client("s3", config=config)

    @cached_property
    def filesystem(self) -> ArrowFSWrapper:
        """The bucket as an fsspec filesystem for DuckDB: pyarrow's S3 client (the AWS SDK's own
        credential chain, no listing cache) behind fsspec's wrapper. Not s3fs: it depends on
        aiobotocore, whose botocore pin fights boto3's and leaves older pips unable to install
        the project (BENCHMARKS.md, "Reading a bucket", has the two measured side by side)."""
        return ArrowFSWrapper(pafs.S3FileSystem(**_arrow_s3_options()))

    # ------------------------------------------------------------ locations

    def key(self, location: str) -> str:
        """The object key of a location under this root."""
        head = f"s3://{self.bucket}/"
        if not location.startswith(head):
            raise ValueError(f"{location!r} is not in bucket {self.bucket!r}")
        return location[len(head) :]

    def _keys_under(self, prefix: str) -> list[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        keys: list[str] = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            keys.extend(item["Key"] for item in page.get("Contents", []))
        return keys

    def exists(self, location: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.key(location))
        except ClientError as exc:
            if _error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def existing(self, locations: Iterable[str]) -> list[str]:
        wanted = list(locations)
        if not wanted:
            return []
        keys = [self.key(location) for location in wanted]
        # One listing under the folder the keys share (a dataset's, say) instead of a request per key.
        common = posixpath.commonpath([posixpath.dirname(key) for key in keys])
        stored = set(self._keys_under(f"{common}/" if common else ""))
        return [location for location, key in zip(wanted, keys, strict=True) if key in stored]

    def has_match(self, pattern: str) -> bool:
        key_pattern = self.key(pattern)
        fixed = key_pattern.split("*", 1)[0]
        return any(fnmatch.fnmatchcase(key, key_pattern) for key in self._keys_under(fixed[: fixed.rfind("/") + 1]))

    def folder_names(self, location: str) -> list[str]:
        prefix = self.key(location).rstrip("/") + "/"
        paginator = self.client.get_paginator("list_objects_v2")
        names: set[str] = set()
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix, Delimiter="/"):
            names.update(common["Prefix"][len(prefix) :].rstrip("/") for common in page.get("CommonPrefixes", []))
        return sorted(names)

    # --------------------------------------------------------------- reading

    def read_table(self, location: str, columns: list[str] | None = None) -> pa.Table:
        return pq.read_table(pa.BufferReader(self.read_bytes(location)), columns=columns)

    def read_bytes(self, location: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=self.key(location))["Body"].read()

    def _read_stored(self, key: str) -> _Stored | None:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _error_code(exc) in ("NoSuchKey", "404"):
                return None
            raise
        return _Stored(pq.read_table(pa.BufferReader(response["Body"].read())), response["ETag"])

    # --------------------------------------------------------------- writing

    def parquet_writer(self, location: str, schema: pa.Schema) -> S3ParquetWriter:
        return S3ParquetWriter(self, self.key(location), schema)

    def publish(self, path: Path, key: str) -> None:
        """Upload the complete file ``path`` as ``key``: one PUT, or one multipart upload that
        boto3 aborts when it fails, so the key shows the whole file or its previous object."""
        self.client.upload_file(
            str(path), self.bucket, key, Config=TransferConfig(multipart_threshold=_MULTIPART_THRESHOLD)
        )

    def write_bytes(self, location: str, content: bytes, content_type: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self.key(location), Body=content, ContentType=content_type)

    def swap_table(self, location: str, choose: Chooser) -> pa.Table | None:
        key = self.key(location)
        for _ in range(_SWAP_ATTEMPTS):
            stored = self._read_stored(key)
            table = choose(stored.table if stored else None)
            if table is None:
                return None
            sink = pa.BufferOutputStream()
            pq.write_table(table, sink, compression="zstd")
            # Written only if the object is still the one just read (or still absent): a writer
            # that lost the race reads the winner's object and decides again.
            condition = {"IfMatch": stored.etag} if stored else {"IfNoneMatch": "*"}
            try:
                self.client.put_object(Bucket=self.bucket, Key=key, Body=pa.BufferReader(sink.getvalue()), **condition)
            except ClientError as exc:
                if _error_code(exc) in _CONDITION_FAILED:
                    continue
                if _error_code(exc) == "NotImplemented":
                    # A store without conditional writes: the last writer wins, as on a file system
                    # without locks.
                    self.client.put_object(Bucket=self.bucket, Key=key, Body=pa.BufferReader(sink.getvalue()))
                    return table
                raise
            return table
        raise StorageError(f"{location}: another writer kept replacing it; gave up after {_SWAP_ATTEMPTS} attempts")

    # ----------------------------------------------------------- the bucket

    def check_writable(self) -> None:
        where = f"{DATA_DIR_VAR}={self.root!r}"
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except NoCredentialsError:
            raise StorageError(
                f"{where}: no AWS credentials found (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                "AWS_PROFILE, or run with an instance or pod role)"
            ) from None
        except ClientError as exc:
            code = _error_code(exc)
            if code in ("404", "NoSuchBucket", "NotFound"):
                raise StorageError(f"{where}: bucket {self.bucket!r} does not exist") from None
            if code in ("403", "AccessDenied", "Forbidden", "SignatureDoesNotMatch", "InvalidAccessKeyId"):
                raise StorageError(
                    f"{where}: the AWS credentials in use cannot access bucket {self.bucket!r} (HTTP {code}: "
                    "check the key pair, the region and the bucket policy)"
                ) from None
            raise StorageError(f"{where}: bucket {self.bucket!r} answered {code}") from None
        except BotoCoreError as exc:
            # Connection and endpoint errors: their text names the endpoint, never a credential.
            raise StorageError(f"{where}: cannot reach the bucket ({type(exc).__name__}: {exc})") from None

    @property
    def analysis_db(self) -> Path:
        # A views-only cache on the machine that reads the bucket, one per root: the bucket is
        # the truth, and any process can rebuild the file from it.
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        digest = hashlib.sha256(self.root.encode()).hexdigest()[:12]
        return cache / "diga-assets" / f"{self.bucket}-{digest}" / ANALYSIS_DB_FILE

    def register(self, con: duckdb.DuckDBPyConnection) -> None:
        if not _use_httpfs(con):
            con.register_filesystem(self.filesystem)

    @contextmanager
    def readable_copies(self, locations: Sequence[str]) -> Iterator[list[str]]:
        # A run's checks and metrics read every column group of each of its day files, several
        # times: whole downloads, side by side, then local reads beat DuckDB's ranged requests
        # through fsspec (which hold the interpreter lock) several times over. The copies keep
        # the keys' folders, so hive partitions (date=...) read the same.
        with tempfile.TemporaryDirectory(prefix="diga-read-") as folder:
            paths = [Path(folder) / self.key(location) for location in locations]
            for path in paths:
                path.parent.mkdir(parents=True, exist_ok=True)
            with ThreadPoolExecutor(max_workers=_DOWNLOAD_THREADS, thread_name_prefix="diga-download") as pool:
                # Each download in its own pool thread, without boto3's threads and their queue of
                # chunks in memory: the files are many and small, the parallelism is across them.
                single = TransferConfig(use_threads=False)
                downloads = [
                    pool.submit(self.client.download_file, self.bucket, self.key(location), str(path), Config=single)
                    for location, path in zip(locations, paths, strict=True)
                ]
                for download in downloads:
                    download.result()
            yield [str(path) for path in paths]


def _endpoint() -> str | None:
    """The S3 endpoint of the standard AWS variables (a store other than AWS), if any."""
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")


_SESSION_LOCK = threading.Lock()


def _aws_environment() -> tuple[tuple[str, str], ...]:
    """The AWS variables of the process: what a session resolves its credentials and endpoint from."""
    return tuple(sorted((name, value) for name, value in os.environ.items() if name.startswith("AWS_")))


@cache
def _aws_session(environment: tuple[tuple[str, str], ...]) -> boto3.session.Session:
    """One boto3 session per AWS environment: a new session loads botocore's service models again
    for each client, and the data of a run or a test opens several stores.
    Keyed by the AWS variables, so a changed variable gets a session that reads it."""
    del environment  # the cache key only
    return boto3.session.Session()


def _arrow_s3_options() -> dict[str, str]:
    """pyarrow's S3 filesystem options from the standard AWS chain, as boto3 reads it: the AWS
    SDK under pyarrow reads the credentials itself, but neither ``AWS_ENDPOINT_URL`` nor the
    profile's region."""
    options: dict[str, str] = {}
    if endpoint := _endpoint():
        options["endpoint_override"] = endpoint
    with _SESSION_LOCK:
        region = _aws_session(_aws_environment()).region_name
    if region:
        options["region"] = region
    return options


def _use_httpfs(con: duckdb.DuckDBPyConnection) -> bool:
    """Read s3:// with DuckDB's own httpfs extension and a credential-chain secret when both
    extensions are installed (nothing is downloaded); False when they are not."""
    try:
        con.execute("LOAD httpfs")
        con.execute("LOAD aws")
    except duckdb.Error:
        return False
    options = ["TYPE s3", "PROVIDER credential_chain"]
    if endpoint := _endpoint():
        parts = urlsplit(endpoint)
        options += [
            f"ENDPOINT '{parts.netloc}'",
            "URL_STYLE 'path'",
            f"USE_SSL {'true' if parts.scheme == 'https' else 'false'}",
        ]
    con.execute(f"CREATE OR REPLACE SECRET diga_s3 ({', '.join(options)})")
    return True


@cache
def _remove_stale_staged_files_once(temp_dir: str) -> None:
    """What runs killed while writing (out of memory, a pod evicted) left in the machine's temp
    dir, removed once per process: each run is a process, and a temp dir can hold many files."""
    remove_stale_staged_files(Path(temp_dir), f"{_STAGED_PREFIX}*{_STAGED_SUFFIX}")


class S3ParquetWriter(StagedParquetWriter):
    """Stream batches into a local temporary Parquet file, then upload it whole on a clean exit;
    on an exception nothing is uploaded. Memory holds what the Parquet writer buffers, as on disk."""

    def __init__(self, store: S3Store, key: str, schema: pa.Schema, *, compression: str = "zstd") -> None:
        super().__init__(schema, compression=compression)
        self.store = store
        self.key = key

    def _stage(self) -> Path:
        _remove_stale_staged_files_once(tempfile.gettempdir())
        handle, name = tempfile.mkstemp(prefix=_STAGED_PREFIX, suffix=_STAGED_SUFFIX)  # private: mode 0600
        os.close(handle)
        return Path(name)

    def _publish(self, staged: Path) -> None:
        self.store.publish(staged, self.key)
