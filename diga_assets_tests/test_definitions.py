"""The code location loads from the environment, exposes the public asset names, keeps the key
out of resource config, and refuses bad settings with a message naming the variable."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from diga_assets import MALLOC_ARENAS
from diga_assets.assets.common import DigaGraph
from diga_assets.definitions import build_definitions
from diga_assets.names import CALLS_JOB_ASSETS, PHONES_JOB_ASSETS
from diga_assets.schedules import transcripts_request
from diga_assets.settings import Settings, SettingsError
from diga_assets_tests.assets.conftest import settings_for

# The asset names and groups are the public contract: users' backfills, files and queries use them.
PUBLIC_ASSET_GROUPS = {
    "diga_calls": "diga_raw",
    "diga_phones": "diga_raw",
    "diga_agents": "diga_raw",
    "diga_call_messages": "diga_raw",
    "call_day_audit": "diga_raw",
    "curated_calls": "diga_curated",
    "call_outcome_rates": "diga_metrics",
    "call_end_reasons": "diga_metrics",
    "call_duration_stats": "diga_metrics",
    "agent_version_outcomes": "diga_metrics",
    "call_kpis": "diga_metrics",
    "repeat_callers": "diga_metrics",
    "call_concurrency": "diga_metrics",
    "phone_assignment_timeline": "diga_metrics",
    "call_report": "diga_metrics",
    "call_conversation_stats": "diga_metrics",
}


def test_the_code_location_loads_with_the_public_asset_names(tmp_path):
    defs = build_definitions(settings_for(tmp_path))
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    groups = {key.to_user_string(): graph.get(key).group_name for key in graph.get_all_asset_keys()}
    assert groups == PUBLIC_ASSET_GROUPS
    calls = defs.resolve_assets_def("diga_calls")
    assert calls.backfill_policy == dg.BackfillPolicy.single_run()
    assert calls.partitions_def.timezone == "UTC"
    assert {s.name for s in defs.schedules} == {
        "diga_calls_daily",
        "diga_phones_daily",
        "diga_calls_intraday",
        "diga_call_day_audit_daily",
    }
    assert {s.name for s in defs.sensors} == {"diga_transcripts_daily", "diga_refetch_changed_days"}
    # The audit and its re-fetching run by default (one request per audited day), and so does
    # today's refresh (the pages of the calls made since the last one); 0 turns each off.
    automation = [*defs.schedules, *defs.sensors]
    running = {a.name for a in automation if a.default_status.value == "RUNNING"}
    assert running == {"diga_call_day_audit_daily", "diga_refetch_changed_days", "diga_calls_intraday"}
    off = build_definitions(settings_for(tmp_path, audit_days=0, intraday_minutes=0))
    assert not any(a.default_status.value == "RUNNING" for a in [*off.schedules, *off.sensors])
    assert "diga_calls_intraday" not in {s.name for s in off.schedules}
    # Today's partition exists for the calls job's assets only while the refresh is on.
    today_key = calls.partitions_def.get_last_partition_key()
    assert today_key > defs.resolve_assets_def("diga_phones").partitions_def.get_last_partition_key()
    assert off.resolve_assets_def("diga_calls").partitions_def.get_last_partition_key() < today_key


def test_the_daily_jobs_refresh_the_metrics_that_read_what_they_fetched(tmp_path):
    defs = build_definitions(settings_for(tmp_path))

    def assets_of(job: str) -> set[str]:
        return {key.to_user_string() for key in defs.resolve_job_def(job).asset_layer.executable_asset_keys}

    assert assets_of("diga_calls_job") == {
        "diga_calls",
        "curated_calls",
        "call_outcome_rates",
        "call_duration_stats",
        "agent_version_outcomes",
        "call_end_reasons",
        "call_kpis",
        "repeat_callers",
        "call_concurrency",
    }
    assert assets_of("diga_phones_job") == {"diga_phones", "diga_agents", "phone_assignment_timeline"}
    # Transcripts are opt-in: only their own job fetches them.
    assert assets_of("diga_transcripts_job") == {"diga_call_messages", "call_conversation_stats", "call_kpis"}
    checks = {key.name for key in defs.resolve_job_def("diga_calls_job").asset_layer.asset_graph.asset_check_keys}
    assert {
        "call_ids_unique",
        "outcome_counts_add_up",
        "completion_rate_within_trailing_range",
        "end_reasons_mapped",
    } <= checks


def test_a_broken_outcome_map_fails_the_load_naming_the_variable(tmp_path):
    broken = tmp_path / "outcomes.csv"
    broken.write_text("status,outcome\ncompleted,completed\n")
    settings = Settings.from_env({"DIGA_DATA_DIR": str(tmp_path), "DIGA_OUTCOME_MAP": str(broken)})
    with pytest.raises(ValueError, match="DIGA_OUTCOME_MAP"):
        build_definitions(settings)


def test_the_module_loads_as_dagster_would_load_it(tmp_path):
    env = {**os.environ, "DIGA_DATA_DIR": str(tmp_path), "DIGA_TIMEZONE": "Europe/Madrid"}
    env.pop("DIGA_API_KEY", None)  # loading must not need the key; runs do
    code = (
        "from diga_assets.definitions import defs; "
        "print(defs().resolve_assets_def('diga_calls').partitions_def.timezone)"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "Europe/Madrid"


def test_the_key_is_an_env_var_reference_in_resource_config(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGA_API_KEY", "dg_live_should_not_show")
    defs = build_definitions(settings_for(tmp_path))
    resource = defs.resources["diga"]
    assert "dg_live_should_not_show" not in repr(resource)
    assert "dg_live_should_not_show" not in str(resource._get_non_default_public_field_values())


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"DIGA_START_DATE": "2026-02-30"}, "DIGA_START_DATE"),
        ({"DIGA_START_DATE": "1/11/2026"}, "DIGA_START_DATE"),
        ({"DIGA_TIMEZONE": "Europe/Atlantis"}, "DIGA_TIMEZONE"),
        ({"DIGA_API_BASE_URL": "http://api.diga.io"}, "DIGA_API_BASE_URL"),
        ({"DIGA_API_BASE_URL": "ftp://api.diga.io"}, "DIGA_API_BASE_URL"),
        ({"DIGA_TRAILING_DAYS": "-1"}, "DIGA_TRAILING_DAYS"),
        ({"DIGA_MAX_CONCURRENCY": "0"}, "DIGA_MAX_CONCURRENCY"),
        ({"DIGA_MAX_CONCURRENCY": "four"}, "DIGA_MAX_CONCURRENCY"),
    ],
)
def test_a_bad_setting_is_refused_naming_the_variable(env, variable):
    with pytest.raises(SettingsError, match=variable):
        Settings.from_env(env)


def test_a_data_dir_that_is_a_file_is_refused(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(SettingsError, match="DIGA_DATA_DIR"):
        Settings.from_env({"DIGA_DATA_DIR": str(blocker)})


def test_defaults(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env({"DIGA_DATA_DIR": "rel/data"})
    assert settings.data_dir == tmp_path / "rel" / "data"
    assert settings.start_date == date(2026, 1, 1)
    assert settings.timezone == "UTC"
    assert settings.api_base_url == "https://api.diga.io"
    assert settings.max_concurrency == 4


def test_max_concurrency_reaches_the_api_resource(tmp_path):
    settings = Settings.from_env({"DIGA_DATA_DIR": str(tmp_path), "DIGA_MAX_CONCURRENCY": "2"})
    assert build_definitions(settings).resources["diga"].max_concurrency == 2


def test_runs_execute_in_one_process(tmp_path):
    # A process per step costs seconds of start-up each (see BENCHMARKS.md); our steps stream.
    defs = build_definitions(settings_for(tmp_path))
    assert defs.resolve_job_def("diga_calls_job").executor_def.name == "in_process"


def test_the_calls_schedule_asks_for_yesterday_and_the_trailing_days(tmp_path):
    defs = build_definitions(settings_for(tmp_path, timezone="Europe/Madrid"))
    schedule = defs.resolve_schedule_def("diga_calls_daily")
    assert schedule.execution_timezone == "Europe/Madrid"
    with dg.build_schedule_context(scheduled_execution_time=datetime(2026, 11, 20, 0, 15, tzinfo=UTC)) as context:
        [request] = schedule.evaluate_tick(context).run_requests
    assert request.partition_key_range == dg.PartitionKeyRange("2026-11-17", "2026-11-19")


def test_the_calls_schedule_never_asks_before_the_first_partition(tmp_path):
    defs = build_definitions(settings_for(tmp_path))  # first partition 2026-10-01
    schedule = defs.resolve_schedule_def("diga_calls_daily")
    with dg.build_schedule_context(scheduled_execution_time=datetime(2026, 10, 2, 0, 15, tzinfo=UTC)) as context:
        [request] = schedule.evaluate_tick(context).run_requests
    assert request.partition_key_range == dg.PartitionKeyRange("2026-10-01", "2026-10-01")
    with dg.build_schedule_context(scheduled_execution_time=datetime(2026, 10, 1, 0, 15, tzinfo=UTC)) as context:
        result = schedule.evaluate_tick(context)
    assert result.run_requests == [] and "has not ended yet" in result.skip_message


@pytest.mark.parametrize(("value", "status"), [(None, "STOPPED"), ("0", "STOPPED"), ("1", "RUNNING")])
def test_the_transcripts_sensor_runs_only_when_diga_transcripts_says_so(tmp_path, monkeypatch, value, status):
    monkeypatch.setenv("DIGA_DATA_DIR", str(tmp_path))
    if value is None:
        monkeypatch.delenv("DIGA_TRANSCRIPTS", raising=False)
    else:
        monkeypatch.setenv("DIGA_TRANSCRIPTS", value)
    defs = build_definitions(Settings.from_env())
    assert defs.resolve_sensor_def("diga_transcripts_daily").default_status.value == status
    assert defs.resolve_schedule_def("diga_calls_daily").default_status.value == "STOPPED"


def test_diga_transcripts_refuses_a_value_that_is_not_a_switch(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DIGA_TRANSCRIPTS", "yes")
    with pytest.raises(SettingsError, match="DIGA_TRANSCRIPTS='yes' must be 1, 0, true or false"):
        build_definitions(Settings.from_env())


def test_the_transcripts_follow_the_calls_run_once_a_day(tmp_path):
    graph = DigaGraph(settings_for(tmp_path, timezone="Europe/Madrid"))
    madrid = ZoneInfo("Europe/Madrid")
    morning = datetime(2026, 11, 20, 0, 45, tzinfo=madrid)
    with dg.instance_for_test() as instance:
        waiting = transcripts_request(graph, instance, morning)
        assert isinstance(waiting, dg.SkipReason) and "waiting for the calls of 2026-11-19" in waiting.skip_message

        curated = dg.AssetMaterialization(asset_key="curated_calls", partition="2026-11-19")
        instance.report_runless_asset_event(curated)
        request = transcripts_request(graph, instance, morning + timedelta(hours=1))

        # Yesterday curated before today began (the clock here is weeks after this test's
        # events) is not today's calls run: the calls still in progress then are not refreshed yet.
        stale = dg.AssetMaterialization(asset_key="curated_calls", partition="2027-01-04")
        instance.report_runless_asset_event(stale)
        later = transcripts_request(graph, instance, datetime(2027, 1, 5, 0, 45, tzinfo=madrid))
        assert isinstance(later, dg.SkipReason) and "waiting for the calls of 2027-01-04" in later.skip_message

    assert isinstance(request, dg.RunRequest)
    assert request.partition_key_range == dg.PartitionKeyRange("2026-11-17", "2026-11-19")
    assert request.run_key == "diga_transcripts_daily:2026-11-19"


def test_the_transcripts_sensor_wakes_on_curated_calls_and_asks_nothing_for_another_day(tmp_path):
    defs = build_definitions(settings_for(tmp_path))
    sensor = defs.resolve_sensor_def("diga_transcripts_daily")
    assert sensor.job_name == "diga_transcripts_job"
    assert sensor.asset_key == dg.AssetKey("curated_calls")
    with dg.instance_for_test() as instance:
        # A backfill curating an old day, now: yesterday is still not stored today.
        instance.report_runless_asset_event(dg.AssetMaterialization(asset_key="curated_calls", partition="2026-10-02"))
        with dg.build_sensor_context(instance=instance) as context:
            tick = sensor.evaluate_tick(context)
    assert tick.run_requests == [] and "waiting for the calls of" in (tick.skip_message or "")


def test_arrow_allocates_with_the_system_allocator_unless_the_user_chose_one():
    """mimalloc's per-thread heaps cost the fetch 50-80 MB of peak memory (diga_assets/__init__)."""
    probe = "import diga_assets.definitions, pyarrow; print(pyarrow.default_memory_pool().backend_name)"
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    ours = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert ours.stdout.strip() == "system"
    chosen = subprocess.run(
        [sys.executable, "-c", probe],
        env={**env, "ARROW_DEFAULT_MEMORY_POOL": "mimalloc"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert chosen.stdout.strip() == "mimalloc"


# Eight threads allocate at once, each a block malloc serves from an arena (beyond pymalloc's small
# objects, under the mmap threshold); then glibc's malloc_info lists the arenas ("<heap nr=...>").
ARENAS_PROBE = """
import ctypes, sys, threading
import diga_assets.definitions
barrier = threading.Barrier(8)
held = []
def allocate():
    block = bytes(100_000)
    barrier.wait()
    held.append(block)
threads = [threading.Thread(target=allocate) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
libc = ctypes.CDLL(None)
libc.fopen.restype = ctypes.c_void_p
stream = ctypes.c_void_p(libc.fopen(sys.argv[1].encode(), b"w"))
libc.malloc_info(0, stream)
libc.fclose(stream)
print(open(sys.argv[1]).read().count("<heap nr="))
"""


def test_malloc_keeps_two_arenas_for_the_fetch_threads_unless_the_user_chose_a_number(tmp_path):
    """A thread's arena keeps what the thread freed: fewer arenas, a smaller backfill (diga_assets/__init__)."""
    try:
        glibc = os.confstr("CS_GNU_LIBC_VERSION")
    except (ValueError, OSError):
        glibc = None
    if not glibc:
        pytest.skip("the arena limit is glibc's")
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    report = str(tmp_path / "malloc_info.xml")

    def arenas(**chosen: str) -> int:
        probe = [sys.executable, "-c", ARENAS_PROBE, report]
        return int(subprocess.run(probe, env={**env, **chosen}, capture_output=True, text=True, check=True).stdout)

    assert arenas() <= MALLOC_ARENAS
    assert arenas(MALLOC_ARENA_MAX="8") > MALLOC_ARENAS


def test_the_project_instance_opens_the_ui_on_the_asset_graph(tmp_path):
    # Without `nux: enabled: false` a newcomer's first page of `diga-assets ui` is Dagster's
    # "Join the Dagster community" modal instead of the asset graph.
    project_home = Path(__file__).resolve().parent.parent / ".dagster_home"
    shutil.copy(project_home / "dagster.yaml", tmp_path / "dagster.yaml")

    instance = dg.DagsterInstance.from_config(str(tmp_path))

    assert instance.nux_enabled is False
    assert instance.telemetry_enabled is False


def test_a_backfill_is_one_run_unless_days_per_run_is_set(tmp_path):
    one_run = build_definitions(Settings.from_env({"DIGA_DATA_DIR": str(tmp_path)}))
    split = build_definitions(Settings.from_env({"DIGA_DATA_DIR": str(tmp_path), "DIGA_BACKFILL_DAYS_PER_RUN": "3"}))

    for asset in ("diga_calls", "diga_phones", "diga_agents", "call_outcome_rates"):
        assert one_run.resolve_assets_def(asset).backfill_policy == dg.BackfillPolicy.single_run()
        assert split.resolve_assets_def(asset).backfill_policy == dg.BackfillPolicy.multi_run(3)


@pytest.mark.parametrize("raw", ["0", "-2", "three", "1.5"])
def test_a_bad_days_per_run_fails_the_load_naming_the_variable(tmp_path, raw):
    with pytest.raises(SettingsError, match=f"DIGA_BACKFILL_DAYS_PER_RUN='{raw}' must be a whole number from 1"):
        Settings.from_env({"DIGA_DATA_DIR": str(tmp_path), "DIGA_BACKFILL_DAYS_PER_RUN": raw})


@pytest.mark.parametrize("raw", ["0", "-2", "ten", "1.5"])
def test_a_bad_concurrency_limit_fails_the_load_naming_the_variable(tmp_path, raw):
    with pytest.raises(SettingsError, match=f"DIGA_CONCURRENCY_LIMIT='{raw}' must be a whole number from 1"):
        Settings.from_env({"DIGA_DATA_DIR": str(tmp_path), "DIGA_CONCURRENCY_LIMIT": raw})


def test_the_tariff_and_the_concurrency_limit_come_from_their_variables(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a relative DIGA_TARIFF is read from the working directory
    settings = Settings.from_env(
        {"DIGA_DATA_DIR": str(tmp_path), "DIGA_TARIFF": "prices/tariff.csv", "DIGA_CONCURRENCY_LIMIT": "25"}
    )
    assert settings.tariff == tmp_path.resolve() / "prices" / "tariff.csv" and settings.concurrency_limit == 25
    unset = Settings.from_env({"DIGA_DATA_DIR": str(tmp_path)})
    assert unset.tariff is None and unset.concurrency_limit is None
    checks = {key.name for key in build_definitions(settings).resolve_asset_graph().asset_check_keys}
    assert "peak_below_concurrency_limit" in checks
    assert "peak_below_concurrency_limit" not in {
        key.name for key in build_definitions(unset).resolve_asset_graph().asset_check_keys
    }


def freshness_of(defs: dg.Definitions) -> dict[str, Any]:
    graph = defs.resolve_asset_graph()
    return {key.to_user_string(): graph.get(key).freshness_policy for key in graph.get_all_asset_keys()}


def test_each_asset_is_expected_fresh_after_what_runs_it_in_the_partition_time_zone(tmp_path):
    policies = freshness_of(build_definitions(settings_for(tmp_path, "Europe/Madrid")))

    # Nothing runs the report by itself, nor the transcripts while they are off.
    assert {asset for asset, policy in policies.items() if policy is None} == {
        "call_report",
        "diga_call_messages",
        "call_conversation_stats",
    }
    for asset in CALLS_JOB_ASSETS:
        # Refreshed every 15 minutes: stale after one missed refresh, failed after two.
        policy = policies[asset]
        windows = (policy.warn_window.to_timedelta(), policy.fail_window.to_timedelta())
        assert windows == (timedelta(minutes=20), timedelta(minutes=35)), asset
    daily = freshness_of(build_definitions(settings_for(tmp_path, "Europe/Madrid", intraday_minutes=0)))
    for asset in (*CALLS_JOB_ASSETS, *PHONES_JOB_ASSETS):
        policy = (daily if asset in CALLS_JOB_ASSETS else policies)[asset]
        # Materialized between the daily schedule (00:15) and 02:00, Madrid time.
        assert (policy.deadline_cron, policy.timezone) == ("0 2 * * *", "Europe/Madrid"), asset
        assert policy.lower_bound_delta == timedelta(hours=1, minutes=45)
    assert policies["call_day_audit"].deadline_cron == "0 5 * * *"

    with_transcripts = freshness_of(build_definitions(settings_for(tmp_path, transcripts=True, audit_days=0)))
    assert with_transcripts["diga_call_messages"].deadline_cron == "0 4 * * *"
    assert with_transcripts["call_conversation_stats"].deadline_cron == "0 4 * * *"
    assert with_transcripts["call_day_audit"] is None
