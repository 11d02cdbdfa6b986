"""The checks' statements (``sql/select_*.sql`` beside this module), each pasteable into a DuckDB
shell with its parameters replaced as its header says."""

from pathlib import Path

from diga_assets.analysis.sql import SqlFolder

CHECK_SQL = SqlFolder(Path(__file__).resolve().parent / "sql")
