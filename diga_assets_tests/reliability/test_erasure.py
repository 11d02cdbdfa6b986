"""Erasure on request: a caller present on many days, with transcripts, is removed from every
stored file, view, metric, the report and the instance, stays out of every later fetch, and the
suppression list that keeps them out holds no value in clear."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest

from diga_assets.assets.raw.audit import audit_call_days
from diga_assets.assets.raw.calls import fetch_calls_day
from diga_assets.definitions import build_definitions
from diga_assets.erasure import ErasureError, erase
from diga_assets.names import CALL_REPORT, CALLS_JOB_ASSETS, TRANSCRIPTS_JOB_ASSETS
from diga_assets.privacy import contact_hash
from diga_assets.settings import Settings
from diga_assets.storage import DataLayout, DigaStorage, open_store
from diga_assets.storage.suppression import add_to_suppression
from diga_assets_tests.assets.conftest import api_resource, range_tags, window_of
from diga_assets_tests.conftest import SIM_KEY
from diga_assets_tests.reliability.leaks import event_log_text, files_holding, present

DAYS = ["2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19"]
HASH_KEY = "erasure-test-key-" + "0123456789abcdef" * 2
DIGA_ASSETS = Path(sys.executable).with_name("diga-assets")


def configure(monkeypatch: pytest.MonkeyPatch, sim: Any, data: Path, pseudonymize: bool) -> dict[str, str]:
    """The DIGA_* variables of a user's shell, set in this process; returns them."""
    variables = {
        "DIGA_DATA_DIR": str(data),
        "DIGA_API_BASE_URL": sim.base_url,
        "DIGA_API_KEY": SIM_KEY,
        "DIGA_START_DATE": "2026-10-01",
        "DIGA_TIMEZONE": "UTC",
        "DIGA_PSEUDONYMIZE_CONTACTS": "1" if pseudonymize else "0",
        "DIGA_CONTACT_HASH_KEY": HASH_KEY,
    }
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return variables


def materialize(defs: dg.Definitions, instance: dg.DagsterInstance, assets: tuple[str, ...], **kwargs: Any) -> Any:
    return dg.materialize(
        [*defs.assets, *defs.asset_checks],
        selection=dg.AssetSelection.assets(*assets),
        resources=defs.resources,
        instance=instance,
        **kwargs,
    )


def busiest_caller(sim: Any) -> tuple[str, str, int]:
    """(contact identifier, contact id, calls over DAYS) of the caller with the most calls."""
    calls = [c for day in DAYS for c in sim.world.calls_created_between(window_of(day).start, window_of(day).end)]
    counts = Counter((c["contact"]["identifier"], c["contact"]["id"]) for c in calls)
    (identifier, contact_id), n = counts.most_common(1)[0]
    assert len({c["created_date"][:10] for c in calls if c["contact"]["id"] == contact_id}) > 1
    return identifier, contact_id, n


@pytest.mark.parametrize("pseudonymize", [False, True], ids=["numbers", "pseudonymized"])
def test_an_erased_caller_is_gone_from_every_file_and_stays_out_of_later_fetches(
    start_simulator, tmp_path, monkeypatch, pseudonymize
):
    sim = start_simulator(days=6, calls_per_day=30, status_model="current")
    data, home = tmp_path / "data", tmp_path / "home"
    home.mkdir()
    variables = configure(monkeypatch, sim, data, pseudonymize)
    defs = build_definitions(Settings.from_env())
    instance = dg.DagsterInstance.from_config(str(home))
    every_day = range_tags(DAYS[0], DAYS[-1])
    assert materialize(defs, instance, (*CALLS_JOB_ASSETS, *TRANSCRIPTS_JOB_ASSETS), tags=every_day).success
    assert materialize(defs, instance, (CALL_REPORT,)).success
    identifier, contact_id, their_calls = busiest_caller(sim)
    needles = [identifier, contact_id]
    assert files_holding([data], needles if not pseudonymize else [contact_id])  # stored before

    if pseudonymize:  # by contact id, from a file, through the command as a user types it
        listed = tmp_path / "ids.txt"
        listed.write_text(f"{contact_id}\n")
        done = subprocess.run(
            [str(DIGA_ASSETS), "erase", "--contact-id-file", str(listed), f"--dagster-home={home}"],
            env={**os.environ, **variables},
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"{their_calls} call(s)" in done.stdout and not present(needles, done.stdout + done.stderr)
    else:
        result = erase(Settings.from_env(), identifiers=[identifier], instance=instance, echo=lambda _: None)
        assert result.calls_removed == their_calls and len(result.removed) > 1
        assert result.messages_removed > 0

    # No file (decoded Parquet, DuckDB, SQLite rows and blobs) and no run record holds them;
    # the suppression list holds their HMAC only.
    hashed = contact_hash(contact_id if pseudonymize else identifier, HASH_KEY)
    assert files_holding([data, home], needles) == {}
    holding_hash = files_holding([data], [hashed]).get(hashed, [])
    assert [p.relative_to(data).parts[0] for p in holding_hash] == ["privacy"]
    assert not present(needles, event_log_text(instance))
    with duckdb.connect(str(data / "diga.duckdb"), read_only=True) as con:
        calls = con.execute("SELECT count(*) FROM calls").fetchone()[0]
        counted = con.execute("SELECT sum(total_calls) FROM call_outcome_rates").fetchone()[0]
    assert counted == calls  # the metrics were computed again without them
    # The API still has their calls; the audit knows the days leave them out on purpose.
    with api_resource(sim).make_client() as client:
        audits, _ = audit_call_days(client, open_store(str(data)), [window_of(d) for d in DAYS], max_concurrency=2)
    assert [audit.action for audit in audits] == ["none"] * len(DAYS), [audit.reason for audit in audits]

    # A later fetch of those days does not bring them back, and says how many it dropped.
    again = materialize(defs, instance, ("diga_calls",), tags=every_day)
    suppressed = sum(
        e.event_specific_data.materialization.metadata["suppressed_calls"].value
        for e in again.get_asset_materialization_events()
    )
    assert suppressed == their_calls
    assert files_holding([data, home], needles) == {}


def test_erasure_needs_the_hash_key_and_a_caller(start_simulator, tmp_path, monkeypatch):
    sim = start_simulator(days=2, calls_per_day=5)
    configure(monkeypatch, sim, tmp_path / "data", pseudonymize=False)
    instance = dg.DagsterInstance.ephemeral()
    with pytest.raises(ErasureError, match="name at least one caller"):
        erase(Settings.from_env(), identifiers=[" "], instance=instance)
    monkeypatch.delenv("DIGA_CONTACT_HASH_KEY")
    with pytest.raises(ErasureError, match="DIGA_CONTACT_HASH_KEY is not set"):
        erase(Settings.from_env(), identifiers=["+34600000000"], instance=instance)


# An erasure whose process is SIGKILLed right after it rewrote its second day.
KILLED_ERASURE = """
import os, signal, sys
from diga_assets import erasure
from diga_assets.cli import main
real = erasure.erase_day
done = []
def erase_then_die(*args, **kwargs):
    removed = real(*args, **kwargs)
    if removed[0]:
        done.append(args[1])
        if len(done) == 2:
            os.kill(os.getpid(), signal.SIGKILL)
    return removed
erasure.erase_day = erase_then_die
main(["erase", "--contact-identifier", sys.argv[1], "--dagster-home=" + sys.argv[2]])
"""


def test_an_erasure_killed_midway_leaves_each_day_whole_and_running_it_again_finishes(
    start_simulator, tmp_path, monkeypatch
):
    sim = start_simulator(days=6, calls_per_day=30, status_model="current")
    data, home = tmp_path / "data", tmp_path / "home"
    home.mkdir()
    variables = configure(monkeypatch, sim, data, pseudonymize=False)
    defs = build_definitions(Settings.from_env())
    instance = dg.DagsterInstance.from_config(str(home))
    assert materialize(defs, instance, CALLS_JOB_ASSETS, tags=range_tags(DAYS[0], DAYS[-1])).success
    identifier, _, _ = busiest_caller(sim)
    store = open_store(str(data))
    before = {day: stored_rows(store, day) for day in DAYS}

    killed = subprocess.run(
        [sys.executable, "-c", KILLED_ERASURE, identifier, str(home)],
        env={**os.environ, **variables},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )

    assert killed.returncode == -9, killed.stdout + killed.stderr
    states = {day: day_state(store, day, before[day], identifier) for day in DAYS}
    assert list(states.values()).count("after") == 2 and "half" not in states.values(), states
    # The list was written first: running the command again finishes what was left.
    erase(Settings.from_env(), identifiers=[identifier], instance=instance, echo=lambda _: None)
    finished = {day: day_state(store, day, before[day], identifier) for day in DAYS}
    assert finished == {day: "untouched" if state == "untouched" else "after" for day, state in states.items()}


def stored_rows(store: Any, day: str) -> list[dict[str, Any]]:
    """A day's raw calls, each row as stored."""
    return store.read_table(DataLayout(store.root).raw_partition("calls", day)).to_pylist()


def day_state(store: Any, day: str, original: list[dict[str, Any]], identifier: str) -> str:
    """'before' (the day as stored before), 'after' (exactly without the caller), else 'half'."""
    now = stored_rows(store, day)
    if now == original:
        return "before" if any(row["contact_identifier"] == identifier for row in original) else "untouched"
    if now == [row for row in original if row["contact_identifier"] != identifier]:
        return "after"
    return "half"


def test_a_fetch_that_loaded_the_list_before_an_erasure_still_ends_without_the_caller(
    start_simulator, tmp_path, monkeypatch
):
    """The race a bucket cannot lock against: a run loads the suppression list, an erasure lists
    a caller and rewrites the stored days, then the run writes its day from the API (which still
    has the caller). The run checks the list again after writing, so neither change is lost: the
    day holds the API's calls less the caller's."""
    sim = start_simulator(days=6, calls_per_day=30, status_model="current")
    data = tmp_path / "data"
    configure(monkeypatch, sim, data, pseudonymize=False)
    storage = DigaStorage(data_dir=str(data))
    day = window_of(DAYS[1])
    with api_resource(sim).make_client() as client:
        fetch_calls_day(client, storage, day, page_size=1000)
        identifier, _, _ = busiest_caller(sim)
        loaded_before = storage.suppression()  # what a run loads when it starts
        erase(Settings.from_env(), identifiers=[identifier], instance=dg.DagsterInstance.ephemeral(), echo=print)
        sim.world.delete_calls([c["id"] for c in sim.world.calls_created_between(day.start, day.end)][-1:])

        result = fetch_calls_day(client, storage, day, page_size=1000, suppression=loaded_before)

    served = sim.world.calls_created_between(day.start, day.end)
    expected = [c["id"] for c in served if c["contact"]["identifier"] != identifier]
    stored = storage.store.read_table(storage.layout.raw_partition("calls", DAYS[1]))
    assert stored["id"].to_pylist() == expected  # the erasure's change and the API's change both kept
    assert result.suppressed == len(served) - len(expected) > 0


def test_an_erasure_in_a_bucket_rewrites_its_days_there_and_lists_hashes_only(
    start_simulator, s3_server, tmp_path, monkeypatch
):
    sim = start_simulator(days=6, calls_per_day=30, status_model="current")
    root = s3_server.new_root("erasure")
    configure(monkeypatch, sim, root, pseudonymize=False)
    storage = DigaStorage(data_dir=root)
    with api_resource(sim).make_client() as client:
        for day in DAYS[:2]:
            fetch_calls_day(client, storage, window_of(day), page_size=1000)
    identifier, contact_id, _ = busiest_caller(sim)

    result = erase(Settings.from_env(), identifiers=[identifier], instance=dg.DagsterInstance.ephemeral())

    for day in DAYS[:2]:
        window = window_of(day)
        expected = [c["id"] for c in sim.world.calls_created_between(window.start, window.end)]
        kept = [
            c["id"]
            for c in sim.world.calls_created_between(window.start, window.end)
            if c["contact"]["identifier"] != identifier
        ]
        stored = storage.store.read_table(storage.layout.raw_partition("calls", day))["id"].to_pylist()
        assert stored == kept and len(expected) - len(kept) == len(result.removed.get(day, []))
    listed = storage.store.read_table(storage.layout.suppression_file()).to_pylist()
    assert [row["hmac"] for row in listed] == [contact_hash(identifier, HASH_KEY)]
    assert not present([identifier, contact_id], repr(listed))


def test_a_fetch_with_callers_listed_and_no_hash_key_fails_naming_the_variable(start_simulator, tmp_path, monkeypatch):
    sim = start_simulator(days=3, calls_per_day=10, status_model="current")
    configure(monkeypatch, sim, tmp_path / "data", pseudonymize=False)
    add_to_suppression(open_store(str(tmp_path / "data")), HASH_KEY, identifiers=["+34600000001"])
    monkeypatch.delenv("DIGA_CONTACT_HASH_KEY")
    defs = build_definitions(Settings.from_env())

    result = materialize(
        defs, dg.DagsterInstance.ephemeral(), ("diga_calls",), partition_key=DAYS[1], raise_on_error=False
    )

    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure).step_failure_data.error.message
    assert "DIGA_CONTACT_HASH_KEY is not set" in failure and "suppression list" in failure, failure
    assert not (tmp_path / "data" / "raw" / "calls").exists()  # nothing fetched was written
