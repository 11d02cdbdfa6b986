"""Personal data stays out of what Dagster records and shows, and can be kept out of the files too.

A call carries the caller's number (``contact_identifier``) and a recording link whose query holds
its own access signature (``recording_url``). They belong in the Parquet files (unless
pseudonymized, below), never in what a run records: log lines, materialization and check
metadata, table previews, error messages. Runs here go against the simulator over loopback
into an instance on disk, and everything the instance holds is searched for every number and
link the simulator served (``leaks.py`` decodes SQLite blobs and Parquet pages, so the search
sees what a byte search would not). The API key the demo uses is searched for in
``test_demo.py``, which reuses the demo's run. Transcripts (opt-in) hold what was said: stored in
``raw/messages`` only, searched for the same way.

With ``DIGA_PSEUDONYMIZE_CONTACTS=1`` the stored ``contact_identifier`` is an HMAC-SHA256 under
``DIGA_CONTACT_HASH_KEY``: the same for a caller on every day and in every run, different under
another key, never the number.
"""

import hashlib
import hmac
import sqlite3
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from diga_assets.api.records import CALLS, RecordError
from diga_assets.api.spec import CALLS_PATH
from diga_assets.definitions import build_definitions
from diga_assets.names import CALLS_JOB_ASSETS, TRANSCRIPTS_JOB_ASSETS
from diga_assets.privacy import PSEUDONYMIZED_DOC
from diga_assets.settings import Settings
from diga_assets.simulator import DigaSimulator, World
from diga_assets.storage import DigaStorage
from diga_assets_tests.assets.conftest import range_tags
from diga_assets_tests.conftest import SIM_KEY, SIM_NOW, StartSimulator
from diga_assets_tests.object_store import SECRET_ACCESS_KEY, stored_files
from diga_assets_tests.reliability.leaks import decoded_bytes, event_log_text, files_holding, present

DAYS = ("2026-11-17", "2026-11-18", "2026-11-19")
HASH_KEY = "a3f1c0de5e7b9d2468ace0bd13579bdf02468ace13579bdf"  # test secrets, 48 characters
OTHER_HASH_KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a6978"


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dg.DagsterInstance]:
    """An instance on disk (SQLite run and event storage, compute logs), shared by this module's
    runs: creating one costs seconds of fsyncs, and every search here covers all of its runs."""
    home = tmp_path_factory.mktemp("home")
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        yield instance


def home_of(instance: dg.DagsterInstance) -> Path:
    """The instance's directory: its SQLite files and compute logs."""
    return Path(instance.root_directory)


def served_calls(sim: DigaSimulator) -> list[dict[str, Any]]:
    """Every call record the simulator answered with."""
    return [
        record
        for path, status, body in sim.served_bodies
        if path == CALLS_PATH and status == 200
        for record in body["data"]
    ]


def personal_values(sim: DigaSimulator) -> set[str]:
    """Every caller identifier and recording link the simulator served."""
    calls = served_calls(sim)
    identifiers = {call["contact"]["identifier"] for call in calls}
    recordings = {call["recording_url"] for call in calls if call["recording_url"]}
    assert len(identifiers) > 10 and len(recordings) > 10, "the run saw enough personal data to search for"
    return identifiers | recordings


def stored_calls(data_dir: Path) -> dict[str, tuple[str, str]]:
    """Call id to (day, contact_identifier) over every stored calls partition."""
    stored = {}
    for path in sorted(data_dir.glob("raw/calls/date=*/part-0.parquet")):
        day = path.parent.name.removeprefix("date=")
        for row in pq.read_table(path, columns=["id", "contact_identifier"]).to_pylist():
            stored[row["id"]] = (day, row["contact_identifier"])
    return stored


def run_calls_job(
    monkeypatch: pytest.MonkeyPatch,
    sim: DigaSimulator,
    data_dir: Path | str,
    instance: dg.DagsterInstance,
    *,
    metrics: bool = False,
    raise_on_error: bool = True,
    **env: str,
) -> dg.ExecuteInProcessResult:
    """Load the code location from DIGA_* variables as a user would, then materialize diga_calls
    (with the daily metrics when ``metrics``) and their checks over DAYS as one run."""
    variables = {
        "DIGA_DATA_DIR": str(data_dir),
        "DIGA_API_BASE_URL": sim.base_url,
        "DIGA_API_KEY": SIM_KEY,
        "DIGA_START_DATE": "2026-10-01",
        "DIGA_TIMEZONE": "UTC",
        "DIGA_PSEUDONYMIZE_CONTACTS": "0",
        **env,
    }
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    if "DIGA_CONTACT_HASH_KEY" not in env:
        monkeypatch.delenv("DIGA_CONTACT_HASH_KEY", raising=False)
    defs = build_definitions(Settings.from_env())
    assets = CALLS_JOB_ASSETS if metrics else ("diga_calls",)
    return dg.materialize(
        [*defs.assets, *defs.asset_checks],
        selection=dg.AssetSelection.assets(*assets) | dg.AssetSelection.checks_for_assets(*assets),
        resources=defs.resources,
        instance=instance,
        tags=range_tags(DAYS[0], DAYS[-1]),
        raise_on_error=raise_on_error,
    )


# ------------------------------------------------------------------ the search itself


def test_the_search_reads_inside_compressed_sqlite_blobs_and_parquet_pages(tmp_path):
    needle = "+34699000111"
    with sqlite3.connect(tmp_path / "runs.db") as con:
        con.execute("CREATE TABLE snapshots (body BLOB)")
        con.execute("INSERT INTO snapshots VALUES (?)", [zlib.compress(f'{{"identifier": "{needle}"}}'.encode())])
    con.close()
    # Sorted numbers under prefix encoding: a page stores "+34699000110" and then just "1".
    table = pa.table({"contact_identifier": [f"+34699{n:06d}" for n in range(1000)]})
    pq.write_table(
        table,
        tmp_path / "part-0.parquet",
        compression="zstd",
        use_dictionary=False,
        column_encoding={"contact_identifier": "DELTA_BYTE_ARRAY"},
    )
    for path in (tmp_path / "runs.db", tmp_path / "part-0.parquet"):
        assert needle.encode() not in path.read_bytes(), "compressed: a byte search alone misses it"
        assert needle.encode() in decoded_bytes(path)
    assert files_holding([tmp_path], [needle, "+34699999999"]) == {
        needle: [tmp_path / "part-0.parquet", tmp_path / "runs.db"]
    }


# ------------------------------------------------------------------ error messages


CALL_ID = "00000000-0000-4000-8000-00000000c0de"
RECORDING = "https://recordings.diga.example/rec/planted.mp3?exp=1794000000&sig=5ec2e75ec2e7"
NUMBER = "+34611222333"


def a_call(**overrides: Any) -> dict[str, Any]:
    call = dict(World(now=SIM_NOW, days=1, calls_per_day=5).calls_visible()[0])
    call.update(id=CALL_ID, **overrides)
    return call


@pytest.mark.parametrize(
    ("call", "field", "value"),
    [
        (a_call(recording_url={"href": RECORDING}), "recording_url", RECORDING),
        (a_call(recording_url=[RECORDING]), "recording_url", RECORDING),
        (a_call(contact={**a_call()["contact"], "identifier": 34611222333}), "contact_identifier", "34611222333"),
        (a_call(contact={**a_call()["contact"], "identifier": [NUMBER]}), "contact_identifier", NUMBER),
        # Dynamic variables carry customer names and ids in practice.
        (a_call(dynamic_variables=["Lucía Pérez", NUMBER]), "dynamic_variables", "Lucía Pérez"),
    ],
)
def test_a_record_error_on_a_sensitive_field_names_record_and_field_but_not_the_value(call, field, value):
    with pytest.raises(RecordError) as info:
        CALLS.to_record_batch([call], SIM_NOW)
    message = str(info.value)
    assert CALL_ID in message and repr(field) in message and "value withheld" in message
    assert value not in message


def test_a_record_error_on_another_field_still_shows_the_value():
    with pytest.raises(RecordError, match=r"'agent_id' is not a string \(value: 7\)"):
        CALLS.to_record_batch([a_call(agent_id=7)], SIM_NOW)


def test_a_record_that_is_not_an_object_is_not_shown():
    with pytest.raises(RecordError) as info:
        CALLS.to_record_batch([[NUMBER, RECORDING]], SIM_NOW)
    assert "'<record>' is not a JSON object" in str(info.value)
    assert NUMBER not in str(info.value) and RECORDING not in str(info.value)


# ------------------------------------------------------------------ runs against the simulator


def test_runs_record_no_caller_number_or_recording_link(start_simulator, instance, tmp_path, monkeypatch, capfd):
    sim = start_simulator(calls_per_day=60)
    data_dir = tmp_path / "data"

    result = run_calls_job(monkeypatch, sim, data_dir, instance, metrics=True)

    assert result.success
    needles = personal_values(sim)
    events = event_log_text(instance)
    out, err = capfd.readouterr()
    # The searched texts hold what the UI shows: log lines, metadata values, table previews.
    assert "diga_calls: 3/3 days done" in events and "diga_calls: 3/3 days done" in err
    assert str(data_dir / f"raw/calls/date={DAYS[0]}/part-0.parquet") in events
    assert '"TableRecord"' in events and "agent_version_id" in events, "a metric's table preview"
    assert "call_ids_unique" in events and "rates_within_unit_interval" in events, "check evaluations"
    assert present(needles, events) == []
    assert present(needles, out + err) == []
    assert files_holding([home_of(instance)], needles) == {}
    # The same search finds them where they belong: in the stored calls, raw and curated, as
    # served (not pseudonymized: DIGA_PSEUDONYMIZE_CONTACTS=0).
    in_data = files_holding([data_dir], needles)
    holders = {
        str(path.relative_to(data_dir)).split("/date=")[0].split("/day=")[0] for p in in_data.values() for path in p
    }
    assert in_data and holders == {"raw/calls", "curated/calls"}
    served = {call["id"]: call["contact"]["identifier"] for call in served_calls(sim)}
    stored = stored_calls(data_dir)
    assert stored and all(number == served[call_id] for call_id, (_, number) in stored.items())


def test_transcripts_stay_out_of_what_runs_record(start_simulator, instance, tmp_path, monkeypatch, capfd):
    """What callers and agents said is stored in raw/messages and nowhere else: not in log lines,
    metadata, previews or the conversation metric's files."""
    sim = start_simulator(calls_per_day=40, status_model="current")
    data_dir = tmp_path / "data"
    assert run_calls_job(monkeypatch, sim, data_dir, instance, metrics=True).success

    transcripts = dg.materialize(
        [*build_definitions(Settings.from_env()).assets],
        selection=dg.AssetSelection.assets(*TRANSCRIPTS_JOB_ASSETS),
        resources=build_definitions(Settings.from_env()).resources,
        instance=instance,
        tags=range_tags(DAYS[0], DAYS[-1]),
    )

    assert transcripts.success
    said = {
        message["content"]
        for call_id in stored_calls(data_dir)
        for message in sim.world.call_messages(call_id)
        if message["content"] and len(message["content"]) >= 8
    }
    assert len(said) > 10, "the runs fetched enough conversation to search for"
    events = event_log_text(instance)
    out, err = capfd.readouterr()
    assert "diga_call_messages: 3/3 days done" in events and "calls_with_messages" in events
    assert present(said, events) == [] and present(said, out + err) == []
    assert files_holding([home_of(instance), data_dir / "metrics", data_dir / "curated"], said) == {}
    in_data = files_holding([data_dir], said)
    assert in_data and {str(path.relative_to(data_dir)).split("/date=")[0] for p in in_data.values() for path in p} == {
        "raw/messages"
    }


def test_a_run_into_a_bucket_records_no_aws_secret(start_simulator, instance, s3_server, monkeypatch, capfd):
    """The AWS credentials come from the standard chain (here the environment), so they reach no
    run config, snapshot, log line, metadata, views file or stored object."""
    sim = start_simulator(calls_per_day=30)
    root = s3_server.new_root("secrets")

    result = run_calls_job(monkeypatch, sim, root, instance, metrics=True)

    assert result.success
    events = event_log_text(instance)
    out, err = capfd.readouterr()
    assert f"{root}/raw/calls/date={DAYS[0]}/part-0.parquet" in events, "the search reads the run's metadata"
    needles = {SECRET_ACCESS_KEY}
    assert present(needles, events) == [] and present(needles, out + err) == []
    storage = DigaStorage(data_dir=root)
    assert files_holding([home_of(instance), storage.analysis_db.parent], needles) == {}
    stored = [storage.store.read_bytes(location) for location in stored_files(storage, f"{root}/**")]
    assert stored and not any(SECRET_ACCESS_KEY.encode() in content for content in stored)


def test_a_bad_number_or_recording_link_fails_the_run_without_showing_it(
    start_simulator: StartSimulator, instance, tmp_path, monkeypatch, capfd
):
    world = World(now=SIM_NOW, days=5, calls_per_day=50)
    template = world.calls_visible()[0]
    bad_recording = "00000000-0000-4000-8000-0000000000a1"
    bad_number = "00000000-0000-4000-8000-0000000000b2"
    world.add_call(
        {**template, "id": bad_recording, "created_date": f"{DAYS[0]}T10:00:00Z", "recording_url": {"href": RECORDING}}
    )
    contact = {**template["contact"], "identifier": 34611222333}
    world.add_call({**template, "id": bad_number, "created_date": f"{DAYS[1]}T10:00:00Z", "contact": contact})
    sim = start_simulator(world=world, validate=False)

    result = run_calls_job(monkeypatch, sim, tmp_path / "data", instance, raise_on_error=False)

    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    message = failure.event_specific_data.error.to_string()
    # The error still says which call and which field, so the cause can be found in the API.
    for call_id, field in ((bad_recording, "recording_url"), (bad_number, "contact_identifier")):
        assert call_id in message and repr(field) in message
    needles = ["recordings.diga.example/rec/planted", "5ec2e75ec2e7", "34611222333"]
    out, err = capfd.readouterr()
    assert bad_number in event_log_text(instance) and bad_number in err, "the failure was recorded and printed"
    assert present(needles, event_log_text(instance)) == []
    assert present(needles, out + err) == []
    assert files_holding([home_of(instance)], needles) == {}
    assert message.count("value withheld") == 2


# ------------------------------------------------------------------ DIGA_PSEUDONYMIZE_CONTACTS


def hmac_hex(key: str, identifier: str) -> str:
    """The expected stored value, computed independently of diga_assets.privacy."""
    return hmac.new(key.encode(), identifier.encode(), hashlib.sha256).hexdigest()


def test_pseudonymized_contacts_are_stable_keyed_hashes_never_the_number(
    start_simulator, instance, tmp_path, monkeypatch, capfd
):
    sim = start_simulator(calls_per_day=60)
    on = {"DIGA_PSEUDONYMIZE_CONTACTS": "1", "DIGA_CONTACT_HASH_KEY": HASH_KEY}
    other = {**on, "DIGA_CONTACT_HASH_KEY": OTHER_HASH_KEY}
    # The first run is recorded on disk and searched for the secret; the others only need their
    # files, and an in-memory instance spares them SQLite's fsyncs.
    memory = dg.DagsterInstance.ephemeral()
    assert run_calls_job(monkeypatch, sim, tmp_path / "first", instance, **on).success
    assert run_calls_job(monkeypatch, sim, tmp_path / "second", memory, **on).success
    assert run_calls_job(monkeypatch, sim, tmp_path / "other", memory, **other).success

    served = {call["id"]: call["contact"]["identifier"] for call in served_calls(sim)}
    first, second = stored_calls(tmp_path / "first"), stored_calls(tmp_path / "second")
    other_key = stored_calls(tmp_path / "other")
    assert len(first) > 100 and first.keys() == second.keys() == other_key.keys() <= served.keys()
    # HMAC-SHA256 under the key, the same in a second run, different under another key.
    assert all(value == hmac_hex(HASH_KEY, served[call_id]) for call_id, (_, value) in first.items())
    assert first == second
    assert all(other_key[call_id][1] != value for call_id, (_, value) in first.items())
    # A repeat caller keeps one value across days, so their calls still join and count as one.
    by_number: dict[str, set[tuple[str, str]]] = {}
    for call_id, (day, value) in first.items():
        by_number.setdefault(served[call_id], set()).add((day, value))
    day_and_value = next(pairs for pairs in by_number.values() if len({day for day, _ in pairs}) > 1)
    assert len({value for _, value in day_and_value}) == 1

    numbers = set(served.values())
    assert files_holding([tmp_path / "first", tmp_path / "second", tmp_path / "other"], numbers) == {}
    # The secret is referenced by name only: not in run config, snapshots, events or output.
    out, err = capfd.readouterr()
    secrets = [HASH_KEY, OTHER_HASH_KEY]
    assert present(secrets, event_log_text(instance) + event_log_text(memory) + out + err) == []
    assert files_holding([home_of(instance)], secrets) == {}
    key_slot = b'\\"contact_hash_key\\": {\\"env\\": \\"DIGA_CONTACT_HASH_KEY\\"}'  # JSON inside JSON
    assert key_slot in decoded_bytes(home_of(instance) / "history" / "runs.db")


@pytest.mark.parametrize("pseudonymized", [True, False])
def test_the_calls_asset_says_whether_contacts_are_pseudonymized(tmp_path, monkeypatch, pseudonymized):
    monkeypatch.setenv("DIGA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DIGA_PSEUDONYMIZE_CONTACTS", "1" if pseudonymized else "0")
    monkeypatch.setenv("DIGA_CONTACT_HASH_KEY", HASH_KEY)
    [spec] = build_definitions(Settings.from_env()).resolve_assets_def("diga_calls").specs
    assert spec.metadata["contact_identifier_pseudonymized"] is pseudonymized
    columns = {c.name: c.description for c in spec.metadata["dagster/column_schema"].columns}
    assert (columns["contact_identifier"] == PSEUDONYMIZED_DOC) is pseudonymized
    assert "HMAC" not in columns["contact_id"]
    assert HASH_KEY not in str(spec.metadata)


def test_the_storage_resource_does_not_show_the_hash_key():
    storage = DigaStorage(data_dir="/unused", pseudonymize_contacts=True, contact_hash_key=HASH_KEY)
    assert HASH_KEY not in repr(storage) and HASH_KEY not in str(storage)
