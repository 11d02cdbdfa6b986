"""An S3-compatible server on loopback for the tests: moto's server, started once per session by
the fixtures that need it, and the data roots the storage-parametrized tests run against.

The project reads credentials and the endpoint from the standard AWS chain only, so the server
is reached the way a user reaches MinIO or R2: ``AWS_ENDPOINT_URL`` and a key pair in the
environment. The instance-metadata lookup is switched off, so nothing ever leaves loopback.
"""

from __future__ import annotations

import fnmatch
import functools
import glob
import logging
import re
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

BUCKET = "diga-tests"
# Made up per session, so a search for it in logs, metadata and files finds only real leaks.
SECRET_ACCESS_KEY = "aws-secret-" + secrets.token_hex(12)
ACCESS_KEY_ID = "AKIADIGATESTS" + secrets.token_hex(4).upper()

# tmp_path -> the data root a test's storage_for(tmp_path) uses, when it is not tmp_path/data.
_ROOTS: dict[Path, str] = {}


@dataclass
class S3Server:
    """A running moto server and the environment that points the AWS chain at it."""

    endpoint: str
    environment: dict[str, str]

    def client(self) -> Any:
        """A boto3 client of the server, for tests to look at the bucket directly (whatever a
        test did to the environment's credentials)."""
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
        )

    def new_root(self, name: str = "") -> str:
        """A fresh ``s3://`` data root no other test writes to, named after ``name`` in characters
        no glob gives a meaning to (DuckDB reads the root's globs)."""
        readable = re.sub(r"[^a-z0-9_-]+", "-", name.lower())[:40].strip("-")
        return f"s3://{BUCKET}/{readable or 'test'}-{uuid.uuid4().hex[:12]}"


@contextmanager
def running_s3_server(cache_dir: Path) -> Iterator[S3Server]:
    """Start moto on 127.0.0.1 and a free port, point the AWS chain at it, create the bucket;
    stop it and put the environment back afterwards."""
    from moto.server import ThreadedMotoServer

    # The server logs a line per request at INFO.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    _list_moto_services_once()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    environment = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        "AWS_DEFAULT_REGION": "us-east-1",
        # Never ask 169.254.169.254 for a role, and read no profile of the machine's user.
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": str(cache_dir / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(cache_dir / "no-aws-credentials"),
        # The analysis database of a bucket root is a cache in the user's cache directory.
        "XDG_CACHE_HOME": str(cache_dir),
    }
    try:
        with pytest.MonkeyPatch.context() as patch:
            for name, value in environment.items():
                patch.setenv(name, value)
            boto3.session.Session().client("s3").create_bucket(Bucket=BUCKET)
            yield S3Server(endpoint, environment)
    finally:
        server.stop()


def _list_moto_services_once() -> None:
    """moto's server (5.2.6, the newest) finds each request's service by listing its own package
    directory, a ``stat`` per service, every time: about a third of the bucket tests' system CPU.
    The directory does not change while the tests run, so it is listed once."""
    from moto import backends

    listed = backends.list_of_moto_modules
    if not hasattr(listed, "__wrapped__"):
        services = tuple(listed())
        backends.list_of_moto_modules = functools.wraps(listed)(lambda: services)


def use_data_root(tmp_path: Path, root: str) -> None:
    """Make ``storage_for(tmp_path)`` (and every helper built on it) use ``root``."""
    _ROOTS[tmp_path] = root


def forget_data_root(tmp_path: Path) -> None:
    """Back to the default, ``tmp_path / "data"``."""
    _ROOTS.pop(tmp_path, None)


def data_root_for(tmp_path: Path) -> str:
    """The data root of the test whose temporary directory is ``tmp_path``."""
    return _ROOTS.get(tmp_path, str(tmp_path / "data"))


def stored_names(storage: Any, directory: str) -> list[str]:
    """The names of the files stored directly in ``directory`` (a location under the storage's
    root), for either kind of root: what a reader listing it sees. A local root's hidden files (a
    killed writer's temporary file) are left out; a bucket has none, every key is listed."""
    if directory.startswith("s3://"):
        bucket, _, prefix = directory.removeprefix("s3://").partition("/")
        # The store's own client: a new boto3 session costs about 0.1 s of CPU to load its models.
        listing = storage.store.client.list_objects_v2(Bucket=bucket, Prefix=prefix.rstrip("/") + "/")
        return sorted(item["Key"].rsplit("/", 1)[1] for item in listing.get("Contents", []))
    local = Path(directory)
    return sorted(path.name for path in local.iterdir() if not path.name.startswith(".")) if local.is_dir() else []


def stored_files(storage: Any, pattern: str) -> list[str]:
    """The stored files matching a location glob (``.../date=*/*.parquet``) under the storage's
    root, for either kind of root."""
    if pattern.startswith("s3://"):
        bucket, _, key_pattern = pattern.removeprefix("s3://").partition("/")
        fixed = key_pattern.split("*", 1)[0]
        paginator = storage.store.client.get_paginator("list_objects_v2")
        keys = [
            item["Key"] for page in paginator.paginate(Bucket=bucket, Prefix=fixed) for item in page.get("Contents", [])
        ]
        return sorted(f"s3://{bucket}/{key}" for key in keys if fnmatch.fnmatchcase(key, key_pattern))
    return sorted(glob.glob(pattern))
