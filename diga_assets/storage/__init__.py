"""Storage: where every file lives (``layout``), the root's I/O whole-or-nothing in a local
directory (``local``) or a bucket (``s3``) behind one interface (``store``), and the
``DigaStorage`` resource that carries the root into runs."""

from diga_assets.storage.layout import PARTITION_FILE, RELATIVE_LAYOUT, DataLayout
from diga_assets.storage.resource import DigaStorage
from diga_assets.storage.store import StorageError, Store

__all__ = ["PARTITION_FILE", "RELATIVE_LAYOUT", "DataLayout", "DigaStorage", "StorageError", "Store"]
