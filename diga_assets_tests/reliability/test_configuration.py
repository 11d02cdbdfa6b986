"""Bad configuration fails early and says which setting is wrong.

A bad ``DIGA_*`` variable stops the code location from loading, with a ``SettingsError`` naming the
variable; that is shown here the way a user meets it, by importing ``diga_assets.definitions``
(and running ``dagster definitions validate``) in a fresh process with the bad environment. What
can only be known when a run starts (the data directory being writable by whoever runs the step,
resource config changed in the launchpad, the HMAC key present where the run executes) fails the
run before it sends a single request to the API, naming the setting. Per-variable messages
already covered in ``test_definitions.py`` are not repeated in-process here.
"""

import json
import os
import subprocess
import sys
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import pydantic
import pytest

from diga_assets.api.spec import CALLS_PATH, PHONES_PATH
from diga_assets.assets.common import DigaGraph
from diga_assets.assets.raw import build_raw_assets
from diga_assets.definitions import build_definitions
from diga_assets.resources import DigaApiResource
from diga_assets.settings import Settings, SettingsError, project_root
from diga_assets.storage import DigaStorage
from diga_assets_tests.assets.conftest import api_resource, settings_for
from diga_assets_tests.conftest import SIM_KEY
from diga_assets_tests.object_store import BUCKET, SECRET_ACCESS_KEY
from diga_assets_tests.test_storage import enforced_credentials

DAY = "2026-11-18"
SHORT_KEY = "s3cr3t-but-short"  # 16 characters: too short for an HMAC key
GOOD_KEY = "9d2f6c1ab8e4470f93c5d7a1b2e3f4a59d2f6c1ab8e4470f"
BLOCKER = "{blocker}"  # replaced by a regular file: no one, root included, can create a directory under it

# case: (environment, what the last line of the traceback says, after "SettingsError: ")
LOAD_FAILURES: dict[str, tuple[dict[str, str], str]] = {
    "malformed start date": ({"DIGA_START_DATE": "2026-13-01"}, "DIGA_START_DATE='2026-13-01' is not a date"),
    "start date with a time": ({"DIGA_START_DATE": "2026-11-01T00:00"}, "DIGA_START_DATE='2026-11-01T00:00' is not"),
    "unknown time zone": ({"DIGA_TIMEZONE": "Europe/Atlantis"}, "DIGA_TIMEZONE='Europe/Atlantis' is not a known IANA"),
    "data dir under a file": ({"DIGA_DATA_DIR": f"{BLOCKER}/data"}, "DIGA_DATA_DIR="),
    "concurrency above 32": ({"DIGA_MAX_CONCURRENCY": "33"}, "DIGA_MAX_CONCURRENCY='33' must be a whole number"),
    "pseudonymize flag typo": ({"DIGA_PSEUDONYMIZE_CONTACTS": "yes"}, "DIGA_PSEUDONYMIZE_CONTACTS='yes' must be 1, 0"),
    "pseudonymize, no key": ({"DIGA_PSEUDONYMIZE_CONTACTS": "1"}, "DIGA_CONTACT_HASH_KEY is not set"),
    "pseudonymize, short key": (
        {"DIGA_PSEUDONYMIZE_CONTACTS": "true", "DIGA_CONTACT_HASH_KEY": SHORT_KEY},
        "DIGA_CONTACT_HASH_KEY is 16 characters long",
    ),
}
LOAD_OK = {"DIGA_PSEUDONYMIZE_CONTACTS": "1", "DIGA_CONTACT_HASH_KEY": GOOD_KEY}
PRINT_FLAG = (
    "from diga_assets.definitions import defs; calls = defs().resolve_assets_def('diga_calls'); "
    "print(calls.specs_by_key[calls.key].metadata['contact_identifier_pseudonymized'])"
)
# One process loads the code location once per case, as `dagster` would (importing the module and
# building its definitions with the case's environment), and prints the last line of each
# traceback: a process per case would cost seconds of imports each.
LOAD_EACH_CASE = """
import importlib, json, os, sys, traceback
cases = json.loads(sys.argv[1])
base = dict(os.environ)
lines = {}
for case, env in cases.items():
    os.environ.clear()
    os.environ.update(base, **env)
    sys.modules.pop("diga_assets.definitions", None)
    try:
        importlib.import_module("diga_assets.definitions").defs()
        lines[case] = "loaded"
    except Exception as exc:
        lines[case] = traceback.format_exception_only(exc)[-1].strip()
print(json.dumps(lines))
"""


def clean_environment(tmp_path: Path, **env: str) -> dict[str, str]:
    """This process's environment without any DIGA_* variable, then ``env``."""
    base = {name: value for name, value in os.environ.items() if not name.startswith("DIGA_")}
    return {**base, "DIGA_DATA_DIR": str(tmp_path / "data"), **env}


@dataclass(frozen=True)
class Loads:
    """What loading the code location said: per bad case, and for the good and CLI runs."""

    last_lines: dict[str, str]
    failing: subprocess.CompletedProcess[str]
    good: subprocess.CompletedProcess[str]
    validate: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def loads(tmp_path_factory: pytest.TempPathFactory) -> Loads:
    """Load the code location in fresh processes, run side by side (each spends seconds importing)."""
    tmp_path = tmp_path_factory.mktemp("loads")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    cases = {
        case: {name: value.replace(BLOCKER, str(blocker)) for name, value in env.items()}
        for case, (env, _) in LOAD_FAILURES.items()
    }
    dagster = str(Path(sys.executable).parent / "dagster")
    commands = {
        "failing": ([sys.executable, "-c", LOAD_EACH_CASE, json.dumps(cases)], clean_environment(tmp_path)),
        "good": ([sys.executable, "-c", PRINT_FLAG], clean_environment(tmp_path, **LOAD_OK)),
        "validate": (
            [dagster, "definitions", "validate", "-m", "diga_assets.definitions"],
            clean_environment(tmp_path, DIGA_TIMEZONE="Europe/Atlantis"),
        ),
    }
    processes = {
        name: subprocess.Popen(
            command, env=env, cwd=project_root(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for name, (command, env) in commands.items()
    }
    results = {}
    try:
        for name, process in processes.items():
            out, err = process.communicate(timeout=120)
            results[name] = subprocess.CompletedProcess(process.args, process.returncode, out, err)
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()
    failing = results["failing"]
    assert failing.returncode == 0, failing.stderr
    return Loads(json.loads(failing.stdout.strip().splitlines()[-1]), failing, results["good"], results["validate"])


@pytest.mark.parametrize("case", LOAD_FAILURES)
def test_a_bad_variable_stops_the_code_location_load_naming_it(loads, case):
    _, expected = LOAD_FAILURES[case]
    assert loads.last_lines[case].startswith("diga_assets.settings.SettingsError: " + expected), loads.last_lines[case]


def test_a_data_dir_under_a_file_says_which_file(loads):
    assert loads.last_lines["data dir under a file"].endswith("a-file' is a file")


def test_the_hash_key_is_not_in_the_load_error(loads):
    assert SHORT_KEY not in loads.last_lines["pseudonymize, short key"] and SHORT_KEY not in loads.failing.stderr


def test_the_same_environment_with_good_values_loads(loads):
    # The control for the cases above: a fresh process loads the code location, and it says the
    # contacts are pseudonymized when they are.
    assert loads.good.returncode == 0, loads.good.stderr
    assert loads.good.stdout.strip() == "True"


def test_dagster_definitions_validate_shows_the_message(loads):
    output = loads.validate.stdout + loads.validate.stderr
    assert loads.validate.returncode != 0
    assert "SettingsError: DIGA_TIMEZONE='Europe/Atlantis' is not a known IANA time zone" in output


@pytest.mark.parametrize(
    ("raw", "expected"), [("1", True), ("true", True), ("TRUE", True), ("0", False), ("false", False), ("", False)]
)
def test_the_pseudonymize_flag_reads_one_zero_true_false(raw, expected):
    env = {"DIGA_PSEUDONYMIZE_CONTACTS": raw, "DIGA_CONTACT_HASH_KEY": GOOD_KEY}
    assert Settings.from_env(env).pseudonymize_contacts is expected
    assert Settings.from_env({}).pseudonymize_contacts is False


@pytest.mark.parametrize("raw", ["yes", "on", "2", "-1"])
def test_other_pseudonymize_values_are_refused(raw):
    with pytest.raises(SettingsError, match=f"DIGA_PSEUDONYMIZE_CONTACTS='{raw}' must be 1, 0, true or false"):
        Settings.from_env({"DIGA_PSEUDONYMIZE_CONTACTS": raw, "DIGA_CONTACT_HASH_KEY": GOOD_KEY})


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("calls_page_size", 0, "greater than or equal to 1"),
        ("calls_page_size", 1001, "less than or equal to 1000"),
        ("phones_page_size", 101, "less than or equal to 100"),
        ("max_concurrency", 33, "less than or equal to 32"),
    ],
)
def test_an_out_of_range_resource_field_in_code_fails_at_load_naming_it(field, value, says):
    with pytest.raises(pydantic.ValidationError) as info:
        DigaApiResource(api_key=dg.EnvVar("DIGA_API_KEY"), **{field: value})
    assert field in str(info.value) and says in str(info.value)


# ------------------------------------------------------------------ when the run starts


def errors_of(result: dg.ExecuteInProcessResult) -> str:
    """Every error the run recorded (as the UI shows them), causes included."""
    texts = []
    for event in result.all_events:
        error = getattr(event.event_specific_data, "error", None)
        if error is not None:
            texts.append(error.to_string())
    return "\n".join(texts)


def materialize(sim: Any, asset: str, resources: dict[str, Any], **kwargs: Any) -> dg.ExecuteInProcessResult:
    """One partition of a raw asset, without raising, against ``sim``."""
    graph = DigaGraph(settings_for(Path("/unused")))
    return dg.materialize(
        build_raw_assets(graph),
        selection=[asset],
        resources=resources,
        partition_key=DAY,
        raise_on_error=False,
        **kwargs,
    )


def assert_no_request(sim: Any) -> None:
    assert sim.requests_to(CALLS_PATH) == [] and sim.requests_to(PHONES_PATH) == [], "the run never reached the API"


@pytest.mark.parametrize("asset", ["diga_calls", "diga_phones"])
def test_a_data_dir_that_cannot_be_created_fails_the_run_naming_it(start_simulator, tmp_path, asset):
    # A path under a regular file cannot be a directory for any user, root included, where a
    # read-only mode would not stop root. Settings refuses it at load; the resource can still be
    # given one in the launchpad, or the file can appear after the load.
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    sim = start_simulator()
    storage = DigaStorage(data_dir=str(blocker / "data"))

    result = materialize(sim, asset, {"diga": api_resource(sim), "storage": storage})

    assert not result.success
    assert f"DIGA_DATA_DIR={str(blocker / 'data')!r} is not writable" in errors_of(result)
    assert_no_request(sim)


@pytest.mark.parametrize("asset", ["diga_calls", "diga_phones"])
@pytest.mark.parametrize(
    ("problem", "says"),
    [
        ("missing-bucket", "bucket 'no-such-bucket' does not exist"),
        ("no-credentials", "no AWS credentials found"),
        ("wrong-credentials", "cannot access bucket"),
    ],
)
def test_a_bucket_the_run_cannot_use_fails_it_before_any_request_naming_it(
    start_simulator, s3_server, monkeypatch, asset, problem, says
):
    sim = start_simulator()
    root = s3_server.new_root(problem)
    if problem == "missing-bucket":
        root = "s3://no-such-bucket/diga"
    elif problem == "no-credentials":
        monkeypatch.delenv("AWS_ACCESS_KEY_ID")
        monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    storage = DigaStorage(data_dir=root)

    with enforced_credentials(s3_server) if problem == "wrong-credentials" else nullcontext():
        result = materialize(sim, asset, {"diga": api_resource(sim), "storage": storage})

    assert not result.success
    errors = errors_of(result)
    assert f"DIGA_DATA_DIR={root!r}" in errors and says in errors
    assert SECRET_ACCESS_KEY not in errors
    assert_no_request(sim)
    if problem != "missing-bucket":
        assert s3_server.client().list_objects_v2(Bucket=BUCKET, Prefix=root.split("/", 3)[3]).get("KeyCount") == 0


@pytest.mark.parametrize(
    ("asset", "field", "value", "says"),
    [
        ("diga_calls", "calls_page_size", 5000, "less than or equal to 1000"),
        ("diga_calls", "calls_page_size", 0, "greater than or equal to 1"),
        ("diga_phones", "phones_page_size", 101, "less than or equal to 100"),
        ("diga_calls", "max_concurrency", 0, "greater than or equal to 1"),
    ],
)
def test_an_out_of_range_page_size_in_run_config_fails_the_run_naming_it(
    start_simulator, tmp_path, asset, field, value, says
):
    sim = start_simulator()
    # What the launchpad holds after editing one field of the resource's scaffolded config.
    config = {"api_key": SIM_KEY, "base_url": sim.base_url, field: value}

    result = materialize(
        sim,
        asset,
        {"diga": api_resource(sim), "storage": DigaStorage(data_dir=str(tmp_path / "data"))},
        run_config={"resources": {"diga": {"config": config}}},
    )

    assert not result.success
    errors = errors_of(result)
    assert "DigaApiResource" in errors and field in errors and says in errors
    assert_no_request(sim)


def pseudonymizing_storage(tmp_path: Path) -> DigaStorage:
    """The storage resource of a code location loaded with pseudonymization on and a good key."""
    settings = Settings.from_env(
        {"DIGA_DATA_DIR": str(tmp_path), "DIGA_PSEUDONYMIZE_CONTACTS": "1", "DIGA_CONTACT_HASH_KEY": GOOD_KEY}
    )
    return build_definitions(settings).resources["storage"]


def test_a_short_hash_key_where_the_run_executes_fails_the_run_naming_it(start_simulator, tmp_path, monkeypatch):
    sim = start_simulator()
    storage = pseudonymizing_storage(tmp_path)
    # The run executes where the variable differs from where the code location loaded.
    monkeypatch.setenv("DIGA_CONTACT_HASH_KEY", SHORT_KEY)

    result = materialize(sim, "diga_calls", {"diga": api_resource(sim), "storage": storage})

    assert not result.success
    errors = errors_of(result)
    assert "DIGA_CONTACT_HASH_KEY is 16 characters long" in errors and SHORT_KEY not in errors
    assert_no_request(sim)


def test_a_missing_hash_key_where_the_run_executes_stops_the_run_naming_it(start_simulator, tmp_path, monkeypatch):
    sim = start_simulator()
    storage = pseudonymizing_storage(tmp_path)
    monkeypatch.delenv("DIGA_CONTACT_HASH_KEY", raising=False)

    # Dagster resolves dg.EnvVar before the run's first step, and refuses to start it.
    with pytest.raises(dg.DagsterInvalidConfigError, match='environment variable "DIGA_CONTACT_HASH_KEY"'):
        materialize(sim, "diga_calls", {"diga": api_resource(sim), "storage": storage})
    assert_no_request(sim)
