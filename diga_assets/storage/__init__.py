"""Storage: where every file lives (``layout``), the root's I/O whole-or-nothing in a local
directory (``local``) or a bucket (``s3``) behind one interface (``store``), and the
``DigaStorage`` resource that carries the root into runs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from diga_assets.storage.layout import PARTITION_FILE, RELATIVE_LAYOUT, DataLayout
from diga_assets.storage.store import StorageError, Store

if TYPE_CHECKING:
    from diga_assets.storage.resource import DigaStorage

__all__ = ["PARTITION_FILE", "RELATIVE_LAYOUT", "DataLayout", "DigaStorage", "StorageError", "Store", "open_store"]


def open_store(data_dir: str) -> Store:
    """The store of ``data_dir``: a bucket for ``s3://bucket/prefix``, else a local directory."""
    # Imported here: boto3 and the S3 filesystem are loaded only when the data lives in a bucket.
    if data_dir.startswith("s3://"):
        from diga_assets.storage.s3 import S3Store

        return S3Store.from_uri(data_dir)
    from diga_assets.storage.local import LocalStore

    return LocalStore(Path(data_dir).expanduser().resolve())


def __getattr__(name: str) -> Any:
    # The resource imports Dagster; the files and the views do not need it, so a query does not
    # pay Dagster's import.
    if name == "DigaStorage":
        from diga_assets.storage.resource import DigaStorage

        return DigaStorage
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
