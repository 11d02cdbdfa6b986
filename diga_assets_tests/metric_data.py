"""Shared by the metric, check and analysis-database tests: raw Parquet written straight to disk
with controlled values, a run helper for the metric assets, and an independent computation of
every metric in plain Python (no DuckDB, no project SQL) to compare the assets with."""

from __future__ import annotations

import math
import re
import zlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from statistics import NormalDist
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg
import pyarrow as pa
import pytest

from diga_assets.api.agents import AGENT_VERSIONS
from diga_assets.api.records import CALLS, PHONES
from diga_assets.assets.common import DigaGraph
from diga_assets.assets.curated import build_curated_calls_asset
from diga_assets.assets.metrics import build_metric_assets
from diga_assets.checks.metrics import build_metric_checks
from diga_assets.names import (
    AGENT_VERSION_OUTCOMES,
    CALL_CONCURRENCY,
    CALL_DURATION_STATS,
    CALL_END_REASONS,
    CALL_KPIS,
    CALL_OUTCOME_RATES,
    CURATED_CALLS,
    DAILY_METRICS,
    PHONE_ASSIGNMENT_TIMELINE,
    REPEAT_CALLERS,
)
from diga_assets.storage import DigaStorage
from diga_assets_tests.assets.conftest import range_tags, settings_for, storage_for
from diga_assets_tests.object_store import stored_files

FETCHED_AT = datetime(2026, 11, 21, 1, 0, tzinfo=UTC)

# The documented outcome rules, written out independently of analysis/outcomes.csv: the five codes
# Diga documents decide a completed call's outcome; a machine that answered is voicemail under the
# published status model too.
_DOCUMENTED_REASONS = {
    "voicemail_left": "voicemail",
    "answering_machine_detected": "voicemail",
    "mailbox_unavailable": "no_answer",
    "ivr_no_answer": "no_answer",
    "ivr_unreachable": "failed",
}
TERMINAL = ("completed", "failed", "no_answer", "transferred", "voicemail")


# ------------------------------------------------------------------------------ raw data


def call(
    call_id: str,
    created: str,
    *,
    status: str = "completed",
    end_reason: str | None = "hangup",
    agent_id: str | None = "agent-a",
    version: str | None = "agent-a-v1",
    call_type: str = "inbound",
    duration: int | None = 60,
) -> dict[str, Any]:
    """One call record as the API sends it (the fields the spec requires, plus the metric ones)."""
    return {
        "id": call_id,
        "agent_id": agent_id,
        "agent_version_id": version if agent_id else None,
        "status": status,
        "recording_url": None,
        "start_time": created,
        "end_time": None,
        "duration": duration,
        "type": call_type,
        "end_reason": end_reason,
        "contact": {
            "id": "contact-1",
            "identifier": "+34600000001",
            "contact_type": "call",
            "created_date": "2026-01-01T00:00:00Z",
        },
        "phone_register_id": None,
        "dynamic_variables": None,
        "created_date": created,
    }


def write_raw_calls(
    storage: DigaStorage, key: str, records: Sequence[dict[str, Any]], fetched_at: datetime = FETCHED_AT
) -> Path:
    """Store ``records`` as the raw calls partition ``key`` (what diga_calls would write)."""
    path = storage.layout.raw_partition("calls", key)
    storage.store.write_table(path, pa.Table.from_batches([CALLS.to_record_batch(records, fetched_at)]))
    return path


def phone(
    phone_id: str,
    status: str,
    *,
    inbound: str | None = None,
    outbound: str | None = None,
    assigned_at: str | None = None,
    released_at: str | None = None,
    scheduled_release_at: str | None = None,
    nickname: str | None = None,
) -> dict[str, Any]:
    """One phone register record as the API sends it."""
    return {
        "id": phone_id,
        "nickname": nickname,
        "number": f"+3491{zlib.crc32(phone_id.encode()) % 10**7:07d}",
        "telephony_provider": "netelip",
        "status": status,
        "released_at": released_at,
        "scheduled_release_at": scheduled_release_at,
        "assigned_at": assigned_at,
        "inbound_agent_id": inbound,
        "outbound_agent_id": outbound,
    }


def write_raw_phones(storage: DigaStorage, key: str, records: Sequence[dict[str, Any]], observed_at: datetime) -> str:
    """Store a phone snapshot observed at ``observed_at`` as the raw phones partition ``key``."""
    path = storage.layout.raw_partition("phones", key)
    storage.store.write_table(path, pa.Table.from_batches([PHONES.to_record_batch(records, observed_at)]))
    return path


def agent(agent_id: str, name: str | None, *versions: tuple[str, int, str | None]) -> dict[str, Any]:
    """One agent of the agents listing as the API sends it; ``versions``: (id, number, name)."""
    return {
        "agent_id": agent_id,
        "name": name,
        "versions": [
            {"version_id": vid, "version_name": vname, "version_number": number, "is_published": True}
            for vid, number, vname in versions
        ],
    }


def write_raw_agents(storage: DigaStorage, key: str, records: Sequence[dict[str, Any]], observed_at: datetime) -> str:
    """Store an agents snapshot observed at ``observed_at`` as the raw agents partition ``key``."""
    path = storage.layout.raw_partition("agents", key)
    storage.store.write_table(path, AGENT_VERSIONS.to_table(records, observed_at))
    return path


def days_between(first: str, last: str) -> list[str]:
    """Partition keys from ``first`` to ``last`` inclusive."""
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [(start + timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]


# ------------------------------------------------------------------------------ runs


def materialize_metrics(
    tmp_path: Path,
    assets: Sequence[str],
    *,
    first: str,
    last: str | None = None,
    timezone: str = "UTC",
    checks: bool = True,
    instance: dg.DagsterInstance | None = None,
    raise_on_error: bool = True,
    outcome_map: Path | None = None,
    **setting_overrides: Any,
) -> dg.ExecuteInProcessResult:
    """Materialize metric assets (and their checks) from the raw files under ``tmp_path/data``,
    with the days curated first (``curated_calls``, which the daily metrics read), with the
    package's outcome map or ``outcome_map``, and the test settings or ``setting_overrides``."""
    graph = DigaGraph(settings_for(tmp_path / "data", timezone, outcome_map=outcome_map, **setting_overrides))
    selection = dg.AssetSelection.assets(*assets).without_checks()
    if any(asset in DAILY_METRICS for asset in assets):
        selection = selection | dg.AssetSelection.assets(CURATED_CALLS)
    if checks:
        selection = selection | dg.AssetSelection.checks_for_assets(*assets)
    kwargs: dict[str, Any] = {"tags": range_tags(first, last)} if last else {"partition_key": first}
    return dg.materialize(
        [
            build_curated_calls_asset(graph),
            *build_metric_assets(graph),
            *build_metric_checks(graph),
        ],
        selection=selection,
        resources={"storage": storage_for(tmp_path)},
        instance=instance,
        raise_on_error=raise_on_error,
        **kwargs,
    )


def materialize_timeline(tmp_path: Path) -> dg.ExecuteInProcessResult:
    """Materialize phone_assignment_timeline (unpartitioned) from the raw phone snapshots."""
    graph = DigaGraph(settings_for(tmp_path / "data"))
    return dg.materialize(
        build_metric_assets(graph),
        selection=[PHONE_ASSIGNMENT_TIMELINE],
        resources={"storage": storage_for(tmp_path)},
    )


def run_checks(tmp_path: Path, asset: str, key: str, timezone: str = "UTC") -> dict[str, dg.AssetCheckEvaluation]:
    """Run only the checks of ``asset`` for one day, against the files already stored."""
    graph = DigaGraph(settings_for(tmp_path / "data", timezone))
    result = dg.materialize(
        [*build_metric_assets(graph), *build_metric_checks(graph)],
        selection=dg.AssetSelection.checks_for_assets(asset),
        resources={"storage": storage_for(tmp_path)},
        # A run of checks alone has no asset to take the partition from; the tag carries it.
        tags={"dagster/partition": key},
        # A failing blocking check fails its step; its evaluation is recorded all the same.
        raise_on_error=False,
    )
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def partition_metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, dict[str, Any]]:
    """Partition key to the plain metadata values of ``asset``'s materializations in ``result``."""
    found = {}
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization
        if materialization.asset_key.path[-1] == asset:
            found[materialization.partition] = {k: v.value for k, v in materialization.metadata.items()}
    return found


def read_metric_day(storage: DigaStorage, asset: str, key: str) -> pa.Table:
    """The stored file of one day of a daily metric."""
    return storage.store.read_table(storage.layout.metric_partition(asset, key))


# ------------------------------------------------------------------------------ independent metrics


def outcome_of(status: str, end_reason: str | None) -> str:
    """The documented outcome rules (README, "Call outcomes"), in plain Python."""
    if status == "no_answer" and end_reason == "answering_machine_detected":
        return "voicemail"
    if status in ("failed", "transferred", "no_answer"):
        return status
    if status == "completed":
        return _DOCUMENTED_REASONS.get(end_reason or "", "completed")
    if status in ("dialing", "in_queue", "in_progress"):
        return "unfinished"
    return "other"


def latest_calls(storage: DigaStorage) -> list[dict[str, Any]]:
    """Every stored call once (latest fetched_at), with ``day`` and ``outcome``, read with pyarrow.

    ``day`` is the date of the raw partition the kept row was stored under: the day its run asked
    the API for, in the partitions' time zone.
    """
    latest: dict[str, dict[str, Any]] = {}
    for path in stored_files(storage, storage.layout.raw_glob("calls")):
        day = date.fromisoformat(re.search(r"date=(\d{4}-\d{2}-\d{2})", path).group(1))
        for row in storage.store.read_table(path).to_pylist():
            kept = latest.get(row["id"])
            if kept is None or (row["fetched_at"], day) > (kept["fetched_at"], kept["day"]):
                latest[row["id"]] = {**row, "day": day}
    for row in latest.values():
        row["outcome"] = outcome_of(row["status"], row["end_reason"])
    return list(latest.values())


def continuous_quantile(values: Sequence[float], q: float) -> float | None:
    """Continuous quantile, linear interpolation between closest ranks (DuckDB's quantile_cont)."""
    if not values:
        return None
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _group(calls: Iterable[dict[str, Any]], *columns: str) -> dict[tuple, list[dict[str, Any]]]:
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for row in calls:
        groups[tuple(row[c] for c in columns)].append(row)
    return groups


def day_is_partial(calls: Sequence[dict[str, Any]], day: date) -> bool:
    """Whether any of the day's calls was fetched before the day ended (``partial``, False when
    the call does not say)."""
    return any(c.get("partial", False) for c in calls if c["day"] == day)


def expected_outcome_rates(calls: Sequence[dict[str, Any]], day: date) -> list[dict[str, Any]]:
    """call_outcome_rates for ``day``, one dict per group."""
    rows = []
    for (agent_id, call_type), group in _group((c for c in calls if c["day"] == day), "agent_id", "type").items():
        counts = {o: sum(1 for c in group if c["outcome"] == o) for o in (*TERMINAL, "unfinished", "other")}
        ended = sum(counts[o] for o in TERMINAL)
        rows.append(
            {
                "day": day,
                "agent_id": agent_id,
                "call_type": call_type,
                "total_calls": len(group),
                **{o: counts[o] for o in (*TERMINAL, "unfinished")},
                "other_status": counts["other"],
                "completion_rate": _ratio(counts["completed"], ended),
                "failure_rate": _ratio(counts["failed"], ended),
                "no_answer_rate": _ratio(counts["no_answer"], ended),
                "transfer_rate": _ratio(counts["transferred"], ended),
                "voicemail_rate": _ratio(counts["voicemail"], ended),
                "partial": day_is_partial(calls, day),
            }
        )
    return rows


def expected_duration_stats(calls: Sequence[dict[str, Any]], day: date) -> list[dict[str, Any]]:
    """call_duration_stats for ``day``, one dict per group."""
    timed = (c for c in calls if c["day"] == day and c["duration"] is not None)
    rows = []
    for (agent_id, call_type), group in _group(timed, "agent_id", "type").items():
        durations = [c["duration"] for c in group]
        rows.append(
            {
                "day": day,
                "agent_id": agent_id,
                "call_type": call_type,
                "calls_with_duration": len(durations),
                "avg_duration_s": sum(durations) / len(durations),
                "median_duration_s": continuous_quantile(durations, 0.5),
                "p90_duration_s": continuous_quantile(durations, 0.9),
                "max_duration_s": max(durations),
                "total_duration_s": sum(durations),
                "partial": day_is_partial(calls, day),
            }
        )
    return rows


def expected_version_outcomes(calls: Sequence[dict[str, Any]], day: date) -> list[dict[str, Any]]:
    """agent_version_outcomes for ``day``, one dict per group."""
    rows = []
    groups = _group((c for c in calls if c["day"] == day), "agent_id", "agent_version_id")
    for (agent_id, version), group in groups.items():
        ended = sum(1 for c in group if c["outcome"] in TERMINAL)
        completed = sum(1 for c in group if c["outcome"] == "completed")
        low, high = wilson_interval(completed, ended)
        rows.append(
            {
                "day": day,
                "agent_id": agent_id,
                "agent_version_id": version,
                "total_calls": len(group),
                "ended_calls": ended,
                "completed_calls": completed,
                "completion_rate": _ratio(completed, ended),
                "completion_rate_low": low,
                "completion_rate_high": high,
                "transfer_rate": _ratio(sum(1 for c in group if c["outcome"] == "transferred"), ended),
                "median_duration_s": continuous_quantile(
                    [c["duration"] for c in group if c["duration"] is not None], 0.5
                ),
                "partial": day_is_partial(calls, day),
            }
        )
    return rows


def wilson_interval(successes: int, trials: int) -> tuple[float | None, float | None]:
    """The 95% Wilson score interval, from its textbook formula (NULLs without trials)."""
    if not trials:
        return None, None
    z = NormalDist().inv_cdf(0.975)
    rate = successes / trials
    centre = (rate + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(rate * (1 - rate) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return centre - half, centre + half


def two_proportion_z(successes_a: int, trials_a: int, successes_b: int, trials_b: int) -> float:
    """The pooled two-proportion z statistic of b against a, from its textbook formula."""
    pooled = (successes_a + successes_b) / (trials_a + trials_b)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / trials_a + 1 / trials_b))
    return (successes_b / trials_b - successes_a / trials_a) / spread


def mapped_by(status: str, end_reason: str | None) -> str:
    """Which rule of the documented outcome map gives a call its outcome (see ``outcome_of``)."""
    if (status == "completed" and end_reason in _DOCUMENTED_REASONS) or (
        status == "no_answer" and end_reason == "answering_machine_detected"
    ):
        return "end_reason"
    if status in ("completed", "failed", "transferred", "no_answer", "dialing", "in_queue", "in_progress"):
        return "status"
    return "none"


def expected_end_reasons(calls: Sequence[dict[str, Any]], day: date) -> list[dict[str, Any]]:
    """call_end_reasons for ``day``, one dict per (agent_id, call_type, status, end_reason)."""
    rows = []
    groups = _group((c for c in calls if c["day"] == day), "agent_id", "type", "status", "end_reason")
    for (agent_id, call_type, status, end_reason), group in groups.items():
        rows.append(
            {
                "day": day,
                "agent_id": agent_id,
                "call_type": call_type,
                "status": status,
                "end_reason": end_reason,
                "calls": len(group),
                "outcome": outcome_of(status, end_reason),
                "mapped_by": mapped_by(status, end_reason),
                "partial": day_is_partial(calls, day),
            }
        )
    return rows


def expected_call_kpis(
    calls: Sequence[dict[str, Any]],
    day: date,
    tariff: dict[str, dict[str, Any]] | None = None,
    transfers: frozenset[str] = frozenset(),
) -> list[dict[str, Any]]:
    """call_kpis for ``day``, one dict per (agent_id, call_type); ``tariff``: call_type to its
    ``price_per_minute``, ``price_per_call`` (Decimals), ``currency`` and ``rounding``;
    ``transfers``: the ids of the calls whose transcript shows a successful transfer."""
    rows = []
    for (agent_id, call_type), group in _group((c for c in calls if c["day"] == day), "agent_id", "type").items():
        finished = [c for c in group if c["outcome"] in TERMINAL]
        handed_over = [c for c in finished if c["outcome"] == "transferred" or c["id"] in transfers]
        contained = sum(1 for c in finished if c["outcome"] != "failed" and c not in handed_over)
        transferred = len(handed_over)
        outbound = call_type == "outbound"
        answered = sum(1 for c in finished if c["outcome"] not in ("no_answer", "voicemail", "failed"))
        rows.append(
            {
                "day": day,
                "agent_id": agent_id,
                "call_type": call_type,
                "total_calls": len(group),
                "finished_calls": len(finished),
                "contained_calls": contained,
                "containment_rate": _ratio(contained, len(finished)),
                "transferred_calls": transferred,
                "transfers_from_transcripts": sum(1 for c in handed_over if c["outcome"] != "transferred"),
                "transfer_rate": _ratio(transferred, len(finished)),
                "attempted_calls": len(finished) if outbound else None,
                "answered_calls": answered if outbound else None,
                "answer_rate": _ratio(answered, len(finished)) if outbound else None,
                **_expected_cost(group, (tariff or {}).get(call_type)),
                "partial": day_is_partial(calls, day),
            }
        )
    return rows


def _expected_cost(group: Sequence[dict[str, Any]], price: dict[str, Any] | None) -> dict[str, Any]:
    """billed_calls, billed_minutes, cost and currency of a group under one call type's price."""
    if price is None:
        return {"billed_calls": None, "billed_minutes": None, "cost": None, "currency": None}
    durations = [c["duration"] for c in group if c["duration"] is not None and c["duration"] > 0]
    seconds = [d if price["rounding"] == "second" else math.ceil(d / 60) * 60 for d in durations]
    usage = sum((Decimal(s) * price["price_per_minute"] for s in seconds), Decimal(0)) / 60
    return {
        "billed_calls": len(seconds),
        "billed_minutes": sum(seconds) / 60,
        "cost": usage.quantize(Decimal("0.000001"), ROUND_HALF_UP) + len(seconds) * price["price_per_call"],
        "currency": price["currency"],
    }


def expected_repeat_callers(calls: Sequence[dict[str, Any]], day: date) -> list[dict[str, Any]]:
    """repeat_callers for ``day``, one dict per call_type: each of the day's calls looks back at the
    same contact's previous call of its type, over every stored call."""
    gaps: dict[str, list[tuple[str, timedelta | None]]] = defaultdict(list)
    for (_, call_type), group in _group(
        (c for c in calls if c["contact_identifier"]), "contact_identifier", "type"
    ).items():
        ordered = sorted(group, key=lambda c: (c["created_date"], c["id"]))
        for previous, current in zip([None, *ordered], ordered, strict=False):
            if current["day"] == day:
                gap = current["created_date"] - previous["created_date"] if previous else None
                gaps[call_type].append((current["contact_identifier"], gap))
    rows = []
    for call_type, seen in gaps.items():
        rows.append(
            {
                "day": day,
                "call_type": call_type,
                "callers": len({contact for contact, _ in seen}),
                "repeat_24h": len({contact for contact, gap in seen if gap is not None and gap <= timedelta(hours=24)}),
                "repeat_7d": len({contact for contact, gap in seen if gap is not None and gap <= timedelta(days=7)}),
                "partial": day_is_partial(calls, day),
            }
        )
    return rows


def expected_call_concurrency(
    calls: Sequence[dict[str, Any]], day: date, timezone: str = "UTC"
) -> list[dict[str, Any]]:
    """call_concurrency for ``day``: for each real hour of the day in ``timezone``, the calls that
    started in it and, by brute force, the most calls in progress ([start_time, end_time)) at its
    first instant or at any start inside it, over every stored call."""
    if not any(c["day"] == day for c in calls):
        return []
    zone = ZoneInfo(timezone)
    spans = [
        (c["start_time"], c["end_time"])
        for c in calls
        if c["start_time"] and c["end_time"] and c["end_time"] > c["start_time"]
    ]
    rows: dict[int, dict[str, Any]] = {}
    hour_start = datetime.combine(day, time(), zone).astimezone(UTC)
    day_end = datetime.combine(day + timedelta(days=1), time(), zone).astimezone(UTC)
    while hour_start < day_end:
        hour_end = hour_start + timedelta(hours=1)
        instants = [hour_start, *(start for start, _ in spans if hour_start < start < hour_end)]
        peak = max(sum(1 for start, end in spans if start <= instant < end) for instant in instants)
        started = sum(1 for c in calls if c["start_time"] and hour_start <= c["start_time"] < hour_end)
        hour = hour_start.astimezone(zone).hour
        row = rows.setdefault(
            hour,
            {"day": day, "hour": hour, "calls_started": 0, "peak_concurrent": 0, "partial": day_is_partial(calls, day)},
        )
        row["calls_started"] += started
        row["peak_concurrent"] = max(row["peak_concurrent"], peak)
        hour_start = hour_end
    return sorted(rows.values(), key=lambda row: row["hour"])


def expected_day_headlines(calls: Sequence[dict[str, Any]], day: date) -> dict[str, Any]:
    """The day's completion rate and median duration over all its calls."""
    of_day = [c for c in calls if c["day"] == day]
    ended = sum(1 for c in of_day if c["outcome"] in TERMINAL)
    return {
        "total_calls": len(of_day),
        "completion_rate": _ratio(sum(1 for c in of_day if c["outcome"] == "completed"), ended),
        "median_duration_s": continuous_quantile([c["duration"] for c in of_day if c["duration"] is not None], 0.5),
    }


def assert_rows_equal(actual: pa.Table, expected: list[dict[str, Any]], key: Sequence[str]) -> None:
    """Same groups, same columns, every value equal (floats to 1e-9 relative)."""

    def sort_key(row: dict[str, Any]) -> tuple:
        return tuple((row[k] is None, "" if row[k] is None else row[k]) for k in key)

    actual_rows = sorted(actual.to_pylist(), key=sort_key)
    expected_rows = sorted(expected, key=sort_key)
    assert [tuple(r[k] for k in key) for r in actual_rows] == [tuple(r[k] for k in key) for r in expected_rows]
    if expected_rows:
        assert actual.column_names == list(expected_rows[0])
    for got, want in zip(actual_rows, expected_rows, strict=True):
        for column, value in want.items():
            if isinstance(value, float):
                assert got[column] == pytest.approx(value, rel=1e-9), (column, want)
            else:
                assert got[column] == value, (column, want)


# Each daily metric's plain-Python computation, and the columns that name one of its rows.
_EXPECTED_DAILY_METRICS = {
    CALL_OUTCOME_RATES: (expected_outcome_rates, ("agent_id", "call_type")),
    CALL_DURATION_STATS: (expected_duration_stats, ("agent_id", "call_type")),
    AGENT_VERSION_OUTCOMES: (expected_version_outcomes, ("agent_id", "agent_version_id")),
    CALL_END_REASONS: (expected_end_reasons, ("agent_id", "call_type", "status", "end_reason")),
    CALL_KPIS: (expected_call_kpis, ("agent_id", "call_type")),
    REPEAT_CALLERS: (expected_repeat_callers, ("call_type",)),
    CALL_CONCURRENCY: (expected_call_concurrency, ("hour",)),
}


def assert_metric_day_matches(
    storage: DigaStorage, asset: str, key: str, calls: Sequence[dict[str, Any]], timezone: str = "UTC"
) -> None:
    """The stored day ``key`` of the daily metric ``asset`` equals its computation over ``calls``
    (``timezone``: the partitions', which cuts call_concurrency's hours)."""
    expected, row_key = _EXPECTED_DAILY_METRICS[asset]
    day = date.fromisoformat(key)
    rows = expected(calls, day, timezone) if asset == CALL_CONCURRENCY else expected(calls, day)
    assert_rows_equal(read_metric_day(storage, asset, key), rows, row_key)


def assert_metrics_match(storage: DigaStorage, keys: Sequence[str], timezone: str = "UTC") -> list[dict[str, Any]]:
    """Every given day of every daily metric equals the independent computation over the stored
    calls; returns those calls."""
    calls = latest_calls(storage)
    for key in keys:
        for asset in DAILY_METRICS:
            assert_metric_day_matches(storage, asset, key, calls, timezone)
    return calls
