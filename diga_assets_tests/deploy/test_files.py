"""The deployment files say the same thing everywhere, and say what the end-to-end test runs.

Docker and Kubernetes do not run here, so what can be checked without them is: every file parses;
the instance settings variants differ only where they must (Dagster's yaml has no include); the
commands in docker-compose.yml, the image's default command and the Helm values are the commands
of ``deployment.py`` that the end-to-end test starts; the image installs the project with its
extras and nothing else; the variables the files use are DAGSTER_POSTGRES_* (the instance's
database), the project's DIGA_* settings and the few the deployment itself names, and every one
a process needs is given to it.
"""

from __future__ import annotations

import json
import re
import tomllib
from importlib.metadata import version
from typing import Any

import pytest

from diga_assets_tests.deploy.deployment import (
    CODE_SERVER_PORT,
    COMPOSE_FILE,
    COMPOSE_INSTANCE_YAML,
    DEPLOY_DIR,
    HELM_VALUES,
    IMAGE_WORKSPACE,
    INSTANCE_YAML,
    LOCATION_NAME,
    POSTGRES_ENV_VARS,
    PROJECT_ROOT,
    S3_INSTANCE_YAML,
    WORKSPACE_YAML,
    code_location_env_vars,
    code_server_command,
    daemon_command,
    dockerfile_instructions,
    env_references,
    read_yaml,
    webserver_command,
)

PYPROJECT = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
IMAGE_DAGSTER_HOME = "/opt/dagster/dagster_home"
COMPOSE_IMAGE = "diga-assets"
COMPOSE_WEBSERVER_PORT = 3000
# Variables the deployment itself introduces (besides DAGSTER_POSTGRES_* and the project's
# settings): where the code server listens, where compute logs go, and Dagster's own
# DAGSTER_CURRENT_IMAGE, by which a code server names the image that runs its code.
DEPLOYMENT_ENV_VARS = frozenset(
    {"DIGA_CODE_SERVER_HOST", "DIGA_CODE_SERVER_PORT", "DIGA_COMPUTE_LOGS_BUCKET", "DIGA_COMPUTE_LOGS_PREFIX"}
)


def without(mapping: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {key: value for key, value in mapping.items() if key not in keys}


def requirement_name(requirement: str) -> str:
    """``dagster-postgres==0.29.27`` -> ``dagster-postgres``; ``moto[server]>=5`` -> ``moto``."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    assert match, requirement
    return match.group(1).lower().replace("_", "-")


def pinned_version(requirement: str) -> str | None:
    match = re.fullmatch(r"\s*[A-Za-z0-9._-]+(?:\[[^\]]*\])?\s*==\s*([0-9][0-9A-Za-z.]*)\s*", requirement)
    return match.group(1) if match else None


# Instance settings ------------------------------------------------------------------------------


def test_the_instance_settings_variants_differ_only_where_they_must() -> None:
    base = read_yaml(INSTANCE_YAML)
    s3 = read_yaml(S3_INSTANCE_YAML)
    compose = read_yaml(COMPOSE_INSTANCE_YAML)

    # Dagster reads one dagster.yaml with no include (dagster_instance_config loads the one file),
    # so the variants repeat the base: anything else that differs is a mistake.
    assert "compute_logs" not in base and "run_launcher" not in base
    assert without(s3, "compute_logs") == base
    assert s3["compute_logs"]["class"] == "S3ComputeLogManager"
    assert without(compose, "run_launcher") == base
    assert compose["run_launcher"]["class"] == "DockerRunLauncher"


def test_the_instance_is_configured_by_the_postgres_variables_only() -> None:
    settings = read_yaml(INSTANCE_YAML)

    postgres = settings["storage"]["postgres"]["postgres_db"]
    assert env_references(settings) == POSTGRES_ENV_VARS
    # psycopg2 by name: with a bare "postgresql" SQLAlchemy 2.1 would pick psycopg 3.
    assert postgres["scheme"] == "postgresql+psycopg2"
    assert settings["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert settings["concurrency"]["pools"] == {"default_limit": 1, "granularity": "op"}
    assert settings["concurrency"]["runs"]["max_concurrent_runs"] >= 1
    monitoring = settings["run_monitoring"]
    assert monitoring["enabled"] is True
    assert monitoring["free_slots_after_run_end_seconds"] > 0  # 0 would never free a dead run's slot
    assert monitoring["poll_interval_seconds"] > 0
    assert settings["telemetry"] == {"enabled": False}
    assert settings["nux"] == {"enabled": False}


def test_compute_logs_go_to_a_bucket_named_by_the_environment() -> None:
    config = read_yaml(S3_INSTANCE_YAML)["compute_logs"]["config"]

    assert config["bucket"] == {"env": "DIGA_COMPUTE_LOGS_BUCKET"}
    assert config["prefix"] == {"env": "DIGA_COMPUTE_LOGS_PREFIX"}
    # boto3 reads AWS_ENDPOINT_URL itself; an endpoint in the file would pin one store.
    assert "endpoint_url" not in config


def test_the_workspace_points_at_one_code_server_by_environment() -> None:
    workspace = read_yaml(WORKSPACE_YAML)

    assert workspace == {
        "load_from": [
            {
                "grpc_server": {
                    "host": {"env": "DIGA_CODE_SERVER_HOST"},
                    "port": {"env": "DIGA_CODE_SERVER_PORT"},
                    "location_name": LOCATION_NAME,
                }
            }
        ]
    }


# The image --------------------------------------------------------------------------------------


def instructions(name: str) -> list[str]:
    return [arguments for instruction, arguments in dockerfile_instructions() if instruction == name]


def test_the_image_is_python_3_11_slim_running_as_a_user() -> None:
    assert instructions("FROM") == ["python:3.11-slim"]
    users = instructions("USER")
    assert users and users[-1] not in {"root", "0"}, users


def test_the_image_installs_exactly_the_locked_deploy_extra_then_the_project_alone() -> None:
    installs = [run for run in instructions("RUN") if "pip install" in run]

    assert installs == [
        "pip install --no-deps --require-hashes -r deploy/requirements.txt",
        "pip install --no-deps . && pip check",
    ]
    extras = PYPROJECT["project"]["optional-dependencies"]
    # What the image needs beyond the code location is in the extra: storage, logs, launchers.
    assert {requirement_name(r) for r in extras["deploy"]} >= {
        "dagster-postgres",
        "dagster-aws",
        "dagster-docker",
        "dagster-k8s",
        "psycopg2-binary",
        "sqlalchemy",
    }
    # The export of the lock pins every package, each with its hashes, and holds the deploy
    # extra and the project's own dependencies (`make lock-check` in CI keeps it equal to uv.lock).
    pinned = dict(
        re.findall(r"^([A-Za-z0-9._-]+)==([^ \\;]+)", (DEPLOY_DIR / "requirements.txt").read_text(), re.MULTILINE)
    )
    wanted = {requirement_name(r) for r in PYPROJECT["project"]["dependencies"] + extras["deploy"]}
    assert wanted <= {name.lower().replace("_", "-") for name in pinned}
    assert pinned["dagster"] == pinned_version(next(r for r in PYPROJECT["project"]["dependencies"] if "dagster=" in r))
    # The package build reads pyproject.toml and README.md, and the package itself.
    assert {"pyproject.toml", "README.md", "diga_assets", "deploy/requirements.txt"} <= copy_sources()


def copy_sources() -> set[str]:
    return {source for copy in instructions("COPY") for source in copy.split()[:-1]}


def test_the_build_context_holds_only_what_the_image_copies() -> None:
    entries = [
        line.strip().rstrip("/")
        for line in (DEPLOY_DIR / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]

    assert entries[0] == "*"  # everything out (.venv, data, .git), then each source back in
    for source in copy_sources():
        assert f"!{source.rstrip('/')}" in entries, source


def test_the_dagster_family_is_pinned_to_one_release_that_is_installed() -> None:
    pins = {
        requirement_name(r): pinned_version(r)
        for r in PYPROJECT["project"]["dependencies"] + PYPROJECT["project"]["optional-dependencies"]["deploy"]
        if requirement_name(r).startswith("dagster")
    }

    assert {"dagster", "dagster-webserver", "dagster-graphql", "dagster-postgres"} <= set(pins)
    release = pins["dagster"]
    assert release is not None
    _major, minor, patch = release.split(".")
    # Dagster publishes its integrations as 0.(minor + 16).patch with each 1.minor.patch release,
    # and each pins its dagster exactly: the whole family moves together.
    library = f"0.{int(minor) + 16}.{patch}"
    for name, pin in pins.items():
        expected = release if name in {"dagster", "dagster-webserver", "dagster-graphql"} else library
        assert pin == expected, (name, pin, expected)
        assert version(name) == pin, f"{name} {version(name)} is installed, pyproject pins {pin}"


def test_the_image_carries_the_s3_settings_and_the_workspace_and_serves_the_code_location() -> None:
    env = " ".join(instructions("ENV"))
    assert f"DAGSTER_HOME={IMAGE_DAGSTER_HOME}" in env
    copies = [copy.split() for copy in instructions("COPY")]
    assert ["deploy/dagster.s3.yaml", f"{IMAGE_DAGSTER_HOME}/dagster.yaml"] in copies
    assert ["deploy/workspace.yaml", IMAGE_WORKSPACE] in copies
    assert instructions("EXPOSE") == [str(CODE_SERVER_PORT)]
    (cmd,) = instructions("CMD")
    assert json.loads(cmd) == code_server_command("0.0.0.0", CODE_SERVER_PORT)


# docker compose ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return read_yaml(COMPOSE_FILE)


def service_env(compose: dict[str, Any], service: str) -> dict[str, str]:
    return {key: str(value) for key, value in compose["services"][service].get("environment", {}).items()}


def test_compose_has_postgres_and_the_three_dagster_processes(compose: dict[str, Any]) -> None:
    assert {key for key in compose if not key.startswith("x-")} == {"services", "volumes", "networks"}
    services = compose["services"]
    assert set(services) == {"postgres", "code-server", "webserver", "daemon"}
    assert services["postgres"]["image"] == "postgres:15"
    assert services["code-server"]["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
    for name in ("code-server", "webserver", "daemon"):
        assert services[name]["image"] == COMPOSE_IMAGE, name
    for name, service in services.items():
        assert set(service.get("depends_on", {})) <= set(services), name
        for mount in service.get("volumes", []):
            source = mount.split(":", 1)[0]
            assert source.startswith(("./", "/")) or source in compose["volumes"], (name, mount)
        assert set(service.get("networks", [])) <= set(compose["networks"]), name


def test_compose_runs_the_commands_the_end_to_end_test_runs(compose: dict[str, Any]) -> None:
    services = compose["services"]

    assert services["code-server"]["command"] == code_server_command("0.0.0.0", CODE_SERVER_PORT)
    assert services["webserver"]["command"] == webserver_command("0.0.0.0", COMPOSE_WEBSERVER_PORT, IMAGE_WORKSPACE)
    assert services["daemon"]["command"] == daemon_command(IMAGE_WORKSPACE)
    # The UI has no login: published on the host's loopback only.
    assert services["webserver"]["ports"] == [f"127.0.0.1:{COMPOSE_WEBSERVER_PORT}:{COMPOSE_WEBSERVER_PORT}"]
    # The workspace reaches the code server by its service name and port.
    for name in ("webserver", "daemon"):
        env = service_env(compose, name)
        assert (env["DIGA_CODE_SERVER_HOST"], env["DIGA_CODE_SERVER_PORT"]) == ("code-server", str(CODE_SERVER_PORT))


def test_compose_gives_each_process_the_instance_settings_and_their_variables(compose: dict[str, Any]) -> None:
    instance = read_yaml(COMPOSE_INSTANCE_YAML)
    instance_mount = f"./{COMPOSE_INSTANCE_YAML.name}:{IMAGE_DAGSTER_HOME}/dagster.yaml:ro"
    for name in ("code-server", "webserver", "daemon"):
        assert instance_mount in compose["services"][name]["volumes"], name
        assert env_references(instance) <= set(service_env(compose, name)), name
    for name in ("webserver", "daemon"):
        assert env_references(read_yaml(WORKSPACE_YAML)) <= set(service_env(compose, name)), name

    # The code server loads the code location with every setting; the daemon hands each run
    # container the settings by name (a name it does not have fails the launch).
    launcher = instance["run_launcher"]["config"]
    assert set(launcher["env_vars"]) == POSTGRES_ENV_VARS | code_location_env_vars()
    assert code_location_env_vars() <= set(service_env(compose, "code-server"))
    assert set(launcher["env_vars"]) <= set(service_env(compose, "daemon"))
    # Runs are containers of the code server's image, on the compose network, with its volumes.
    assert service_env(compose, "code-server")["DAGSTER_CURRENT_IMAGE"] == COMPOSE_IMAGE
    assert launcher["network"] == compose["networks"]["diga"]["name"]
    fixed_volume_names = {spec["name"] for spec in compose["volumes"].values() if spec and "name" in spec}
    for mount in launcher["container_kwargs"]["volumes"]:
        assert mount.split(":", 1)[0] in fixed_volume_names, mount


def test_compose_uses_only_the_postgres_the_project_and_the_deployment_variables(compose: dict[str, Any]) -> None:
    allowed = POSTGRES_ENV_VARS | code_location_env_vars() | DEPLOYMENT_ENV_VARS | {"DAGSTER_CURRENT_IMAGE"}
    for name, service in compose["services"].items():
        if name == "postgres":
            # The postgres image's own variables, set from the DAGSTER_POSTGRES_* ones.
            assert set(service["environment"]) == {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"}
            continue
        assert set(service_env(compose, name)) <= allowed, name
    interpolated = set(re.findall(r"\$\{([A-Za-z0-9_]+)", COMPOSE_FILE.read_text(encoding="utf-8")))
    assert interpolated <= POSTGRES_ENV_VARS | code_location_env_vars(), interpolated
    for name in env_references(read_yaml(S3_INSTANCE_YAML)) | env_references(read_yaml(WORKSPACE_YAML)):
        assert name in POSTGRES_ENV_VARS | DEPLOYMENT_ENV_VARS, name


# Helm -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def helm() -> dict[str, Any]:
    return read_yaml(HELM_VALUES)


def code_server_options(argv: list[str]) -> dict[str, str]:
    """``dagster code-server start`` arguments as option -> value, short and long names alike."""
    assert argv[:3] == ["dagster", "code-server", "start"], argv
    aliases = {"-h": "--host", "-p": "--port", "-m": "--module-name", "-n": "--max-workers"}
    options = argv[3:]
    assert len(options) % 2 == 0, argv
    parsed = {aliases.get(flag, flag): value for flag, value in zip(options[::2], options[1::2], strict=True)}
    assert len(parsed) == len(options) // 2, f"an option is given twice: {argv}"
    return parsed


def test_helm_runs_the_project_image_as_the_code_server_of_the_end_to_end_test(helm: dict[str, Any]) -> None:
    user_code = helm["dagster-user-deployments"]
    assert user_code["enabled"] is True
    (deployment,) = user_code["deployments"]
    assert deployment["port"] == CODE_SERVER_PORT
    # The chart starts `dagster code-server start -h 0.0.0.0 -p <port>` followed by codeServerArgs.
    chart_command = ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", str(deployment["port"])]
    assert code_server_options(chart_command + deployment["codeServerArgs"]) == code_server_options(
        code_server_command("0.0.0.0", CODE_SERVER_PORT)
    )
    # The webserver and the daemon find it by its Service (the deployment's name), under the
    # location name it gives itself.
    workspace = helm["dagsterWebserver"]["workspace"]
    assert workspace["enabled"] is True
    assert workspace["servers"] == [{"host": deployment["name"], "port": CODE_SERVER_PORT, "name": LOCATION_NAME}]


def test_helm_gives_the_code_server_and_its_runs_the_project_settings(helm: dict[str, Any]) -> None:
    (deployment,) = helm["dagster-user-deployments"]["deployments"]

    assert set(deployment["env"]) <= code_location_env_vars()
    assert deployment["env"]["DIGA_BACKFILL_DAYS_PER_RUN"].isdigit()
    # Run pods keep nothing: the data lives in a bucket, not on a volume some pod must mount.
    assert deployment["env"]["DIGA_DATA_DIR"].startswith("s3://")
    assert "volumes" not in deployment and "volumeMounts" not in deployment
    # The API key comes from a Secret, never from the values file.
    assert "DIGA_API_KEY" not in deployment["env"]
    assert deployment["envSecrets"]
    assert helm["runLauncher"]["type"] == "K8sRunLauncher"


def test_helm_configures_the_instance_as_deploy_dagster_yaml(helm: dict[str, Any]) -> None:
    settings = read_yaml(S3_INSTANCE_YAML)

    postgres = helm["postgresql"]
    assert postgres["enabled"] is False  # an external PostgreSQL
    assert postgres["postgresqlScheme"] == settings["storage"]["postgres"]["postgres_db"]["scheme"]
    concurrency = helm["concurrency"]
    assert concurrency["enabled"] is True
    assert concurrency["pools"] == {
        "defaultLimit": settings["concurrency"]["pools"]["default_limit"],
        "granularity": settings["concurrency"]["pools"]["granularity"],
    }
    assert concurrency["runs"] == {"maxConcurrentRuns": settings["concurrency"]["runs"]["max_concurrent_runs"]}
    monitoring = settings["run_monitoring"]
    assert helm["dagsterDaemon"]["runMonitoring"] == {
        "enabled": monitoring["enabled"],
        "freeSlotsAfterRunEndSeconds": monitoring["free_slots_after_run_end_seconds"],
        "pollIntervalSeconds": monitoring["poll_interval_seconds"],
    }
    logs = helm["computeLogManager"]
    assert logs["type"] == settings["compute_logs"]["class"]
    s3 = logs["config"]["s3ComputeLogManager"]
    assert (s3["uploadInterval"], s3["skipEmptyFiles"]) == (
        settings["compute_logs"]["config"]["upload_interval"],
        settings["compute_logs"]["config"]["skip_empty_files"],
    )
    assert helm["telemetry"] == settings["telemetry"]
    assert helm["additionalInstanceConfig"] == {"nux": settings["nux"]}
