"""Storage: where every file lives (``DataLayout``), how it is written whole or not at all
(``files``), and the ``DigaStorage`` resource that carries the root into runs."""

from diga_assets.storage.files import AtomicParquetWriter, write_bytes_atomically, write_table_atomically
from diga_assets.storage.layout import PARTITION_FILE, RELATIVE_LAYOUT, DataLayout
from diga_assets.storage.resource import DigaStorage

__all__ = [
    "PARTITION_FILE",
    "RELATIVE_LAYOUT",
    "AtomicParquetWriter",
    "DataLayout",
    "DigaStorage",
    "write_bytes_atomically",
    "write_table_atomically",
]
