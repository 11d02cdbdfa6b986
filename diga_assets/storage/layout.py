"""Where every file the project stores lives, relative to the storage root.

This is the one place that knows the layout of ``DIGA_DATA_DIR``: raw partitions, metric
partitions, the phone timeline, the report and the analysis database. Everything else asks it.

The layout is public (analysts glob it, backfills replace it), so its spelling stays as it was
first published: raw partitions are ``date=YYYY-MM-DD`` folders, metric partitions ``day=YYYY-MM-DD``
folders (the column the metric files carry is ``day``), and each partition is one file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from diga_assets.names import DAILY_METRICS

PARTITION_FILE = "part-0.parquet"
ANALYSIS_DB_FILE = "diga.duckdb"


@dataclass(frozen=True)
class DataLayout:
    """Paths under ``root``. ``DataLayout(Path())`` gives them relative, for documentation."""

    root: Path

    # ------------------------------------------------------------------ raw

    def raw_dir(self, dataset: str) -> Path:
        """``raw/{dataset}``: every partition of one raw dataset (``calls``, ``phones``)."""
        return self.root / "raw" / dataset

    def raw_partition(self, dataset: str, key: str) -> Path:
        """The one file of a raw partition: ``raw/calls/date=2026-11-01/part-0.parquet``."""
        return self.raw_dir(dataset) / f"date={key}" / PARTITION_FILE

    def raw_glob(self, dataset: str) -> str:
        """A glob over every partition of a raw dataset, for DuckDB or pyarrow."""
        return str(self.raw_dir(dataset) / "date=*" / "*.parquet")

    def existing_raw_partitions(self, dataset: str, keys: Iterable[str]) -> list[str]:
        """The stored files of those partitions, as strings for DuckDB; days never stored are skipped."""
        return _existing(self.raw_partition(dataset, key) for key in keys)

    # -------------------------------------------------------------- metrics

    def metric_dir(self, asset: str) -> Path:
        """``metrics/{asset}``: everything one metric asset stores."""
        return self.root / "metrics" / asset

    def metric_partition(self, asset: str, key: str) -> Path:
        """One day of a daily metric: ``metrics/call_outcome_rates/day=2026-11-01/part-0.parquet``."""
        return self.metric_dir(asset) / f"day={key}" / PARTITION_FILE

    def metric_file(self, asset: str) -> Path:
        """The one file of an unpartitioned metric: ``metrics/phone_assignment_timeline/part-0.parquet``."""
        return self.metric_dir(asset) / PARTITION_FILE

    def metric_glob(self, asset: str) -> str:
        """A glob over every stored file of a metric asset."""
        pattern = "day=*/*.parquet" if asset in DAILY_METRICS else "*.parquet"
        return str(self.metric_dir(asset) / pattern)

    def existing_metric_partitions(self, asset: str, keys: Iterable[str]) -> list[str]:
        """The stored files of those days of a daily metric, as strings for DuckDB."""
        return _existing(self.metric_partition(asset, key) for key in keys)

    # ------------------------------------------------------- report, database

    def report_file(self, asset: str) -> Path:
        """The HTML page a report asset writes: ``reports/call_report.html``."""
        return self.root / "reports" / f"{asset}.html"

    @property
    def analysis_db(self) -> Path:
        """``diga.duckdb``: the analysis database (views only)."""
        return self.root / ANALYSIS_DB_FILE


# The layout relative to the root: how the UI and the docs show where an asset's files go.
RELATIVE_LAYOUT = DataLayout(Path())


def _existing(paths: Iterable[Path]) -> list[str]:
    return [str(path) for path in paths if path.exists()]
