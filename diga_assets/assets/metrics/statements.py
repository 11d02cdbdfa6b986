"""The metric statements (``sql/select_*.sql`` beside this module), each pasteable into a DuckDB
shell over the analysis database's views."""

from pathlib import Path

from diga_assets.analysis.sql import SqlFolder

METRIC_SQL = SqlFolder(Path(__file__).resolve().parent / "sql")
