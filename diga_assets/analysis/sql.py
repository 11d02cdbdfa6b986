"""SQL statements kept as ``.sql`` files, one statement per file, and the inlining of parameters
for the statements DuckDB cannot prepare.

Each file opens with a header saying why it exists and what to substitute to run it by hand, so a
person can paste it into a DuckDB shell. A folder of statements belongs to the layer that runs
them: the views here, the metric queries beside the metric assets, the checks' beside the checks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path

_PLACEHOLDER = re.compile(r"\$([a-z_][a-z0-9_]*)")


class SqlFolder:
    """The ``.sql`` files of one folder, each read once: ``SqlFolder(path)("select_x")``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __call__(self, name: str) -> str:
        """The text of ``{folder}/{name}.sql``, header comments included."""
        return _read(self.folder / f"{name}.sql")


@cache
def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def quote_literal(value: str) -> str:
    """``value`` as a SQL string literal (single quotes doubled), for statements DuckDB cannot prepare."""
    return "'" + value.replace("'", "''") + "'"


def inline_parameters(statement: str, values: Mapping[str, str | Sequence[str]]) -> str:
    """Replace each ``$name`` of a DDL statement by the quoted literal of ``values[name]`` (a list
    literal of quoted strings for a sequence).

    DuckDB cannot prepare ``CREATE VIEW``, and a view stored in the analysis database must carry
    its paths anyway. Comment lines are dropped first, so a value can never land in a comment;
    every placeholder must have a value and every value a placeholder.
    """
    body = "\n".join(line for line in statement.splitlines() if not line.lstrip().startswith("--"))
    used = set(_PLACEHOLDER.findall(body))
    if used != set(values):
        raise KeyError(f"statement parameters {sorted(used)} do not match the values given {sorted(values)}")

    def literal(value: str | Sequence[str]) -> str:
        if isinstance(value, str):
            return quote_literal(value)
        return "[" + ", ".join(quote_literal(item) for item in value) + "]"

    return _PLACEHOLDER.sub(lambda match: literal(values[match.group(1)]), body)
