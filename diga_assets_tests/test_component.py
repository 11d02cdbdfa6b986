"""DigaComponent in another Dagster project, as a team adds it: a new dg project in a temp dir,
two instances from two ``defs.yaml`` files (two Diga accounts: two simulators with their own
keys, two key prefixes, two data dirs), checked and listed with ``dg``, one day of calls
materialized for both in one ``dg launch``, and each data dir holding exactly its account's calls,
with neither key in any file under the data dirs or DAGSTER_HOME; a third instance as ``dg
scaffold defs`` writes it loads beside them. Also: the project itself is a dg project, and
``dg list components`` shows the component."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from diga_assets.definitions import DigaComponent
from diga_assets.settings import SettingsError
from diga_assets.simulator import World
from diga_assets_tests.conftest import SIM_NOW

BIN = Path(sys.executable).parent
PROJECT_ROOT = Path(__file__).resolve().parents[1]
DAY = "2026-11-19"
ACCOUNTS = {
    # key prefix: (the variable naming its key, the key, the simulated account)
    "acme": ("DIGA_KEY_ACME", "acme-key-0c5e1d9a77", {"seed": 21, "days": 3, "calls_per_day": 60}),
    "globex": ("DIGA_KEY_GLOBEX", "globex-key-4b8f2a1e33", {"seed": 22, "days": 3, "calls_per_day": 45}),
}


def defs_yaml(prefix: str, base_url: str, data_dir: str, key_var: str) -> str:
    """What a team writes to add one Diga account (the README's example, with these values)."""
    return textwrap.dedent(
        f"""\
        type: diga_assets.DigaComponent
        attributes:
          start_date: "2026-11-01"
          timezone: UTC
          data_dir: {data_dir}
          api_base_url: {base_url}
          api_key_env_var: {key_var}
          transcripts: false
          key_prefix: [{prefix}]
        """
    )


def new_dg_project(root: Path) -> None:
    """A new Dagster project laid out as ``create-dagster project`` lays it out (src/, a
    definitions module that loads the defs folder), made by hand: no network here. ``dg_env``
    puts its src/ on the path, where ``uv sync`` would install it."""
    package = root / "src" / "analytics"
    (package / "defs").mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        textwrap.dedent(
            """\
            [project]
            name = "analytics"
            version = "0.1.0"
            requires-python = ">=3.11"
            dependencies = ["diga-assets"]

            [tool.dg]
            directory_type = "project"

            [tool.dg.project]
            root_module = "analytics"
            """
        )
    )
    (package / "__init__.py").write_text("")
    (package / "defs" / "__init__.py").write_text("")
    (package / "definitions.py").write_text(
        textwrap.dedent(
            """\
            from pathlib import Path

            import dagster as dg


            @dg.definitions
            def defs() -> dg.Definitions:
                return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
            """
        )
    )


def run(command: list[str], cwd: Path, env: dict[str, str], timeout: float = 240) -> subprocess.CompletedProcess:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def dg_env(home: Path, project: Path | None = None, **extra: str) -> dict[str, str]:
    """The environment of a user who activated the virtualenv holding diga-assets, dg and
    ``project`` (its src/ on the path), with an instance in ``home``."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DIGA_", "DAGSTER_"))}
    env.update(
        VIRTUAL_ENV=str(BIN.parent),
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        DAGSTER_HOME=str(home),
        DG_TELEMETRY_DISABLED="1",
        **extra,
    )
    if project is not None:
        env["PYTHONPATH"] = str(project / "src")
    return env


# Dagster's own, in every process that loads a component with asset checks: its defs folder
# rebuilds each check as an AssetsDefinition to add metadata, and the repository turns it back with
# the beta `execution_type` parameter. Nothing the project chose; noted in the README.
DAGSTER_COMPONENT_CHECKS_WARNING = "Parameter `execution_type` of function `AssetsDefinition.__init__`"


def project_warnings(output: str) -> list[str]:
    """The Beta/Preview warnings in ``output`` other than Dagster's own about components' checks."""
    return [
        line
        for line in output.splitlines()
        if ("BetaWarning" in line or "PreviewWarning" in line) and DAGSTER_COMPONENT_CHECKS_WARNING not in line
    ]


def files_under(*roots: Path) -> list[Path]:
    return [path for root in roots for path in root.rglob("*") if path.is_file()]


@pytest.fixture
def two_accounts(start_simulator):
    """Two simulated Diga accounts, each answering only its own key."""
    return {prefix: start_simulator(api_key=key, now=SIM_NOW, **world) for prefix, (_, key, world) in ACCOUNTS.items()}


@pytest.mark.e2e
def test_two_instances_in_another_project_load_side_by_side_and_each_stores_its_account(tmp_path, two_accounts):
    project = tmp_path / "analytics"
    new_dg_project(project)
    home = tmp_path / "dagster_home"
    for prefix, (key_var, _, _) in ACCOUNTS.items():
        folder = project / "src" / "analytics" / "defs" / prefix
        folder.mkdir()
        text = defs_yaml(prefix, two_accounts[prefix].base_url, f"data/{prefix}", key_var)
        assert len(text.splitlines()) <= 15
        (folder / "defs.yaml").write_text(text)
    env = dg_env(home, project, **{key_var: key for key_var, key, _ in ACCOUNTS.values()})
    # A third instance as dg scaffolds it: it must load as written, beside the two.
    run([str(BIN / "dg"), "scaffold", "defs", "diga_assets.DigaComponent", "diga"], project, env)
    scaffolded = (project / "src" / "analytics" / "defs" / "diga" / "defs.yaml").read_text()

    checked = run([str(BIN / "dg"), "check", "defs"], project, env)
    listed = json.loads(run([str(BIN / "dg"), "list", "defs", "--json"], project, env).stdout)
    # Both accounts' day in one run: each instance's asset reads its own resources in it.
    both = ",".join(f"{prefix}/diga_calls" for prefix in ACCOUNTS)
    launched = run([str(BIN / "dg"), "launch", "--assets", both, "--partition", DAY], project, env)
    assert not project_warnings(launched.stderr), launched.stderr

    assert not project_warnings(checked.stdout + checked.stderr)
    assert len(scaffolded.splitlines()) <= 15 and "api_key_env_var: DIGA_API_KEY" in scaffolded
    asset_keys = {asset["asset_key"] for asset in listed["assets"]}
    jobs = {job["name"] for job in listed["jobs"]}
    schedules = {schedule["name"] for schedule in listed["schedules"]}
    resources = {resource["name"] for resource in listed["resources"]}
    for prefix in ACCOUNTS:
        assert {f"{prefix}/diga_calls", f"{prefix}/curated_calls", f"{prefix}/call_report"} <= asset_keys
        assert {f"{prefix}_diga_calls_job", f"{prefix}_diga_phones_job"} <= jobs
        assert {f"{prefix}_diga_calls_daily", f"{prefix}_diga_phones_daily"} <= schedules
        assert {f"{prefix}_diga", f"{prefix}_storage"} <= resources
        # Each data dir holds exactly the calls its own account served for the day.
        stored = pq.read_table(project / "data" / prefix / "raw" / "calls" / f"date={DAY}" / "part-0.parquet")
        world = World(now=SIM_NOW, **ACCOUNTS[prefix][2])
        day_start, day_end = datetime(2026, 11, 19, tzinfo=UTC), datetime(2026, 11, 20, tzinfo=UTC)
        expected = [call["id"] for call in world.calls_created_between(day_start, day_end)]
        assert expected and stored.column("id").to_pylist() == expected
    assert "diga/diga_calls" in asset_keys and "diga_diga_calls_job" in jobs
    # Neither key is written anywhere: not in the data, not in the instance's runs, logs or events.
    for path in files_under(project / "data", home):
        content = path.read_bytes()
        for _, key, _ in ACCOUNTS.values():
            assert key.encode() not in content, path


@pytest.mark.e2e
def test_the_project_is_a_dg_project_that_lists_the_component(tmp_path):
    env = dg_env(tmp_path / "home")

    checked = run([str(BIN / "dg"), "check", "defs"], PROJECT_ROOT, env)
    components = run([str(BIN / "dg"), "list", "components", "--json"], PROJECT_ROOT, env)

    assert "All definitions loaded successfully" in checked.stdout + checked.stderr
    assert not project_warnings(checked.stdout + checked.stderr)
    [listed] = [c for c in json.loads(components.stdout)["items"] if c["key"] == "diga_assets.DigaComponent"]
    assert listed["summary"].startswith("The Diga API as daily Parquet snapshots")


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "DigaComponent attribute timezone='Mars/Olympus' is not a known IANA"),
        ({"key_prefix": ["acme-eu"]}, "DigaComponent attribute key_prefix: key prefix part 'acme-eu'"),
        ({"api_key_env_var": "my key"}, "DigaComponent attribute api_key_env_var='my key' is not a variable"),
        (
            {"api_base_url": "http://api.diga.io"},
            "DigaComponent attribute api_base_url: 'http://api.diga.io' uses plain",
        ),
        ({"max_concurrency": 99}, "DigaComponent attribute max_concurrency='99' must be a whole number"),
    ],
)
def test_a_bad_attribute_is_refused_naming_it(tmp_path, attributes, message):
    component = DigaComponent(start_date="2026-11-01", data_dir="data", **attributes)
    with pytest.raises(SettingsError, match="^" + message.replace("(", r"\(").replace("?", r"\?")):
        component.settings(tmp_path)


def test_paths_are_taken_from_the_project_root_and_only_variable_names_are_kept(tmp_path):
    settings = DigaComponent(
        start_date="2026-11-01", data_dir="data/acme", key_prefix=["acme"], outcome_map="maps/outcomes.csv"
    ).settings(tmp_path)

    assert settings.data_dir == tmp_path / "data" / "acme"
    assert settings.outcome_map == tmp_path / "maps" / "outcomes.csv"
    assert settings.api_key_var == "DIGA_API_KEY"
    assert settings.names.rerun_commands("diga_calls", [DAY]) == [
        f"dg launch --assets acme/diga_calls --partition {DAY}"
    ]
