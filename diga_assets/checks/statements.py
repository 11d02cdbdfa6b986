"""The checks' statements (``sql/select_*.sql`` beside this module), each pasteable into a DuckDB
shell with its parameters replaced as its header says, and the one way a check runs them."""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from diga_assets.analysis.sql import SqlFolder
from diga_assets.storage import Store

CHECK_SQL = SqlFolder(Path(__file__).resolve().parent / "sql")


def query_files(store: Store, statement: str, files: Sequence[str], **params: Any) -> list[dict[str, Any]]:
    """The rows of the check ``statement`` over ``files`` (its ``$files`` parameter), as dicts
    by column name; the files are read where the store reads them fastest."""
    with store.readable_copies(files) as readable, store.connect() as con:
        relation = con.sql(CHECK_SQL(statement), params={**params, "files": readable})
        return [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]
