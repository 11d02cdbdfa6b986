"""Where every file the project stores lives, under the storage root.

This is the one place that knows the layout of ``DIGA_DATA_DIR``: raw partitions, curated
partitions, metric partitions, the phone timeline and the report. Everything else asks it. It only joins names: a
location is a string, a local path (``/srv/diga/raw/...``) or an object URI
(``s3://bucket/prefix/raw/...``), and the store of the root (``store.py``) does the I/O.

The layout is public (analysts glob it, backfills replace it), so its spelling stays as it was
first published: raw partitions are ``date=YYYY-MM-DD`` folders, curated and metric partitions
``day=YYYY-MM-DD`` folders (the calls' ``day``: the curated files leave it to the folder name,
which DuckDB prunes on; the metric files carry it as a column too), and each partition is one
file.
"""

from __future__ import annotations

from dataclasses import dataclass

from diga_assets.names import PHONE_ASSIGNMENT_TIMELINE

PARTITION_FILE = "part-0.parquet"


@dataclass(frozen=True)
class DataLayout:
    """Locations under ``root``. ``DataLayout("")`` gives them relative, for documentation."""

    root: str

    def _at(self, *parts: str) -> str:
        # Locations join with "/" whether local (POSIX) or in a bucket.
        return "/".join([self.root.rstrip("/"), *parts]) if self.root else "/".join(parts)

    # ------------------------------------------------------------------ raw

    def raw_dir(self, dataset: str) -> str:
        """``raw/{dataset}``: every partition of one raw dataset (``calls``, ``phones``, ``agents``)."""
        return self._at("raw", dataset)

    def raw_partition(self, dataset: str, key: str) -> str:
        """The one file of a raw partition: ``raw/calls/date=2026-11-01/part-0.parquet``."""
        return self._at("raw", dataset, f"date={key}", PARTITION_FILE)

    def raw_glob(self, dataset: str) -> str:
        """A glob over every partition of a raw dataset, for DuckDB."""
        return self._at("raw", dataset, "date=*", "*.parquet")

    # -------------------------------------------------------------- curated

    def curated_dir(self, dataset: str) -> str:
        """``curated/{dataset}``: every day of one curated dataset."""
        return self._at("curated", dataset)

    def curated_partition(self, dataset: str, key: str) -> str:
        """One day of a curated dataset: ``curated/calls/day=2026-11-01/part-0.parquet``."""
        return self._at("curated", dataset, f"day={key}", PARTITION_FILE)

    def curated_glob(self, dataset: str) -> str:
        """A glob over every day of a curated dataset, for DuckDB (``day`` is read from the path)."""
        return self._at("curated", dataset, "day=*", "*.parquet")

    # -------------------------------------------------------------- metrics

    def metric_partition(self, asset: str, key: str) -> str:
        """One day of a daily metric: ``metrics/call_outcome_rates/day=2026-11-01/part-0.parquet``."""
        return self._at("metrics", asset, f"day={key}", PARTITION_FILE)

    def metric_file(self, asset: str) -> str:
        """The one file of an unpartitioned metric: ``metrics/phone_assignment_timeline/part-0.parquet``."""
        return self._at("metrics", asset, PARTITION_FILE)

    def metric_glob(self, asset: str) -> str:
        """A glob over every stored file of a metric asset."""
        pattern = ("*.parquet",) if asset == PHONE_ASSIGNMENT_TIMELINE else ("day=*", "*.parquet")
        return self._at("metrics", asset, *pattern)

    # ---------------------------------------------------------------- audit

    def audit_file(self, asset: str) -> str:
        """The latest results of an audit: ``audit/call_day_audit/part-0.parquet`` (replaced whole)."""
        return self._at("audit", asset, PARTITION_FILE)

    # -------------------------------------------------------------- privacy

    def suppression_file(self) -> str:
        """The erased callers' HMACs: ``privacy/suppressed_contacts/part-0.parquet``."""
        return self._at("privacy", "suppressed_contacts", PARTITION_FILE)

    def suppressed_days_file(self) -> str:
        """How many listed callers' calls each day leaves out: ``privacy/suppressed_calls_by_day/part-0.parquet``."""
        return self._at("privacy", "suppressed_calls_by_day", PARTITION_FILE)

    # --------------------------------------------------------------- report

    def report_file(self, asset: str) -> str:
        """The HTML page a report asset writes: ``reports/call_report.html``."""
        return self._at("reports", f"{asset}.html")


# The layout relative to the root: how the UI and the docs show where an asset's files go.
RELATIVE_LAYOUT = DataLayout("")
