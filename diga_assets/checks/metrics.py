"""Asset checks on the metric layer (call_outcome_rates, agent_version_outcomes).

Checks read the metric files of the days the run covers through an in-memory DuckDB
(``sql/select_*.sql``) and name what they found: the day, the group, the value. The
integrity checks block the metric's downstream assets, since a rate above 1 or calls counted
twice would make every report built on them wrong; the anomaly check only warns, since a bad day
for the calls is news, not a bug.
"""

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import dagster as dg

from diga_assets.analysis.outcome_map import map_line
from diga_assets.assets.common import DigaGraph
from diga_assets.checks.common import daily_check
from diga_assets.checks.statements import query_files
from diga_assets.names import (
    AGENT_VERSION_OUTCOMES,
    CALL_CONCURRENCY,
    CALL_CONVERSATION_STATS,
    CALL_END_REASONS,
    CALL_KPIS,
    CALL_OUTCOME_RATES,
)
from diga_assets.settings import OUTCOME_MAP_VAR
from diga_assets.storage import DigaStorage

# The anomaly check compares a day with the days before it.
TRAILING_DAYS = 14
ANOMALY_STDDEVS = 3.0
# Fewer days of history give a standard deviation too noisy to call a day anomalous.
MIN_HISTORY_DAYS = 7
# How many failing rows a check's description lists (the metadata counts them all).
FAILURES_LISTED = 10


def _group(row: dict[str, Any], columns: Sequence[str]) -> str:
    return f"{row['day']} " + " ".join(f"{c}={row[c] if row[c] is not None else 'NULL'}" for c in columns)


def first_failures(items: Sequence[str]) -> str:
    """The first ``FAILURES_LISTED`` items, and how many more there are."""
    listed = "; ".join(items[:FAILURES_LISTED])
    return listed + (f"; and {len(items) - FAILURES_LISTED} more" if len(items) > FAILURES_LISTED else "")


def rates_check(
    asset: str, group_columns: Sequence[str], storage: DigaStorage, keys: Sequence[str]
) -> dg.AssetCheckResult:
    """Every ``*_rate`` and ``*_share`` of the days' files lies in [0, 1] (NULL allowed); failures
    name day and group."""
    files = storage.existing_metric_files(asset, keys)
    rows = query_files(storage.store, "select_rates_outside_unit_interval", files) if files else []
    failures = [f"{_group(row, group_columns)}: {row['rate']}={row['value']}" for row in rows]
    return dg.AssetCheckResult(
        passed=not rows,
        description=(
            f"rates outside [0, 1]: {first_failures(failures)}"
            if rows
            else f"every rate lies in [0, 1] in {len(files)} day file(s)"
        ),
        metadata={
            "rates_outside_unit_interval": len(rows),
            "days_failing": dg.MetadataValue.json(sorted({str(row["day"]) for row in rows})),
            "files_checked": len(files),
        },
    )


def counts_check(storage: DigaStorage, keys: Sequence[str]) -> dg.AssetCheckResult:
    """The outcome counts of each call_outcome_rates group add up to its ``total_calls``."""
    files = storage.existing_metric_files(CALL_OUTCOME_RATES, keys)
    rows = query_files(storage.store, "select_outcome_counts_not_adding_up", files) if files else []
    failures = [
        f"{_group(row, ('agent_id', 'call_type'))}: outcomes add up to {row['outcome_calls']}, "
        f"total_calls={row['total_calls']}"
        for row in rows
    ]
    return dg.AssetCheckResult(
        passed=not rows,
        description=(
            f"outcome counts do not add up: {first_failures(failures)}"
            if rows
            else f"outcome counts add up to total_calls in {len(files)} day file(s)"
        ),
        metadata={
            "groups_not_adding_up": len(rows),
            "days_failing": dg.MetadataValue.json(sorted({str(row["day"]) for row in rows})),
            "files_checked": len(files),
        },
    )


def completion_anomaly_check(storage: DigaStorage, keys: Sequence[str]) -> dg.AssetCheckResult:
    """WARN when a day's completion rate is more than ``ANOMALY_STDDEVS`` standard deviations below
    the mean of the ``TRAILING_DAYS`` days before it (needs ``MIN_HISTORY_DAYS`` days with a rate)."""
    checked = sorted(date.fromisoformat(k) for k in keys)
    first = checked[0] - timedelta(days=TRAILING_DAYS)
    span = [first + timedelta(days=n) for n in range((checked[-1] - first).days + 1)]
    files = storage.existing_metric_files(CALL_OUTCOME_RATES, [day.isoformat() for day in span])
    rows = (
        query_files(storage.store, "select_completion_rate_history", files, trailing_days=TRAILING_DAYS)
        if files
        else []
    )
    judged: list[dict[str, Any]] = []
    low: list[str] = []
    partial = [row["day"] for row in rows if row["day"] in checked and row["partial"]]
    for row in rows:
        if row["day"] not in checked or row["partial"] or row["completion_rate"] is None:
            continue
        if row["trailing_days"] < MIN_HISTORY_DAYS:
            continue
        floor = row["trailing_mean"] - ANOMALY_STDDEVS * row["trailing_stddev"]
        judged.append(row)
        if row["completion_rate"] < floor:
            low.append(
                f"{row['day']}: completion rate {row['completion_rate']:.3f} is below {floor:.3f} (mean "
                f"{row['trailing_mean']:.3f} - {ANOMALY_STDDEVS:g} x stddev {row['trailing_stddev']:.3f} over "
                f"{row['trailing_days']} days)"
            )
    latest = judged[-1] if judged else None
    return dg.AssetCheckResult(
        passed=not low,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"completion rate far below its trailing {TRAILING_DAYS}-day mean: {first_failures(low)}"
            if low
            else f"{len(judged)} day(s) within {ANOMALY_STDDEVS:g} standard deviations of their trailing "
            f"{TRAILING_DAYS}-day mean; {len(checked) - len(judged) - len(partial)} day(s) without enough history "
            f"or ended calls" + (f"; {len(partial)} partial day(s) (the day so far) not judged" if partial else "")
        ),
        metadata={
            "days_anomalous": len(low),
            "days_judged": len(judged),
            "days_partial": len(partial),
            **(
                {
                    "completion_rate": latest["completion_rate"],
                    "trailing_mean": latest["trailing_mean"],
                    "trailing_stddev": latest["trailing_stddev"],
                }
                if latest
                else {}
            ),
        },
    )


def unmapped_end_reasons_check(
    storage: DigaStorage, keys: Sequence[str], outcome_map_setting: str = OUTCOME_MAP_VAR
) -> dg.AssetCheckResult:
    """WARN naming every end reason of completed calls that the outcome map does not name, with
    its calls, what it was counted as, and the line to add to the map (whose setting is
    ``outcome_map_setting``)."""
    files = storage.existing_metric_files(CALL_END_REASONS, keys)
    rows = query_files(storage.store, "select_unmapped_end_reasons", files) if files else []
    lines = [map_line("completed", row["end_reason"]) for row in rows]
    listed = [
        f"{row['end_reason']} ({row['calls']} calls, counted as {row['counted_as']}): add `{line}`"
        for row, line in zip(rows, lines, strict=True)
    ]
    return dg.AssetCheckResult(
        passed=not rows,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"{sum(row['calls'] for row in rows)} completed calls have an end_reason the outcome map does not "
            f"name, so each was counted as its status's default: {first_failures(listed)}. Add the lines (with the "
            f"outcome you mean) to your copy of the map and point {outcome_map_setting} at it."
            if rows
            else f"the outcome map names every end_reason of completed calls in {len(files)} day file(s)"
        ),
        metadata={
            "unmapped_calls": sum(row["calls"] for row in rows),
            "unmapped_end_reasons": dg.MetadataValue.json({row["end_reason"]: row["calls"] for row in rows}),
            "lines_to_add": dg.MetadataValue.md("```csv\n" + "\n".join(lines) + "\n```" if lines else "_none_"),
            "files_checked": len(files),
        },
    )


def concurrency_limit_check(storage: DigaStorage, keys: Sequence[str], limit: int, setting: str) -> dg.AssetCheckResult:
    """WARN naming every hour whose peak of concurrent calls reached ``limit`` (the setting
    ``setting``): the plan refuses or queues calls beyond it."""
    files = storage.existing_metric_files(CALL_CONCURRENCY, keys)
    rows = query_files(storage.store, "select_hours_at_concurrency_limit", files, limit=limit) if files else []
    hours = [f"{row['day']} {row['hour']:02d}:00 peak {row['peak_concurrent']}" for row in rows]
    return dg.AssetCheckResult(
        passed=not rows,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"{len(rows)} hour(s) reached the cap of {limit} concurrent calls ({setting}): {first_failures(hours)}"
            if rows
            else f"no hour reached the cap of {limit} concurrent calls in {len(files)} day file(s)"
        ),
        metadata={
            "hours_at_limit": len(rows),
            "concurrency_limit": limit,
            "peak_concurrent": max((row["peak_concurrent"] for row in rows), default=0),
            "files_checked": len(files),
        },
    )


def _rates_within_unit_interval(
    graph: DigaGraph, asset: str, group_columns: tuple[str, ...], description: str
) -> dg.AssetChecksDefinition:
    """The blocking check that every rate and share of ``asset`` lies in [0, 1]."""
    return daily_check(graph, asset, "rates_within_unit_interval", description, blocking=True)(
        lambda storage, keys: rates_check(asset, group_columns, storage, keys)
    )


def build_metric_checks(graph: DigaGraph) -> list[dg.AssetChecksDefinition]:
    """Checks for the daily metric assets, on the same partitions as the assets."""
    outcome_map_setting = graph.settings.label("outcome_map")
    checks = [
        _rates_within_unit_interval(
            graph,
            CALL_OUTCOME_RATES,
            ("agent_id", "call_type"),
            "Every rate of call_outcome_rates lies in [0, 1] (NULL where no call ended).",
        ),
        daily_check(
            graph,
            CALL_OUTCOME_RATES,
            "outcome_counts_add_up",
            "In each (day, agent_id, call_type) group, completed + failed + no_answer + transferred + voicemail "
            "+ unfinished + other_status = total_calls: every call is counted once.",
            blocking=True,
        )(counts_check),
        daily_check(
            graph,
            CALL_OUTCOME_RATES,
            "completion_rate_within_trailing_range",
            f"WARN when a day's completion rate falls more than {ANOMALY_STDDEVS:g} standard deviations below "
            f"the mean of the {TRAILING_DAYS} days before it (judged once {MIN_HISTORY_DAYS} of them have a rate).",
        )(completion_anomaly_check),
        _rates_within_unit_interval(
            graph,
            AGENT_VERSION_OUTCOMES,
            ("agent_id", "agent_version_id"),
            "Every rate of agent_version_outcomes lies in [0, 1] (NULL where no call ended).",
        ),
        daily_check(
            graph,
            CALL_END_REASONS,
            "end_reasons_mapped",
            "WARN when completed calls carry an end_reason the outcome map does not name: the live API "
            "reports every finished call as completed, so such calls count as completed whatever happened. "
            "Lists each code with its calls and the CSV line to add to the map.",
        )(lambda storage, keys: unmapped_end_reasons_check(storage, keys, outcome_map_setting)),
        _rates_within_unit_interval(
            graph,
            CALL_CONVERSATION_STATS,
            ("agent_id", "call_type"),
            "Every share of call_conversation_stats lies in [0, 1] (NULL where no call has a transcript).",
        ),
        _rates_within_unit_interval(
            graph,
            CALL_KPIS,
            ("agent_id", "call_type"),
            "Every rate of call_kpis lies in [0, 1] (NULL where nothing ended, or for inbound calls' answer_rate).",
        ),
    ]
    if (limit := graph.settings.concurrency_limit) is not None:
        setting = graph.settings.label("concurrency_limit")
        checks.append(
            daily_check(
                graph,
                CALL_CONCURRENCY,
                "peak_below_concurrency_limit",
                f"WARN when an hour's peak of concurrent calls reaches the plan's cap of {limit} ({setting}): "
                "calls beyond it are refused or queued. Lists each such hour.",
            )(lambda storage, keys: concurrency_limit_check(storage, keys, limit, setting))
        )
    return checks
