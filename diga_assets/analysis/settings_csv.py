"""Reading a CSV file a setting names (the outcome map, the tariff): the checks every such file
gets before its own rows are judged, with errors that name the setting, the file and the line."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path


def settings_csv_rows(
    path: Path, header: tuple[str, ...], *, source: str, error: type[ValueError]
) -> Iterator[tuple[int, list[str]]]:
    """Each data line of the CSV at ``path`` with its line number: the file read as UTF-8, its
    first line exactly ``header``, blank lines skipped, every other line of ``len(header)``
    fields. Otherwise raises ``error`` naming ``source`` (the setting and the file) and the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"{source}: cannot read the file ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise error(f"{source}: is not UTF-8 text ({exc.reason})") from None
    reader = csv.reader(text.splitlines())
    found = next(reader, None)
    if found is None or tuple(found) != header:
        raise error(f"{source} line 1: the header must be {','.join(header)!r}, found {','.join(found or [])!r}")
    for row in reader:
        if not row:
            continue
        if len(row) != len(header):
            raise error(
                f"{source} line {reader.line_num}: expected {len(header)} fields ({','.join(header)}), found {row!r}"
            )
        yield reader.line_num, row
