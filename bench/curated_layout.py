"""Does the layout inside a curated day matter? The ad-hoc questions over the curated files as
``curated_calls`` writes them, against the same rows laid out otherwise, in the same run.

    .venv/bin/python bench/curated_layout.py [--calls 10000000] [--days 365]

Writes the history and builds the curated days as ``bench/adhoc.py`` does, then copies every
curated day into two other layouts with DuckDB (zstd, as the project writes):

- ``as written``: sorted by ``created_date``, pyarrow's default row groups (one per day here);
- ``by created_date, 8k-row groups``: the same order, row groups of 8,192 rows (DuckDB can skip
  a row group by its min/max statistics);
- ``by agent, 8k-row groups``: sorted by ``agent_id`` then ``created_date``, so one agent's calls
  sit in a few row groups of each day.

Asks ``bench/adhoc.py``'s four questions of each layout through the ``calls`` view's own SQL,
best of two, in this process (the layouts are compared with each other, not with a peer).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date
from pathlib import Path

from adhoc import build, questions
from metrics import write_history

LAYOUTS = {
    "by created_date, 8k-row groups": ("created_date, id", 8192),
    "by agent, 8k-row groups": ("agent_id NULLS LAST, created_date, id", 8192),
}


def copy_layout(curated: Path, target: Path, order: str, row_group_size: int) -> None:
    """Every curated day of ``curated`` rewritten under ``target`` in ``order``, in row groups of
    ``row_group_size`` rows."""
    import duckdb

    with duckdb.connect() as con:
        for day in sorted(curated.glob("day=*")):
            (target / day.name).mkdir(parents=True)
            con.execute(
                f"COPY (SELECT * FROM read_parquet('{day}/part-0.parquet') ORDER BY {order}) "
                f"TO '{target / day.name / 'part-0.parquet'}' "
                f"(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {row_group_size})"
            )


def ask_layout(root: Path, sql: str) -> float:
    """Best of two seconds for ``sql`` over a ``calls`` view of the curated files under ``root``."""
    import duckdb

    from diga_assets.analysis.sql import inline_parameters
    from diga_assets.analysis.views import ANALYSIS_SQL

    with duckdb.connect() as con:
        glob = str(root / "day=*" / "*.parquet")
        con.execute(inline_parameters(ANALYSIS_SQL("create_curated_calls_view"), {"curated_files": glob}))
        timings = []
        for _ in range(2):
            started = time.perf_counter()
            con.sql(sql).fetchall()
            timings.append(time.perf_counter() - started)
    return min(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        keys = write_history(data_dir, args.calls, args.days)
        build(data_dir, keys[0], keys[-1])
        roots = {"as written": data_dir / "curated" / "calls"}
        for name, (order, row_group_size) in LAYOUTS.items():
            started = time.perf_counter()
            roots[name] = Path(tmp) / name.replace(" ", "-").replace(",", "") / "calls"
            copy_layout(roots["as written"], roots[name], order, row_group_size)
            print(f"{name}: copied in {time.perf_counter() - started:.1f}s", flush=True)
        asked = {name: sql["views"] for name, sql in questions(date.fromisoformat(keys[-1])).items()}
        seconds = {(q, layout): ask_layout(root, sql) for q, sql in asked.items() for layout, root in roots.items()}
    print(f"\n{args.calls:,} calls over {args.days} days; best of two per question; seconds")
    print(f"{'question':<28}" + "".join(f"{layout:>32}" for layout in roots))
    for question in asked:
        print(f"{question:<28}" + "".join(f"{seconds[(question, layout)]:>32.3f}" for layout in roots))
    sums = {layout: sum(seconds[(q, layout)] for q in asked) for layout in roots}
    print(f"{'sum':<28}" + "".join(f"{sums[layout]:>32.3f}" for layout in roots))
    for layout in LAYOUTS:
        print(f"{layout} / as written: {sums[layout] / sums['as written']:.2f}x")


if __name__ == "__main__":
    main()
