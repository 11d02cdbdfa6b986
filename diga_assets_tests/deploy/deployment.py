"""The deployment files (deploy/) as the tests read them, and the commands of the three Dagster
processes: the one statement of them that the end-to-end test runs and that the file tests hold
docker-compose.yml, the Dockerfile and the Helm values to."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEPLOY_DIR = PROJECT_ROOT / "deploy"
INSTANCE_YAML = DEPLOY_DIR / "dagster.yaml"
S3_INSTANCE_YAML = DEPLOY_DIR / "dagster.s3.yaml"
COMPOSE_INSTANCE_YAML = DEPLOY_DIR / "dagster.compose.yaml"
WORKSPACE_YAML = DEPLOY_DIR / "workspace.yaml"
DOCKERFILE = DEPLOY_DIR / "Dockerfile"
COMPOSE_FILE = DEPLOY_DIR / "docker-compose.yml"
HELM_VALUES = DEPLOY_DIR / "helm" / "values.yaml"

CODE_LOCATION_MODULE = "diga_assets.definitions"
LOCATION_NAME = "diga_assets"
# The code server's port in the image, in docker-compose.yml and in the Helm values.
CODE_SERVER_PORT = 4000
# Where the image keeps deploy/workspace.yaml.
IMAGE_WORKSPACE = "/opt/dagster/workspace.yaml"

# The variables deploy/dagster.yaml is configured by, and nothing else.
POSTGRES_ENV_VARS = frozenset(
    {
        "DAGSTER_POSTGRES_HOSTNAME",
        "DAGSTER_POSTGRES_PORT",
        "DAGSTER_POSTGRES_USER",
        "DAGSTER_POSTGRES_PASSWORD",
        "DAGSTER_POSTGRES_DB",
    }
)


def code_server_command(host: str, port: int) -> list[str]:
    """The code server, serving the project's code location over gRPC."""
    return [
        *("dagster", "code-server", "start", "-m", CODE_LOCATION_MODULE),
        *("--host", host, "--port", str(port), "--location-name", LOCATION_NAME),
    ]


def webserver_command(host: str, port: int, workspace: str) -> list[str]:
    """The webserver (UI and GraphQL), loading the code server through ``workspace``."""
    return ["dagster-webserver", "-h", host, "-p", str(port), "-w", workspace]


def daemon_command(workspace: str) -> list[str]:
    """The daemon (run queue, backfills, schedules, run monitoring), through ``workspace``."""
    return ["dagster-daemon", "run", "-w", workspace]


def read_yaml(path: Path) -> Any:
    """A deployment file parsed the way Dagster and docker compose parse it (safe YAML)."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def env_references(node: Any) -> set[str]:
    """Every variable a Dagster yaml reads through ``{env: NAME}``."""
    found: set[str] = set()
    if isinstance(node, dict):
        if set(node) == {"env"} and isinstance(node["env"], str):
            return {node["env"]}
        for value in node.values():
            found |= env_references(value)
    elif isinstance(node, list):
        for value in node:
            found |= env_references(value)
    return found


def _package_sources() -> Iterator[Path]:
    # The simulator, the demo and the CLI stand beside the code location; what they read is not
    # something a deployment sets.
    beside = {"simulator", "cli.py", "demo.py"}
    for path in sorted((PROJECT_ROOT / "diga_assets").rglob("*.py")):
        if not beside.intersection(path.relative_to(PROJECT_ROOT / "diga_assets").parts):
            yield path


def code_location_env_vars() -> set[str]:
    """Every ``DIGA_*`` variable the code location reads (each is a string literal in its code)."""
    names: set[str] = set()
    for path in _package_sources():
        names |= set(re.findall(r"[\"'](DIGA_[A-Z0-9_]+)[\"']", path.read_text(encoding="utf-8")))
    return names


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of deploy/Dockerfile, continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, "a continuation line ends the Dockerfile"
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in logical]
